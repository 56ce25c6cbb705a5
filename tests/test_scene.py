"""The script contract: deterministic, stratified parameter draws and clear errors for bad scenes."""

import pytest

from benchgen_dagster.scene import Part, Scene, Zone, sampler


def test_same_seed_draws_the_same_values() -> None:
    assert sampler(7).param("wall", nominal=100) == sampler(7).param("wall", nominal=100)


def test_eight_consecutive_seeds_cover_three_quarters_of_every_range() -> None:
    for name in ("wall_height", "bin_x", "radius", "gap"):
        values = [sampler(seed).param(name, nominal=100, spread=0.4) for seed in range(8)]
        assert min(values) < 60 + 80 / 8 and max(values) >= 140 - 80 / 8
        assert len(set(values)) == 8


def test_parameters_do_not_move_in_lockstep() -> None:
    a = [sampler(seed).param("a", nominal=1.0) for seed in range(8)]
    b = [sampler(seed).param("b", nominal=1.0) for seed in range(8)]
    assert sorted(range(8), key=a.__getitem__) != sorted(range(8), key=b.__getitem__)


def test_integer_and_choice_parameters_reach_every_value() -> None:
    assert {sampler(s).integer("n", nominal=3, low=1, high=4) for s in range(8)} == {1, 2, 3, 4}
    assert {sampler(s).choice("m", ["steel", "wood"]) for s in range(8)} == {"steel", "wood"}


def test_a_parameter_declared_twice_is_an_error() -> None:
    p = sampler(0)
    p.param("x", nominal=1.0)
    with pytest.raises(ValueError, match="declared twice"):
        p.param("x", nominal=1.0)


def test_a_scene_without_objectives_says_what_to_call() -> None:
    scene = Scene(workspace=Zone((0, 0, 0), (1, 1, 1)))
    with pytest.raises(ValueError, match=r"scene.objectives"):
        scene.spec()


def test_a_hinged_part_needs_an_axis_and_anchor() -> None:
    with pytest.raises(ValueError, match="needs an axis"):
        Part("gate", shape=None, role="hinged").spec()


def test_unknown_materials_list_the_known_ones() -> None:
    with pytest.raises(ValueError, match="known materials: abs, aluminium"):
        Part("x", shape=None, material="unobtainium").spec()
