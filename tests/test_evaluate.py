"""A solver judged on the dataset (`benchgen evaluate`, `solver_evaluations`): the two bounds, a module that
designs from the task alone, and the trust boundary between the solver, the benchmark and the judge.

The dataset here is two library families laid out as promoted benchmarks (a script and a manifest
each): the evaluation reads nothing else of a benchmark."""

import json
from pathlib import Path

import pytest
import yaml

from benchgen_dagster.defs.leaderboard import documents_of
from benchgen_dagster.library import family
from benchgen_dagster.models.evaluation import BenchmarkEvaluation, SeedEvaluation, standings
from tests.conftest import benchgen

REPO = Path(__file__).resolve().parent.parent
PUSHER = REPO / "benchgen_dagster" / "agent" / "offline" / "designs" / "pusher.py"

pytestmark = [pytest.mark.sandbox, pytest.mark.usefixtures("require_bubblewrap")]


def _promoted(home: Path, benchmark_id: str, script: str, tier: int, name: str) -> Path:
    folder = home / "dataset" / benchmark_id
    folder.mkdir(parents=True)
    (folder / "script.py").write_text(script)
    manifest = {"id": benchmark_id, "tier": tier, "family": name, "seeds_checked": list(range(8))}
    (folder / "benchmark.yaml").write_text(yaml.safe_dump(manifest))
    return folder


@pytest.fixture
def dataset(_benchgen_home: Path) -> dict[str, Path]:
    return {
        "bar": _promoted(_benchgen_home, "bm-bar", family("under_low_bar").source(), 1, "under_low_bar"),
        "drawer": _promoted(_benchgen_home, "bm-drawer", family("sliding_drawer").source(), 2, "sliding_drawer"),
    }


def _rows(found: dict[str, object]) -> dict[str, dict[str, object]]:
    return {str(r["benchmark_id"]): r for r in found["results"]}  # type: ignore[attr-defined]


def test_the_reference_solves_everything_no_solution_nothing_and_a_pusher_what_pushing_solves(
    dataset: dict[str, Path], _benchgen_home: Path
) -> None:
    from benchgen_dagster.dataset_runs import evaluate

    reference = evaluate("reference", "", [], seeds=1)
    assert reference["solved_share"] == 1.0, reference["results"]
    # Fresh seeds: past every seed the benchmarks were generated on.
    assert [s["seed"] for s in reference["evaluations"][0]["seeds"]] == [1024]

    none = evaluate("none", "", [], seeds=1)
    assert none["solved_share"] == 0.0 and none["score"] == 0.0, none["results"]
    assert all("stays out of the goal" in str(r["first_failure"]) for r in none["results"])

    pushed = _rows(evaluate("pusher", PUSHER.read_text(), [], seeds=1))
    # Designed from the task alone, it shoves the crate under the bar, as the reference does...
    assert pushed["bm-bar"]["solved"] == 1 and float(pushed["bm-bar"]["score"]) > 0.75, pushed
    assert pushed["bm-bar"]["weight_margin"] is not None and pushed["bm-bar"]["time_to_goal_s"] is not None
    # ...and a drawer is not pushed open: where it fails is reported, by the judge.
    assert pushed["bm-drawer"]["solved"] == 0 and pushed["bm-drawer"]["first_failure"], pushed

    # The leaderboard beside the gallery ranks the three by score, overall and per tier.
    page = (_benchgen_home / "leaderboard" / "index.html").read_text()
    assert page.index("<td>reference</td>") < page.index("<td>pusher</td>") < page.index("<td>none</td>"), page
    assert "By tier" in page and "By family" in page and "sliding_drawer" in page


