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


def test_the_offline_engineer_designs_from_the_task_and_its_solve_rate_calibrates_the_difficulty(
    _benchgen_home: Path,
) -> None:
    from benchgen_dagster.dataset_runs import evaluate

    _promoted(_benchgen_home, "under_low_bar", 20.0)
    found = evaluate("engineer:offline", "", [], seeds=1, agent="offline", attempts=2)
    rows = _rows(found)
    # A push under the bar: solved by its first design (make bench-eval runs every family: the lever press and
    # the ramp solve others, and it reports where all three fail; the policy's order and its fall-backs are
    # test_the_offline_engineer_tries_its_designs_in_order_and_leaves_the_best).
    assert rows["bm-under-low-bar"]["solved"] == 1 and rows["bm-under-low-bar"]["attempts"] == 1, rows
    evaluations = {e["benchmark_id"]: e for e in found["evaluations"]}
    assert evaluations["bm-under-low-bar"]["attempt_solved"] == [1]

    # Its workspace: the task, the scene's views and the solver contract; never the script, never the library.
    workspace = _benchgen_home / "engineer" / found["partition"] / "bm-under-low-bar"
    held = sorted(str(p.relative_to(workspace)) for p in workspace.rglob("*") if p.is_file())
    assert "tasks/1024.json" in held and "docs/solver.md" in held and "solution.py" in held, held
    assert not [p for p in held if p.endswith("script.py") or p.startswith("library")], held
    task = Task.model_validate_json((workspace / "tasks" / "1024.json").read_text())
    assert task.moved_object == "crate" and "solution" not in (workspace / "tasks" / "1024.json").read_text()
    assert (workspace / "solution.py").read_text() == design_source("pusher")
    # The judge's verdict on its attempt is in the journal.
    journal = (workspace / "journal.md").read_text()
    assert "check_design, attempt 1" in journal and "1/1 seeds solved" in journal, journal
    # The leaderboard ranks it beside the other solvers.
    assert "<td>engineer:offline</td>" in (_benchgen_home / "leaderboard" / "index.html").read_text()

    # Its solve rate over seeds and attempts is each benchmark's empirical difficulty, beside the feature score in
    # the manifest; the quality report ranks the two against each other.
    manifest = yaml.safe_load((_benchgen_home / "dataset" / "bm-under-low-bar" / "benchmark.yaml").read_text())
    assert manifest["difficulty"]["score"] == 20.0
    assert manifest["empirical_difficulty"] == {
        "score": 0.0, "solve_rate": 1.0, "trials": 1, "solvers": ["engineer:offline"]
    }  # fmt: skip
    quality = json.loads((_benchgen_home / "gallery" / "quality" / "quality.json").read_text())
    assert quality["calibration"]["benchmarks"] == 1 and quality["calibration"]["spearman"] is None  # one ranks nothing


def _checked(solved: int, left: int) -> str:
    return json.dumps({"solved": solved, "seeds": 2, "attempts_left": left, "findings": [], "score": solved / 2})


def test_the_offline_engineer_tries_its_designs_in_order_and_leaves_the_best() -> None:
    from benchgen_dagster.agent.offline.engineer import design_order, engineer_step

    task = _a_task(on_a_hinge=True)
    # The object rests on a horizontal hinge and the goal is above it and off to the side: all three fit.
    assert design_order(task) == ["lever", "ramp", "pusher"]
    path = "/workspace/tasks/1024.json"
    reads = {path: task.model_dump_json()}
    conversation = "BENCHMARK: bm-x (tier 2, a lever)\n\nSEEDS: 1024, 1025\n\nATTEMPTS: 3"
    called: list[str] = []
    results: list[tuple[str, str]] = []

    def step(answer: str | None = None) -> object:
        message = engineer_step(conversation, called, results, {} if not called else reads, len(called))
        for tool_call in message.tool_calls:
            called.append(tool_call["name"])
            if tool_call["name"] == "check_design":
                results.append(("check_design", answer or ""))
        return message

    assert step().tool_calls[0]["args"] == {"file_path": path, "limit": 5000}
    designs = []
    for answer in (_checked(0, 2), _checked(1, 1), _checked(0, 0)):  # lever 0/2, ramp 1/2, pusher 0/2
        written = step()
        designs.append(written.tool_calls[0]["args"]["content"])
        assert step(answer).tool_calls[0]["name"] == "check_design"
    assert designs == [design_source(d) for d in ("lever", "ramp", "pusher")]
    # Out of attempts: the ramp solved most, so it is written back (judged again, it costs no attempt).
    back = step()
    assert back.tool_calls[0]["args"]["content"] == design_source("ramp")
    final = step()
    assert not final.tool_calls and "BEST EFFORT: ramp" in str(final.content), final

    # A design that solves every seed ends the turn at once.
    called.clear(), results.clear()
    step(), step()
    step(_checked(2, 2))
    assert "SOLVED: lever" in str(step().content)


