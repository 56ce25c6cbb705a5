"""Every family declares its parameters as data (library/parameters.py), its source draws them exactly as
declared, and a script with other nominal values is written from those declarations."""

from dataclasses import replace
from pathlib import Path

import pytest

from benchgen_dagster.library import Family, families
from benchgen_dagster.library import family as library_family
from benchgen_dagster.library.parameters import PARAMETERS


def test_every_family_and_nothing_else_declares_parameters() -> None:
    assert set(PARAMETERS) == {f.name for f in families()}
    for found in families():
        names = [p.name for p in found.parameters()]
        assert names and len(set(names)) == len(names), found.name
        for parameter in found.parameters():
            assert parameter.unit == "mm" and parameter.kind in ("size", "distance"), parameter
            assert parameter.nominal > 0 and 0 < parameter.spread < 1, parameter
            low, high = parameter.safe
            assert 0 < low <= 1 <= high, parameter


@pytest.mark.parametrize("found", families(), ids=lambda f: f.name)
def test_the_source_draws_each_parameter_once_as_declared_and_in_order(found: Family) -> None:
    source = found.source()
    draws = [source.index(p.draw()) for p in found.parameters() if source.count(p.draw()) == 1]
    assert len(draws) == len(found.parameters()), f"{found.name} does not draw every parameter once as declared"
    assert draws == sorted(draws), f"{found.name} declares its parameters in another order than it draws them"
    assert source.count("p.param(") == len(draws), f"{found.name} draws parameters it does not declare"


@pytest.mark.parametrize("found", families(), ids=lambda f: f.name)
def test_what_build_draws_is_what_is_declared(found: Family) -> None:
    drawn = found.module().build(0).spec().params
    assert [r.name for r in drawn] == [p.name for p in found.parameters()]
    for record, parameter in zip(drawn, found.parameters(), strict=True):
        assert record.nominal == parameter.nominal
        assert (record.low, record.high) == pytest.approx(
            (parameter.nominal * (1 - parameter.spread), parameter.nominal * (1 + parameter.spread))
        )


def test_a_script_with_other_nominals_changes_those_draws_only() -> None:
    crank = library_family("crank")
    assert crank.script({}) == crank.source()
    script = crank.script({"cam_offset": 22.5, "wheel_radius": 60.0})
    changed = [(a, b) for a, b in zip(crank.source().splitlines(), script.splitlines(), strict=True) if a != b]
    assert changed == [
        (
            '    offset = p.param("cam_offset", nominal=20, spread=0.4)',
            '    offset = p.param("cam_offset", nominal=22.5, spread=0.4)',
        )
    ]
    with pytest.raises(ValueError, match=r"no parameters \['nope'\]"):
        crank.script({"nope": 1.0})
    with pytest.raises(ValueError, match="not a finite number"):
        crank.script({"cam_offset": float("nan")})


def test_a_source_that_does_not_draw_as_declared_is_refused(tmp_path: Path) -> None:
    crank = library_family("crank")
    drifted = tmp_path / "crank.py"
    drifted.write_text(crank.source().replace("nominal=20, spread=0.4", "nominal=25, spread=0.4"))
    with pytest.raises(ValueError, match="0 times, not once"):
        replace(crank, path=drifted).script({"cam_offset": 22.5})