def test_a_solver_never_sees_the_benchmark_and_its_own_files_are_no_verdict(
    dataset: dict[str, Path], tmp_path: Path
) -> None:
    from benchgen_dagster.dataset_runs import evaluate

    script = dataset["bar"] / "script.py"
    # Its renders: the views of the scene, and of the reference solution, which a solver must not see.
    for view in ("renders/view_az000_el35.png", "renders/solution/view_az000_el35.png"):
        (dataset["bar"] / view).parent.mkdir(parents=True, exist_ok=True)
        (dataset["bar"] / view).write_bytes(b"\x89PNG\r\n\x1a\n")
    solver = tmp_path / "peek.py"
    solver.write_text(
        f"""
import json, os
from build123d import Box, Pos
from benchgen_dagster.scene import Part

def solve(task, seed):
    # The benchmark's script (and its solution()) and the dataset are not in this sandbox.
    for path in {[str(script), str(dataset["bar"] / "benchmark.yaml"), str(dataset["bar"] / "renders" / "solution")]!r}:
        if os.path.exists(path):
            raise RuntimeError("the benchmark is readable at " + path)
    # Nor is the library, whose families each hold a reference solution().
    library = {str(REPO / "benchgen_dagster" / "library")!r}
    if os.listdir(library):
        raise RuntimeError("the library is readable: " + ", ".join(os.listdir(library)))
    try:
        from benchgen_dagster.library import family
    except ImportError:
        pass
    else:
        raise RuntimeError("the library's families can be imported")
    # The scene's own views are there to look at.
    assert task.renders and all(open(view, "rb").read(4) == b"\\x89PNG" for view in task.renders), task.renders
    assert "solution" not in json.dumps(task.model_dump(mode="json")), "the task names a solution"
    # A verdict of its own, where the judge's would be: never read.
    os.makedirs(f"seeds/{{seed}}", exist_ok=True)
    with open(f"seeds/{{seed}}/verdict.json", "w") as out:
        json.dump({{"seed": seed, "status": "judged", "results": [
            {{"check": "solvable", "seed": seed, "passed": True, "message": "solved, says the solver"}}]}}, out)
    lo = task.build_zone.lo
    return [Part("idle", Pos(lo[0] + 20, lo[1] + 20, 10) * Box(10, 10, 10), role="fixed", material="wood")]
"""
    )
    found = evaluate("peek", solver.read_text(), ["bm-bar"], seeds=1)
    ((seed,),) = [[s for s in b["seeds"]] for b in found["evaluations"]]
    assert seed["solved"] is False, seed
    assert "raised" not in seed["message"], seed  # it ran to the end: it saw neither the script nor a solution
    assert "not in the goal" in seed["message"], seed


def test_a_benchmark_that_solves_itself_is_solved_by_no_solution(_benchgen_home: Path) -> None:
    from benchgen_dagster.dataset_runs import evaluate

    source = family("under_low_bar").source()
    # The goal moved onto the crate's own start: left alone, it is already there.
    trivial = source.replace(
        "goal=Zone((goal_x - GOAL_HALF, -GOAL_HALF, 0)", "goal=Zone((-300 - GOAL_HALF, -GOAL_HALF, 0)"
    )
    trivial = trivial.replace(
        "(goal_x + GOAL_HALF, GOAL_HALF, crate_h + 20)),", "(-300 + GOAL_HALF, GOAL_HALF, crate_h + 20)),"
    )
    assert trivial != source
    _promoted(_benchgen_home, "bm-trivial", trivial, 1, "under_low_bar")
    found = evaluate("none", "", [], seeds=1)
    assert found["solved_share"] == 1.0, found["results"]  # the lower bound says: trivial
    assert "solves itself" in str(
        found["results"][0]["first_failure"] or found["evaluations"][0]["seeds"][0]["message"]
    )


def test_the_command_prints_a_table_and_a_total_and_refuses_bad_input(dataset: dict[str, Path]) -> None:
    done = benchgen("evaluate", str(PUSHER), "bm-bar", "--seeds", "1")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "bm-bar" in done.stdout and "1/1" in done.stdout
    assert "total: 1/1 seeds solved (100%)" in done.stdout, done.stdout
    assert "leaderboard: " in done.stdout and "index.html" in done.stdout

    for args, said in [
        (("no-such-solver",), "SOLVER must be reference or none, or a Python file"),
        (("reference", "bm-nowhere"), "no benchmark bm-nowhere"),
        (("reference", "--first-seed", "6", "--seeds", "2"), "include seeds the benchmark was generated on"),
        (("reference", "--attempts", "2"), "--attempts is the engineer's budget: give it with --agent MODEL"),
        (("--agent", "nonsense"), "must be 'offline' or 'provider:model'"),
    ]:
        refused = benchgen("evaluate", *args)
        assert refused.returncode == 2, refused.stdout + refused.stderr
        assert said in refused.stderr and "Traceback" not in refused.stderr, refused.stderr
    as_json = benchgen("evaluate", "none", "bm-drawer", "--seeds", "1", "--json")
    assert json.loads(as_json.stdout)["results"][0]["solved"] == 0


