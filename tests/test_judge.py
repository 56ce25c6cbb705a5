"""The trust boundary: only the judge's verdict counts, and the bracket really brackets.

Each test runs an attack a coder under pressure could learn, through the real builder and judge,
and asserts the verdict the judge computed: forged verdicts and renders, unseeded randomness, a
benchmark that creeps into its goal late with a "solution" that adds nothing.
"""

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest

from benchgen_dagster.models.reports import Check, CheckReport
from benchgen_dagster.models.settings import CheckSettings
from benchgen_dagster.worker.build_reader import BuildInputError, parse_ply
from benchgen_dagster.worker.builder import ply_bytes
from benchgen_dagster.worker.check import Checker
from tests.conftest import SCRIPTS, benchgen


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.sandbox
@pytest.mark.usefixtures("require_bubblewrap")
def test_forged_verdicts_and_renders_change_nothing(checker: Checker, tmp_path: Path) -> None:
    script = SCRIPTS / "forger.py"
    result = benchgen("check", str(script), "--seeds", "2", "--json")
    assert result.returncode == 1, result.stdout + result.stderr
    report = json.loads(result.stdout)
    failed = {f["check"] for f in report["failures"]}
    assert report["passed"] is False and {"zones_consistent", "non_trivial"} <= failed, failed
    assert all(r["message"] != "forged" for r in report["results"])
    # The planted rerun marker did not stop the determinism rebuild: the judge compared two builds.
    assert [r["passed"] for r in report["results"] if r["check"] == "deterministic"] == [True, True]
    # What gets shown (and promoted) is the judge's render, never the one the script wrote.
    _, written = checker.render(script, 0, tmp_path / "views", 160, 120, video=False)
    assert len(written) == 24
    view = (tmp_path / "views" / "view_az000_el35.png").read_bytes()
    assert view.startswith(b"\x89PNG") and view != load("forger").FORGED_PNG


@pytest.mark.sandbox
@pytest.mark.usefixtures("require_bubblewrap")
def test_unseeded_randomness_fails_determinism_between_fresh_interpreters(checker: Checker) -> None:
    report = checker.check(SCRIPTS / "unseeded.py", [0, 1], simulate=False)
    verdicts = [r for r in report.results if r.check == Check.DETERMINISTIC]
    assert len(verdicts) == 2 and not any(r.passed for r in verdicts)
    assert "freshly started interpreter" in verdicts[0].message


@pytest.mark.sandbox
@pytest.mark.usefixtures("require_bubblewrap")
def test_a_late_creep_into_the_goal_is_trivial_and_its_empty_solution_proves_nothing(tmp_path: Path) -> None:
    from benchgen_dagster.worker.compile import DecompositionCache
    from benchgen_dagster.worker.local import compile_scene
    from benchgen_dagster.worker.mjcf import load_compiled_model
    from benchgen_dagster.worker.simulate import simulate_scene

    settings = CheckSettings()
    # The attack is real: left alone for the simulation's own 2 s the plank is still out of the goal ...
    scene = load("creep").build(0)
    compiled = compile_scene(scene, tmp_path / "short", settings.geometry, DecompositionCache(None, None), 0.002)
    _, (_, short) = simulate_scene(load_compiled_model(compiled.mjcf_path), compiled.spec, 0, settings.simulation)
    assert short.passed, short.message
    # ... but the judge leaves it alone for the whole solvability time limit, and there it is in the goal.
    report = Checker(settings, home=tmp_path / "home").check(SCRIPTS / "creep.py", [0])
    (trivial,) = [r for r in report.results if r.check == Check.NON_TRIVIAL]
    assert not trivial.passed and "left alone for 4.0 s" in trivial.message, trivial.message
    assert not report.passed


@pytest.mark.sandbox
@pytest.mark.usefixtures("require_bubblewrap")
def test_each_broken_rule_of_a_solution_is_named_in_one_run(tmp_path: Path) -> None:
    expected = {
        0: "is not in the goal",
        1: "leaves the build zone",
        2: "max_unit_cost 5",
        3: "clash with the scene's parts: curb",
        4: "ZeroDivisionError",
        5: "non-empty list of Part",
        6: "built into the scene",
        7: "enters forbid zone 0",
        8: "not at rest",
        9: "not as the materials table does",
        10: "is not in the goal",
    }
    assert set(expected) == set(load("broken_solutions").BROKEN)
    settings = CheckSettings(determinism_reruns=0)
    report = Checker(settings, home=tmp_path / "home").check(SCRIPTS / "broken_solutions.py", list(range(12)))
    verdicts = {r.seed: r for r in report.results if r.check == Check.SOLVABLE}
    wrong = {s: v.message for s, v in verdicts.items() if s in expected and (v.passed or expected[s] not in v.message)}
    assert not wrong, wrong
    assert verdicts[11].passed, verdicts[11].message
    assert report.solvability == "failed"


def test_the_judge_reads_only_the_builders_own_mesh_layout() -> None:
    import numpy as np

    vertices = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]], float)
    faces = np.array([[0, 2, 1], [0, 1, 3], [0, 3, 2], [1, 2, 3]])
    data = ply_bytes(vertices, faces)
    v, f = parse_ply(data, "ok.ply")
    assert (v == vertices).all() and (f == faces).all()
    bad = {
        "truncated": data[:-3],
        "an index out of range": data[:-12] + (9).to_bytes(4, "little") + data[-8:],
        "a coordinate that is not finite": data.replace(np.float64(1.0).tobytes(), np.float64(np.inf).tobytes(), 1),
        "another layout": data.replace(b"property double x", b"property float x"),
    }
    for case, blob in bad.items():
        with pytest.raises(BuildInputError):
            parse_ply(blob, case)


