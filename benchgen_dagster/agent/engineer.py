"""The engineer: an agent that solves one benchmark from its task alone, judged as any solver is.

A graph of one role, built like the generation roles (deepagents over the sandbox backend, the same
model plumbing, budgets and retries; offline by default). Its workspace holds `tasks/<seed>.json` (each
seed's `models.evaluation.Task`), the scene's views and the solver contract (`docs/solver.md`, `docs/api.md`),
and never the benchmark's script nor the library's families: those stay on the host, and `execute`
runs in a cold sandbox with the library hidden. It writes `solution.py` (`solve(task, seed)`) and may
call `check_design`, which hands that text to `worker.evaluate` as a module solver's: built in the
builder's sandbox, judged by the trusted judge. Each new text judged is one attempt of its budget;
after its turn the host judges the final text (an attempt too, if it is new and the budget allows), and
the last text judged is the evaluation.
"""

import hashlib
import json
import shutil
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypedDict

from langchain_core.language_models import BaseChatModel
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool, tool
from langgraph.graph import START, StateGraph
from langgraph.types import Command

from benchgen_dagster.agent import prompts
from benchgen_dagster.agent.backend import SandboxFilesystemBackend
from benchgen_dagster.agent.configuration import SessionConfig
from benchgen_dagster.agent.contract import api_reference
from benchgen_dagster.agent.models import chat_model
from benchgen_dagster.agent.roles import Role, RoleFailed, build_role
from benchgen_dagster.agent.state import DONE
from benchgen_dagster.agent.tools import SessionContext
from benchgen_dagster.agent.tracing import tracing_callbacks
from benchgen_dagster.models.evaluation import BenchmarkEvaluation, SeedEvaluation, Task
from benchgen_dagster.worker import safe_files
from benchgen_dagster.worker.evaluate import MAX_SOLVER_BYTES, SolverError
from benchgen_dagster.worker.seed_runs import LIBRARY

ENGINEER = "engineer"
SOLUTION_NAME = "solution.py"


def task_file(seed: int) -> str:
    return f"{prompts.TASKS_DIR}/{seed}.json"


MAX_VIEW_BYTES = 4 * 1024 * 1024
DEFAULT_ATTEMPTS = 3
SCENE_FAILED = "the benchmark's own scene failed on this seed: it counts against the benchmark, not your design"


@dataclass
class DesignTrials:
    """The judged texts of solution.py, in order: one attempt per new text, at most `budget`."""

    judge: Callable[[bytes], BenchmarkEvaluation]
    budget: int
    judged: dict[str, BenchmarkEvaluation] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def attempt(self, source: bytes) -> tuple[BenchmarkEvaluation | None, bool]:
        """The judge's evaluation of `source` (None once the budget is spent on other texts), and whether it
        was a new attempt."""
        digest = hashlib.sha256(source).hexdigest()
        with self._lock:
            if digest in self.judged:
                self.order.remove(digest)
                self.order.append(digest)  # the last text judged is the one that stands
                return self.judged[digest], False
            if len(self.judged) >= self.budget:
                return None, False
            found = self.judge(source)
            self.judged[digest] = found
            self.order.append(digest)
            return found, True

    @property
    def attempts(self) -> int:
        return len(self.judged)

    def standing(self) -> BenchmarkEvaluation | None:
        """The last text judged, with the attempts used and what each attempt solved."""
        if not self.order:
            return None
        solved = [sum(s.solved for s in found.seeds) for found in self.judged.values()]
        return self.judged[self.order[-1]].model_copy(update={"attempts": self.attempts, "attempt_solved": solved})


def _finding(seed: SeedEvaluation) -> dict[str, Any]:
    # Where the benchmark's own scene failed, the judge's message may quote its script (a traceback): not shown.
    message = SCENE_FAILED if seed.scene_failed else seed.message[:400]
    return {"seed": seed.seed, "solved": seed.solved, "message": message}


def design_summary(found: BenchmarkEvaluation, attempts_left: int) -> dict[str, Any]:
    """What check_design answers: the judge's finding per seed and the attempts left."""
    return {
        "solved": sum(s.solved for s in found.seeds),
        "seeds": len(found.seeds),
        "attempts_left": attempts_left,
        "findings": [_finding(s) for s in found.seeds],
        "score": round(found.model_copy(update={"attempts": 1}).score, 3),
    }


