"""The engineer agent as a solver (`benchgen evaluate --agent MODEL`): it designs each benchmark's solution.py from
the task alone, checks it within a budget of attempts, and is judged as any solver is.

The dataset is library families laid out as promoted benchmarks (a script and a manifest each)."""

import json
import os
from pathlib import Path

import pytest
import yaml

from benchgen_dagster.agent.configuration import SessionConfig
from benchgen_dagster.agent.engineer import run_engineer
from benchgen_dagster.agent.offline.designs import design_source
from benchgen_dagster.library import family
from benchgen_dagster.models.evaluation import BenchmarkEvaluation, SeedEvaluation, Task
from benchgen_dagster.models.settings import CheckSettings
from tests.conftest import benchgen
from tests.provider_servers import Request, call, serve
from tests.scripted import ScriptedChatModel, python, write
from tests.scripted import call as scripted_call

pytestmark = [pytest.mark.sandbox, pytest.mark.usefixtures("require_bubblewrap")]


def _promoted(home: Path, name: str, difficulty: float = 50.0) -> Path:
    spec = family(name)
    folder = home / "dataset" / f"bm-{name.replace('_', '-')}"
    folder.mkdir(parents=True)
    (folder / "script.py").write_text(spec.source())
    manifest = {"id": folder.name, "tier": spec.tier, "family": name, "seeds_checked": list(range(8))}
    manifest["difficulty"] = {"score": difficulty, "features": {}, "seeds": 8}
    (folder / "benchmark.yaml").write_text(yaml.safe_dump(manifest))
    return folder


def _rows(found: dict[str, object]) -> dict[str, dict[str, object]]:
    return {str(r["benchmark_id"]): r for r in found["results"]}  # type: ignore[attr-defined]


def test_the_offline_engineer_designs_from_the_task_and_fails_where_its_designs_do_not_fit(
    _benchgen_home: Path,
) -> None:
    from benchgen_dagster.dataset_runs import evaluate

    for name, score in (("under_low_bar", 20.0), ("crank", 80.0)):
        _promoted(_benchgen_home, name, score)
    found = evaluate("engineer:offline", "", [], seeds=1, agent="offline", attempts=2)
    rows = _rows(found)
    # A push under the bar: solved by its first design (make bench-eval shows the lever press and the ramp too).
    assert rows["bm-under-low-bar"]["solved"] == 1 and rows["bm-under-low-bar"]["attempts"] == 1, rows
    # A crank to turn fits neither design it tries (a press on the crank's arm, a ramp up to the goal): it
    # spends its attempts, the judge says why, and the score counts both.
    crank = rows["bm-crank"]
    assert crank["solved"] == 0 and crank["attempts"] == 2 and crank["first_failure"], crank
    evaluations = {e["benchmark_id"]: e for e in found["evaluations"]}
    assert evaluations["bm-crank"]["attempt_solved"] == [0, 0]
    assert evaluations["bm-under-low-bar"]["attempt_solved"] == [1]

    # Its workspace: the task, the scene's views and the solver contract; never the script, never the library.
    workspace = _benchgen_home / "engineer" / found["partition"] / "bm-under-low-bar"
    held = sorted(str(p.relative_to(workspace)) for p in workspace.rglob("*") if p.is_file())
    assert "tasks/1024.json" in held and "docs/solver.md" in held and "solution.py" in held, held
    assert not [p for p in held if p.endswith("script.py") or p.startswith("library")], held
    task = Task.model_validate_json((workspace / "tasks" / "1024.json").read_text())
    assert task.moved_object == "crate" and "solution" not in (workspace / "tasks" / "1024.json").read_text()
    assert (workspace / "solution.py").read_text() == design_source("pusher")
    # The judge's verdict on each attempt is in the journal; what the engineer's own program printed is not.
    cranked = _benchgen_home / "engineer" / found["partition"] / "bm-crank"
    journal = (cranked / "journal.md").read_text()
    assert "check_design, attempt 1" in journal and "check_design, attempt 2" in journal, journal
    # Neither solved anything: it leaves its first design, judged again at no cost.
    assert (cranked / "solution.py").read_text() == design_source("lever") and "attempt 3" not in journal
    assert "part(s) for seed" not in journal
    # The leaderboard ranks it beside the other solvers.
    assert "<td>engineer:offline</td>" in (_benchgen_home / "leaderboard" / "index.html").read_text()

    # Its solve rate over seeds and attempts is each benchmark's empirical difficulty, beside the feature score in
    # the manifest; the quality report ranks the two against each other.
    manifest = yaml.safe_load((_benchgen_home / "dataset" / "bm-crank" / "benchmark.yaml").read_text())
    assert manifest["difficulty"]["score"] == 80.0
    assert manifest["empirical_difficulty"] == {
        "score": 100.0, "solve_rate": 0.0, "trials": 2, "solvers": ["engineer:offline"]
    }  # fmt: skip
    quality = json.loads((_benchgen_home / "gallery" / "quality" / "quality.json").read_text())
    assert quality["calibration"]["benchmarks"] == 2 and quality["calibration"]["spearman"] is None  # two rank nothing
    assert quality["calibration"]["outliers"] == []