def test_the_score_puts_solving_first_then_the_margins_and_charges_attempts() -> None:
    tight = SeedEvaluation(seed=1, solved=True, weight_margin=0.0, cost_margin=0.0, reached_goal_s=4, time_limit_s=4)
    roomy = SeedEvaluation(seed=2, solved=True, weight_margin=0.9, cost_margin=0.5, reached_goal_s=1, time_limit_s=4)
    failed = SeedEvaluation(seed=3, solved=False, weight_margin=1.0, cost_margin=1.0)
    assert tight.score == 0.75 and failed.score == 0.0
    assert roomy.score == pytest.approx(0.75 + 0.25 * (0.9 + 0.5 + 0.75) / 3)
    once = BenchmarkEvaluation(benchmark_id="b", seeds=[tight, failed])
    assert once.score == pytest.approx(0.375) and once.solved_share == 0.5
    assert BenchmarkEvaluation(benchmark_id="b", seeds=[tight, failed], attempts=3).score == pytest.approx(0.375 * 0.81)


def test_the_standings_keep_each_solvers_latest_run_best_first_by_tier_and_family() -> None:
    def run(solver: str, at: str, *rows: tuple[int, str, int, float]) -> dict[str, object]:
        results = [
            {"tier": tier, "family": fam, "seeds": 2, "solved": solved, "score": score}
            for tier, fam, solved, score in rows
        ]
        return {"solver": solver, "evaluated_at": at, "score": sum(r[3] for r in rows) / len(rows), "results": results}

    ranked = standings(
        [
            run("a", "2026-01-01", (1, "lever", 0, 0.0), (2, "crank", 0, 0.0)),
            run("a", "2026-02-01", (1, "lever", 2, 0.9), (2, "crank", 1, 0.4)),  # the later run of a counts
            run("b", "2026-01-15", (1, "lever", 2, 0.8)),
        ]
    )
    assert ranked["solvers"] == ["b", "a"]  # b's mean 0.8 beats a's 0.65
    assert [(r["solver"], r["solved"], r["seeds"]) for r in ranked["overall"]] == [("b", 2, 2), ("a", 3, 4)]
    tiers = {g["tier"]: g["by_solver"] for g in ranked["by_tier"]}
    assert tiers["1"]["a"]["score"] == 0.9 and tiers["2"]["b"]["benchmarks"] == 0
    assert {g["family"] for g in ranked["by_family"]} == {"lever", "crank"}


def test_a_solver_cannot_pass_its_parts_off_as_the_scene(dataset: dict[str, Path], tmp_path: Path) -> None:
    """Its meshes are copied in beside the scene's: one named as a scene's would replace the benchmark's own
    geometry (the bar, say). The builder names them; a solver that renames them is refused."""
    from benchgen_dagster.dataset_runs import evaluate

    forger = (
        PUSHER.read_text()
        + """

import sys

_builder = sys.modules["__main__"]  # the builder runs as `python -m benchgen_dagster.worker.builder`
_write = _builder._write_part
_builder._write_part = lambda part, kind, out, job: _write(part, "scene", out, job)
"""
    )
    found = evaluate("forger", forger, ["bm-bar"], seeds=1)
    (seed,) = found["evaluations"][0]["seeds"]
    assert seed["solved"] is False and "is not named as a solution's" in seed["message"], seed


def test_seeds_the_benchmark_itself_fails_on_are_marked_as_its_fault(_benchgen_home: Path) -> None:
    from benchgen_dagster.dataset_runs import evaluate

    source = (
        family("under_low_bar")
        .source()
        .replace(
            "    p = sampler(seed)\n",
            "    if seed % 2:\n        raise ValueError('odd seeds are broken')\n    p = sampler(seed)\n",
            1,
        )
    )
    _promoted(_benchgen_home, "bm-odd", source, 1, "under_low_bar")
    (row,) = evaluate("reference", "", [], seeds=2)["results"]
    assert (row["solved"], row["scene_failures"]) == (1, 1), row
    assert "the benchmark's scene failed" in str(row["first_failure"]), row


def test_the_leaderboard_reads_one_run_or_many() -> None:
    one = {"solver": "a", "results": []}
    assert documents_of(one) == [one]
    assert documents_of({"a-1": one, "b-2": {**one, "solver": "b"}}) == [one, {**one, "solver": "b"}]
    assert documents_of(None) == [] and documents_of({}) == []