def engineer_tools(context: SessionContext, trials: DesignTrials) -> list[BaseTool]:
    @tool
    def check_design() -> str:
        """Judge /workspace/solution.py on every seed of the benchmark: the judge builds the scene, runs your
        solve(task, seed) in its sandbox and simulates it. Each new text of solution.py is one attempt of your
        budget (the same text again is not). Returns JSON: seeds solved, each seed's finding, attempts left."""
        source = _solution(context.workspace)
        if source is None:
            return json.dumps(
                {"error": f"no {prompts.SOLUTION_PATH} was written (as a non-empty regular file under 1 MB)"}
            )
        try:
            found, new = trials.attempt(source)
        except SolverError as error:  # the judge cannot run it here at all: the gate says so for the run
            return json.dumps({"error": str(error)})
        left = trials.budget - trials.attempts
        if found is None:
            return json.dumps({"error": "no attempts left: the last design checked is the one scored"})
        summary = design_summary(found, left)
        if new:
            failed = "; ".join(
                f"seed {f['seed']}: {f['message'][:200]}" for f in summary["findings"] if not f["solved"]
            )
            context.note(
                "check", f"check_design, attempt {trials.attempts}", failed or "every seed solved",
                f"{summary['solved']}/{summary['seeds']} seeds solved; {left} attempt(s) left",
            )  # fmt: skip
        return json.dumps(summary)

    return [check_design]


def _solution(workspace: Path) -> bytes | None:
    """solution.py's text; None where there is none to judge (missing, empty, a link, too big)."""
    try:
        return safe_files.read_bytes(workspace, SOLUTION_NAME, MAX_SOLVER_BYTES) or None
    except safe_files.UnsafeFileError:
        return None


def prepare_engineer_workspace(workspace: Path, tasks: dict[int, Task], views: list[Path]) -> None:
    """tasks/<seed>.json, the scene's views and the solver contract; nothing of the benchmark's script or the
    library."""
    from importlib import resources

    # A fresh folder: a solution.py left by an earlier run of the same partition must not be judged as this one's.
    if workspace.is_symlink() or workspace.is_file():
        workspace.unlink()
    shutil.rmtree(workspace, ignore_errors=True)
    workspace.mkdir(parents=True)
    for name in ("docs", "renders", "reports"):
        safe_files.make_dirs(workspace, name)
    shown = []
    for view in views:
        safe_files.write_bytes(workspace, f"renders/{view.name}", safe_files.read_file(view, MAX_VIEW_BYTES))
        shown.append(f"{prompts.WORKSPACE}/renders/{view.name}")
    # A file per seed, each small enough to read whole; the views as the engineer finds them (in its workspace).
    for seed, task in tasks.items():
        document = task.model_copy(update={"renders": shown}).model_dump(mode="json")
        safe_files.write_text(workspace, task_file(seed), json.dumps(document, indent=1))
    contract = resources.files("benchgen_dagster.docs").joinpath("solver.md").read_text()
    safe_files.write_text(workspace, "docs/solver.md", contract)
    safe_files.write_text(workspace, "docs/api.md", api_reference())


class EngineerState(TypedDict, total=False):
    task: str
    decision: Literal["solved", "unsolved", "failed"]
    reason: str
    model_failed: bool
    usage: dict[str, dict[str, Any]]


def make_engineer(role: Role, context: SessionContext, trials: DesignTrials):  # type: ignore[no-untyped-def]
    def engineer(state: EngineerState, config: RunnableConfig) -> Command[Literal["__end__"]]:
        intent = "design solution.py from the task"
        try:
            answer, usage = role.run(state["task"], config)
        except RoleFailed as error:
            context.note(ENGINEER, intent, f"failed: {error}", "the session ends")
            usage = error.usage
            answer = ""
            failed = {"model_failed": True, "decision": "failed", "reason": str(error)}
        else:
            failed = {}
        # The gate: the final text judged, whatever the engineer claimed (an attempt if new and allowed).
        source = _solution(context.workspace)
        if source is not None:
            trials.attempt(source)
        standing = trials.standing()
        solved = standing is not None and all(s.solved for s in standing.seeds)
        decision = "solved" if solved else "unsolved"
        reason = "no solution.py was judged" if standing is None else f"{standing.summary()['solved']} seed(s) solved"
        context.note(ENGINEER, intent, answer or reason, f"{decision}: {reason} in {trials.attempts} attempt(s)")
        update = {"usage": {ENGINEER: usage}, "decision": decision, "reason": reason, **failed}
        return Command(goto=DONE, update=update)

    return engineer