def _unsolved(source: bytes) -> BenchmarkEvaluation:
    message = f"judged {len(source)} bytes"
    return BenchmarkEvaluation(benchmark_id="bm-x", seeds=[SeedEvaluation(seed=1024, solved=False, message=message)])


def test_the_engineers_execute_cannot_read_the_library_and_its_budget_of_attempts_holds(tmp_path: Path) -> None:
    from benchgen_dagster.worker.seed_runs import LIBRARY

    task_source = Path(__file__).parent / "scripts"  # anything outside the workspace: the host's files
    judged: list[bytes] = []

    def judge(source: bytes) -> BenchmarkEvaluation:
        judged.append(source)
        return _unsolved(source)

    looks = python(
        "import os, benchgen_dagster as b; "
        "print('library', sorted(os.listdir(os.path.join(os.path.dirname(b.__file__), 'library')))); "
        f"print('host', os.path.exists({str(task_source)!r}))"
    )
    first = "def solve(task, seed):\n    return []\n"
    chat = ScriptedChatModel(
        script=[
            scripted_call("execute", command=looks),
            write("/workspace/solution.py", first),
            scripted_call("check_design"),
            scripted_call("check_design"),  # the same text: no attempt spent
            write("/workspace/solution.py", "def solve(task, seed):\n    return [] \n"),
            scripted_call("check_design"),  # a new text, over the budget of one: refused
            write("/workspace/solution.py", "def solve(task, seed):\n    return []  # the last word\n"),
            "done",
        ]
    )
    tasks = {1024: _a_task()}
    config = SessionConfig(prompt="solve bm-x", workspace=tmp_path / "ws", settings=CheckSettings())
    run = run_engineer(tasks, [], judge, config, benchmark_id="bm-x", home=tmp_path / "home", attempts=1, chat=chat)
    assert len(judged) == 1, judged  # one text judged: neither the repeat, the refused one nor the last word
    assert run.evaluation.attempts == 1 and run.evaluation.seeds[0].message == f"judged {len(first)} bytes"
    assert "check_design" in chat.tools_offered[0] and "check_script" not in chat.tools_offered[0]
    assert chat.system_prompts and "You are the engineer of benchgen" in chat.system_prompts[0]
    journal = (tmp_path / "ws" / "journal.md").read_text()
    assert journal.count("check_design, attempt") == 1, journal
    # What execute's program saw: an empty library, and none of the host's files.
    logs = sorted((tmp_path / "home" / "sessions").rglob("stdout*"))
    seen = "".join(p.read_text(errors="replace") for p in logs)
    assert "library []" in seen and "host False" in seen, seen
    assert any(LIBRARY.glob("*.py"))  # the library is there on the host: hidden, not missing


def _a_task() -> Task:
    from benchgen_dagster.models.materials import material_named
    from benchgen_dagster.models.scene import PartSpec, ZoneSpec

    zone = ZoneSpec(lo=(0.0, 0.0, 0.0), hi=(10.0, 10.0, 10.0))
    crate = PartSpec(name="crate", role="free", material=material_named("abs"), rgba=(1.0, 1.0, 1.0, 1.0))
    part = {"spec": crate, "bounds_mm": ((0.0, 0.0, 0.0), (1.0, 1.0, 1.0)), "mass_g": 1.0}
    return Task.model_validate(
        {"benchmark_id": "bm-x", "seed": 1024, "scale": 1.0, "moved_object": "crate", "parts": [part],
         "workspace": zone, "goal_zone": zone, "build_zone": zone}
    )  # fmt: skip


def _engineer_with_a_pusher(request: Request) -> object:
    """A provider-side engineer: reads its task, writes a pusher, checks it, and stops when the judge agrees."""
    if request.turn == 0:
        return call("read_file", file_path="/workspace/tasks/1024.json")
    last = request.last_result
    if last is not None and last.tool_name == "read_file":
        return call("write_file", file_path="/workspace/solution.py", content=design_source("pusher"))
    if last is not None and last.tool_name == "write_file":
        return call("check_design")
    return f"checked: {last.text if last else ''}"


@pytest.mark.enable_socket
@pytest.mark.allow_hosts(["127.0.0.1"])
def test_the_engineer_with_a_real_provider_is_judged_on_what_it_wrote(tmp_path: Path) -> None:
    home = tmp_path / "home"
    _promoted(home, "under_low_bar")
    with serve(_engineer_with_a_pusher) as server:
        done = benchgen(
            "evaluate", "--agent", "openai:gpt-4o-mini", "--seeds", "1", "--attempts", "2", "--json",
            env={**os.environ, **server.env("openai"), "BENCHGEN_HOME": str(home)},
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        found = json.loads(done.stdout)
        engineer = [e for e in server.requests if e.role == "engineer"]
        assert len(engineer) == 4, [e.request.turn for e in engineer]
        assert "check_design" in engineer[0].request.tools and "check_script" not in engineer[0].request.tools
        checked = engineer[-1].request.results_of("check_design")[-1].text
    assert found["solver"] == "engineer:openai:gpt-4o-mini"
    row = found["results"][0]
    assert row["solved"] == 1 and row["attempts"] == 1, row
    assert json.loads(checked)["solved"] == 1, checked