_DYING_JUDGE = """
import os, sys
from pathlib import Path
from benchgen_dagster.worker import judge

real = judge.judge_seed


def dying(scene, out, job, cache):
    # Seed 1's data crashes its judge process every time; seed 2's process is killed the first time only,
    # seed 3's every time (as the memory cap or the OOM killer would).
    marker = Path(sys.argv[2]) / f"died-{scene.seed}"
    if scene.seed == 1:
        os.kill(os.getpid(), 6)
    if scene.seed == 3 or (scene.seed == 2 and not marker.exists()):
        marker.touch()
        (out / "leftover").write_text("from the attempt that died")
        os.kill(os.getpid(), 9)
    return real(scene, out, job, cache)


judge.judge_seed = dying
print(judge.judge(judge.JudgeJob.model_validate_json(sys.argv[1])).model_dump_json())
"""


def test_a_seed_that_takes_its_judge_process_down_costs_that_seed_only(tmp_path: Path) -> None:
    """Seeds are judged side by side, each in a process of its own: one that dies is judged once more from
    a clean folder, a second crash is its verdict, a process killed outright leaves the seed to the
    parent, and the other seeds' verdicts are what a lone judge gives."""
    import subprocess
    import sys

    from benchgen_dagster.models.reports import SeedOutcome
    from benchgen_dagster.worker.builder import BuildJob
    from benchgen_dagster.worker.judge import JudgeJob

    build = tmp_path / "build"
    build.mkdir()
    job = BuildJob(script=str(SCRIPTS / "good_box.py"), seeds=[0, 1, 2, 3], with_solution=False)
    command = [sys.executable, "-m", "benchgen_dagster.worker.builder", job.model_dump_json()]
    subprocess.run(command, cwd=build, check=True, timeout=300)

    def judged(workers: int, dying: bool) -> dict[int, SeedOutcome]:
        folder = tmp_path / f"judge-{workers}-{dying}"
        folder.mkdir()
        request = JudgeJob(build_dir=str(build), seeds=[0, 1, 2, 3], simulate=False, workers=workers)
        program = ["-c", _DYING_JUDGE] if dying else ["-m", "benchgen_dagster.worker.judge"]
        subprocess.run([sys.executable, *program, request.model_dump_json(), str(folder)], cwd=folder, check=True)
        seeds = folder / "seeds"
        assert not dying or not (seeds / "2" / "leftover").exists()
        return {
            int(s.name): SeedOutcome.model_validate_json((s / "verdict.json").read_text())
            for s in seeds.iterdir()
            if (s / "verdict.json").is_file()
        }

    alone, side_by_side = judged(1, dying=False), judged(3, dying=True)
    assert side_by_side[1].status != "judged"
    assert "died on this seed's data twice (signal 6)" in side_by_side[1].results[0].message
    assert 3 not in side_by_side  # killed twice: no verdict on its data
    for seed in (0, 2):
        assert side_by_side[seed].model_dump(exclude={"wall_s"}) == alone[seed].model_dump(exclude={"wall_s"})
        assert all(r.passed for r in alone[seed].results)


@pytest.mark.sandbox
@pytest.mark.usefixtures("require_bubblewrap")
def test_a_seed_is_judged_once_whichever_script_built_its_bytes(checker: Checker, tmp_path: Path) -> None:
    source = (SCRIPTS / "good_box.py").read_text()
    first, second = tmp_path / "first.py", tmp_path / "second.py"
    first.write_text(source + "\n# one script\n")
    second.write_text(source + "\n# another script that builds the same bytes\n")
    before = checker.check(first, [0, 1], simulate=False)
    again = checker.check(second, [0, 1], simulate=False)
    assert before.passed and again.passed and not again.cached
    assert again.sandbox["judge"] == "2 of 2 seeds reused"

    def verdicts(report: CheckReport) -> list[tuple[str, int | None, bool, str]]:
        return [(r.check.value, r.seed, r.passed, r.message) for r in report.results]

    assert verdicts(again) == verdicts(before)
    # A setting the judge applies is part of the key: new work, not the old verdict.
    checker.settings.geometry.min_solid_volume_mm3 += 1.0
    changed = checker.check(second, [0, 1], simulate=False)
    assert changed.sandbox["judge"].endswith("0 of 2 seeds reused") and changed.passed


@pytest.mark.sandbox
@pytest.mark.usefixtures("require_bubblewrap")
def test_seeds_lost_together_are_judged_again_one_at_a_time(
    checker: Checker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A judge that dies as a whole (a timeout, the memory cap) with seeds side by side blames none of
    them: they are judged again one at a time, and every verdict is the data's own."""
    from benchgen_dagster.worker.seed_runs import SeedRuns

    real = SeedRuns._judge_run
    asked: list[int] = []

    def dies_once(self: SeedRuns, run, job, cold):  # type: ignore[no-untyped-def]
        asked.append(job.workers)
        if len(asked) == 1:
            return real(self, run, job.model_copy(update={"seeds": []}), cold)  # came back with no verdicts
        return real(self, run, job, cold)

    monkeypatch.setattr(SeedRuns, "_judge_run", dies_once)
    checker.settings.sandbox.judge_workers = 2
    script = tmp_path / "box.py"
    script.write_text((SCRIPTS / "good_box.py").read_text() + "\n# lost together\n")
    report = checker.check(script, [9101, 9102, 9103], simulate=False)
    assert asked == [2, 1] and report.passed, report.failures