@dataclass
class EngineerRun:
    evaluation: BenchmarkEvaluation
    decision: str
    reason: str
    model_failed: bool
    usage: dict[str, Any]
    wall_s: float
    workspace: str


def engineer_task(benchmark_id: str, tasks: dict[int, Task], budget: int) -> str:
    first = tasks[min(tasks)]
    about = first.title or first.family or "untitled"
    return (
        f"{prompts.BENCHMARK_MARKER} {benchmark_id} (tier {first.tier}, {about})\n\n"
        f"{prompts.SEEDS_MARKER} {', '.join(str(s) for s in sorted(tasks))}\n\n"
        f"{prompts.ATTEMPTS_MARKER} {budget}\n\n"
        f"Read the tasks in {prompts.WORKSPACE}/{prompts.TASKS_DIR}/, write {prompts.SOLUTION_PATH} and check it "
        "with check_design."
    )


def run_engineer(
    tasks: dict[int, Task],
    views: list[Path],
    judge: Callable[[bytes], BenchmarkEvaluation],
    config: SessionConfig,
    *,
    benchmark_id: str,
    seeds: list[int],
    home: Path,
    attempts: int = DEFAULT_ATTEMPTS,
    chat: BaseChatModel | None = None,
) -> EngineerRun:
    """Let the engineer solve one benchmark judged on `seeds`, of which the judge made `tasks` (by seed: those
    whose scene it accepted), in `config.workspace` with `config.model` (and its retries and tracing); `judge`
    judges a text of solution.py on those seeds. `chat` replaces the configured model (tests drive it so)."""
    if not tasks:
        raise ValueError(f"{benchmark_id}: the judge made no task on seeds {seeds}: there is nothing to design from")
    started = time.perf_counter()
    workspace = config.workspace.resolve()
    prepare_engineer_workspace(workspace, tasks, views)
    context = SessionContext(config=config, workspace=workspace, home=home, roles=(ENGINEER,))
    trials = DesignTrials(judge=judge, budget=attempts)
    session_id = uuid.uuid4().hex[:12]
    logs = home / "sessions" / session_id / "logs"
    backend = SandboxFilesystemBackend(workspace, logs, config.settings.sandbox, hidden=(LIBRARY,))
    model = chat or chat_model(config.model, ENGINEER)
    tools = engineer_tools(context, trials)
    role = build_role(ENGINEER, model, prompts.ENGINEER, backend, context, tools=tools)
    graph = StateGraph(EngineerState)
    graph.add_node(ENGINEER, make_engineer(role, context, trials))
    graph.add_edge(START, ENGINEER)
    callbacks, flush = tracing_callbacks(session_id, config)
    try:
        final = graph.compile().invoke(
            {"task": engineer_task(benchmark_id, tasks, attempts)},
            config={"callbacks": callbacks, "run_name": "benchgen-engineer", "recursion_limit": 20,
                    "metadata": {"langfuse_session_id": session_id, "benchmark_id": benchmark_id}},
        )  # fmt: skip
    finally:
        flush()
    evaluation = trials.standing() or _unjudged(benchmark_id, seeds, tasks, final.get("reason", ""))
    evaluation = evaluation.model_copy(update={"model_failed": bool(final.get("model_failed"))})
    return EngineerRun(
        evaluation=evaluation,
        decision=final.get("decision", "failed"),
        reason=final.get("reason", ""),
        model_failed=bool(final.get("model_failed")),
        usage=final.get("usage", {}).get(ENGINEER, {}),
        wall_s=round(time.perf_counter() - started, 3),
        workspace=str(workspace),
    )


def _unjudged(benchmark_id: str, seeds: list[int], tasks: dict[int, Task], reason: str) -> BenchmarkEvaluation:
    """No text was judged (none written, or the model failed first): every seed unsolved, one attempt; a seed
    the judge made no task of is the benchmark's own failure."""
    first = tasks[min(tasks)]
    message = f"the engineer left no solution.py to judge{': ' + reason if reason else ''}"
    found = [
        SeedEvaluation(seed=s, solved=False, message=message)
        if s in tasks
        else SeedEvaluation(
            seed=s, solved=False, scene_failed=True, message=f"the benchmark's scene failed: {SCENE_FAILED}"
        )
        for s in seeds
    ]
    return BenchmarkEvaluation(benchmark_id=benchmark_id, family=first.family, tier=first.tier, seeds=found)