def _unsolved(source: bytes) -> BenchmarkEvaluation:
    message = f"judged {len(source)} bytes"
    return BenchmarkEvaluation(benchmark_id="bm-x", seeds=[SeedEvaluation(seed=1024, solved=False, message=message)])


def test_the_engineers_execute_cannot_read_the_library_and_its_budget_of_attempts_holds(tmp_path: Path) -> None:
    from benchgen_dagster.worker.seed_runs import LIBRARY

    # A benchmark's script where the dataset keeps it, under the home: not in the engineer's sandbox.
    script = tmp_path / "home" / "dataset" / "bm-x" / "script.py"
    script.parent.mkdir(parents=True)
    script.write_text(family("under_low_bar").source())
    judged: list[bytes] = []

    def judge(source: bytes) -> BenchmarkEvaluation:
        judged.append(source)
        return _unsolved(source)

    looks = python(
        "import os, benchgen_dagster as b; "
        "print('library', sorted(os.listdir(os.path.join(os.path.dirname(b.__file__), 'library')))); "
        f"print('host', os.path.exists({str(script)!r}))"
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
    home = tmp_path / "home"
    run = run_engineer(tasks, [], judge, config, benchmark_id="bm-x", seeds=[1024], home=home, attempts=1, chat=chat)
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


def test_a_model_that_fails_leaves_no_verdict_of_its_own_and_calibrates_nothing(tmp_path: Path) -> None:
    from benchgen_dagster.models.calibration import empirical_difficulties
    from benchgen_dagster.models.evaluation import SolverEvaluation

    judged: list[bytes] = []
    chat = ScriptedChatModel(
        script=[
            write("/workspace/solution.py", ""),
            scripted_call("check_design"),  # an empty file is no design: nothing judged
            RuntimeError("the provider went away"),
        ]
    )
    config = SessionConfig(prompt="solve bm-x", workspace=tmp_path / "ws", settings=CheckSettings(), model_retries=0)
    # A stale solution.py from an earlier run of the same workspace is cleared first, never judged.
    (tmp_path / "ws").mkdir()
    (tmp_path / "ws" / "solution.py").write_text("def solve(task, seed):\n    return []\n")
    run = run_engineer(
        {1024: _a_task()}, [], lambda source: judged.append(source) or _unsolved(source), config,
        benchmark_id="bm-x", seeds=[1024, 1025], home=tmp_path / "home", chat=chat,
    )  # fmt: skip
    assert judged == [] and run.model_failed and run.evaluation.model_failed
    assert not (tmp_path / "ws" / "journal.md").read_text().count("check_design, attempt")
    # Every seed asked for is in the row: 1025, which the judge made no task of, is the benchmark's own failure.
    seeds = {s.seed: s for s in run.evaluation.seeds}
    assert sorted(seeds) == [1024, 1025] and seeds[1025].scene_failed and not seeds[1024].scene_failed
    assert "left no solution.py" in seeds[1024].message and "provider went away" in seeds[1024].message
    document = SolverEvaluation(solver="engineer:x", seeds_per_benchmark=2, benchmarks=[run.evaluation]).document()
    assert empirical_difficulties([document]) == {}  # an outage says nothing about the benchmark


def _a_task(on_a_hinge: bool = False) -> Task:
    from benchgen_dagster.models.materials import material_named
    from benchgen_dagster.models.scene import JointSpec, PartSpec, ZoneSpec

    zone = ZoneSpec(lo=(0.0, 0.0, 0.0), hi=(10.0, 10.0, 10.0))
    abs_ = material_named("abs")
    crate = PartSpec(name="crate", role="free", material=abs_, rgba=(1.0, 1.0, 1.0, 1.0))
    base = 100.0 if on_a_hinge else 0.0
    parts = [{"spec": crate, "bounds_mm": ((0.0, 0.0, base), (1.0, 1.0, base + 1)), "mass_g": 1.0}]
    goal = ZoneSpec(lo=(200.0, 0.0, 150.0), hi=(300.0, 10.0, 200.0)) if on_a_hinge else zone
    if on_a_hinge:
        hinge = JointSpec(kind="hinge", axis=(0.0, 1.0, 0.0), anchor=(50.0, 0.0, 95.0), limits=(0.0, 30.0))
        beam = PartSpec(name="beam", role="hinged", material=abs_, rgba=(1.0, 1.0, 1.0, 1.0), joint=hinge)
        parts.append({"spec": beam, "bounds_mm": ((-50.0, -5.0, 90.0), (150.0, 5.0, 100.0)), "mass_g": 50.0})
    return Task.model_validate(
        {"benchmark_id": "bm-x", "seed": 1024, "scale": 1.0, "moved_object": "crate", "parts": parts,
         "workspace": zone, "goal_zone": goal, "build_zone": zone}
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
