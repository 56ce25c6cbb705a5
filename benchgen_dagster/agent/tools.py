"""The worker as tools: what every role can call besides deepagents' file, todo and execute tools."""

import hashlib
import io
import json
import shutil
import tempfile
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool, tool
from langgraph.types import Command

from benchgen_dagster.agent.configuration import RENDERED_SCRIPT, SessionConfig, rendered_marker
from benchgen_dagster.agent.edits import edit_facts, script_edit
from benchgen_dagster.agent.prompts import WORKSPACE
from benchgen_dagster.agent.state import DONE, ROLES
from benchgen_dagster.models.reports import CheckReport
from benchgen_dagster.worker import safe_files
from benchgen_dagster.worker.check import MAX_SCRIPT_BYTES, Checker
from benchgen_dagster.worker.verdicts import SharedEntries

SCRIPT_NAME = "script.py"
SUMMARY_PATH = Path("reports") / "summary.json"
# The texts the judge checked that a session keeps (the latest), what a check's edit is measured against.
MAX_KEPT_SCRIPTS = 8
# How much of a check_script verdict the journal keeps: the first failures, each message shortened.
MAX_JOURNALLED_FAILURES = 8
MAX_JOURNALLED_MESSAGE_CHARS = 300
DIGEST_PREFIX = 12


@dataclass
class SessionContext:
    """What the tools and nodes of one session share: the workspace, the checker, what was checked."""

    config: SessionConfig
    workspace: Path
    home: Path
    journal: list[str] = field(default_factory=list)
    renders_viewed: bool = False
    round: int = 0
    todos: dict[str, list[str]] = field(default_factory=dict)
    # The last full check and the digest of the script it checked. Kept in memory only: the agents can
    # write files, so nothing read back from the workspace may stand in for the gate.
    last_summary: dict[str, Any] | None = None
    rendered_digest: str | None = None
    # The roles this session runs; the others ran before it or run after it (one per pipeline asset).
    roles: tuple[str, ...] = ROLES
    # The skills (names) the coder opened with read_file: what its scripts were written with.
    skills_read: set[str] = field(default_factory=set)
    # Seconds spent in the judge's sandboxed checks and renders.
    sandbox_s: float = 0.0
    # The judge's verdicts shared with the other hosts (none: this host's only).
    shared: SharedEntries | None = None
    # The texts the judge checked, by sha256 (the latest MAX_KEPT_SCRIPTS), and the digest of the last one:
    # each check's edit is the diff from the text checked before it. Kept by the host, in memory: the
    # workspace's script.py may have been rewritten since, so it cannot say what was checked.
    checked_scripts: OrderedDict[str, str] = field(default_factory=OrderedDict)
    last_checked: str | None = None
    # The journal fields of the last check (script digest, edits), for the gate's note.
    last_check_facts: dict[str, str] = field(default_factory=dict)
    # Tool calls of one model message run side by side: one check at a time keeps the story in order.
    _check_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def read_text(self, relative: str, limit: int = safe_files.DEFAULT_LIMIT) -> str:
        """A workspace file's text, "" when it is missing or not safely readable (a link, too big, binary)."""
        try:
            return safe_files.read_text(self.workspace, relative, limit)
        except safe_files.UnsafeFileError:
            return ""

    def hand_off(self, role: str, update: dict[str, Any]) -> Command:
        """Go on to `role`, or end the session there when that role is not one this session runs."""
        if role in self.roles:
            return Command(goto=role, update=update)
        return Command(goto=DONE, update={**update, "decision": "handed_off", "reason": f"on to the {role}"})

    def note(self, role: str, intent: str, result: str, reflection: str, **facts: str) -> None:
        """Append a step to journal.md: what the role meant to do, what came of it, what it means next,
        and any `facts` (e.g. the script's parameters) as further `- name: value` lines.

        Only the host writes it: the nodes' gates and answers, and every check_script verdict (`check`).
        What a role's own programs printed (`execute` running utils.validate or utils.simulate in the
        sandbox) is never journalled: that is output of code the agent wrote, so it is no evidence."""
        round_label = f" · round {self.round}" if self.round else ""
        extra = "".join(f"- {name}: {value}\n" for name, value in facts.items() if value)
        self.journal.append(
            f"## {role}{round_label}\n- intent: {intent}\n- result: {result.strip()}\n- reflection: {reflection}\n"
            + extra
        )
        safe_files.write_text(self.workspace, "journal.md", "# Journal\n\n" + "\n".join(self.journal))

    def write_todos(self, role: str, todos: list[dict[str, Any]]) -> None:
        """todo.md mirrors the todo list the roles keep with write_todos (deepagents keeps it in graph state)."""
        marks = {"completed": "x", "in_progress": "~", "pending": " "}
        self.todos[role] = [f"- [{marks.get(t.get('status', ''), ' ')}] {t.get('content', '')}" for t in todos]
        sections = [f"## {name}\n" + "\n".join(lines) for name, lines in self.todos.items()]
        safe_files.write_text(self.workspace, "todo.md", "# Todo\n\n" + "\n\n".join(sections) + "\n")

    @property
    def checker(self) -> Checker:
        return Checker(self.config.settings, home=self.home, shared=self.shared)

    def script_digest(self) -> str | None:
        try:
            return hashlib.sha256(safe_files.read_bytes(self.workspace, SCRIPT_NAME, MAX_SCRIPT_BYTES)).hexdigest()
        except safe_files.UnsafeFileError:
            return None

    def check(self, by: str | None = None) -> dict[str, Any]:
        """The full sandboxed check of script.py, reusing the last one if the script has not changed.

        `by` names the role whose check_script call this is: that verdict is journalled here, with the
        script's digest and its edit since the check before (the gate's check goes in the coder's note)."""
        with self._check_lock:
            summary, self.last_check_facts = self._check_script()
            if by is not None:
                self._note_check(by, summary)
            return summary

    def _check_script(self) -> tuple[dict[str, Any], dict[str, str]]:
        try:
            source = safe_files.read_bytes(self.workspace, SCRIPT_NAME, MAX_SCRIPT_BYTES)
        except safe_files.UnsafeFileError:
            missing = {
                "passed": False,
                "script_sha256": None,
                "failed_checks": ["script_runs"],
                "failures": [
                    {
                        "check": "script_runs",
                        "seed": None,
                        "message": "no /workspace/script.py was written (as a regular file)",
                    }
                ],
            }
            return missing, {"script": "none"}
        # One read: the bytes digested are the bytes judged, and the text kept is the text judged.
        digest = hashlib.sha256(source).hexdigest()
        text = source.decode("utf-8", errors="replace")
        before = self.checked_scripts.get(self.last_checked or "")
        facts = {"script": digest[:DIGEST_PREFIX], **edit_facts(None if before is None else script_edit(before, text))}
        self.checked_scripts[digest] = text
        self.checked_scripts.move_to_end(digest)
        while len(self.checked_scripts) > MAX_KEPT_SCRIPTS:
            self.checked_scripts.popitem(last=False)
        self.last_checked = digest
        if self.last_summary and self.last_summary["script_sha256"] == digest:
            return self.last_summary, facts
        # The judge renders the first seed too (alone and with the solution), so the review's views and the
        # promotion's cost no further run.
        seeds = list(range(self.config.check_seeds))
        self.home.mkdir(parents=True, exist_ok=True)
        staged = Path(tempfile.mkdtemp(prefix="checked-", dir=self.home))
        started = time.perf_counter()
        try:
            (staged / SCRIPT_NAME).write_bytes(source)
            report = self.checker.check(staged / SCRIPT_NAME, seeds, views=self.config.render_size)
        finally:
            self.sandbox_s += time.perf_counter() - started
            shutil.rmtree(staged, ignore_errors=True)
        report = report.model_copy(update={"script": str(self.workspace / SCRIPT_NAME)})
        return self._record(report, digest), facts

    def _note_check(self, by: str, summary: dict[str, Any]) -> None:
        """Journal one check_script verdict: its failures (bounded) or "all checks pass", and the script."""
        failures = summary["failures"]
        if summary["passed"]:
            result, reflection = "all checks pass", f"passed; solvability {summary.get('solvability', 'unproven')}"
        else:
            shown = [
                f"{f['check']} (seed {f['seed']}): {' '.join(str(f['message']).split())[:MAX_JOURNALLED_MESSAGE_CHARS]}"
                for f in failures[:MAX_JOURNALLED_FAILURES]
            ]
            more = len(failures) - len(shown)
            result = "; ".join(shown) + (f" (and {more} more failures)" if more > 0 else "")
            reflection = f"failed: {', '.join(summary['failed_checks'])}"
        nominal = ", ".join(f"{k}={v:g}" for k, v in sorted(summary.get("nominal", {}).items()))
        intent = f"check_script, called by the {by}"
        self.note("check", intent, result, reflection, **self.last_check_facts, parameters=nominal)

    def _record(self, report: CheckReport, digest: str) -> dict[str, Any]:
        safe_files.write_text(
            self.workspace, "reports/validation.json", report.model_dump_json(indent=1, exclude={"outcomes"})
        )
        simulation = [o.simulation.model_dump() | {"seed": o.seed} for o in report.outcomes if o.simulation]
        safe_files.write_text(self.workspace, "reports/simulation.json", json.dumps(simulation, indent=1))
        summary = {
            "passed": report.passed,
            "script_sha256": digest,
            "seeds": report.seeds,
            "failed_checks": sorted({f.check for f in report.failures}),
            "failures": [f.model_dump() for f in report.failures[:20]],
            # proven, failed or unproven: whether the script's reference solution() solved every seed.
            "solvability": report.solvability,
            "notes": report.notes,
            # The script's declared nominal values, so the journal can say what each round tried.
            "nominal": next(({p.name: p.nominal for p in o.scene.params} for o in report.outcomes if o.scene), {}),
        }
        safe_files.write_text(self.workspace, SUMMARY_PATH.as_posix(), json.dumps(summary, indent=1))
        self.last_summary = summary
        return summary

    def render(self, seed: int = 0) -> list[str]:
        """Render the current script's views into renders/, replacing whatever views were there."""
        width, height = self.config.render_size
        for old in self.rendered():
            safe_files.remove(self.workspace, f"renders/{old.name}")
        digest = self.script_digest()
        # The judge's renders land outside the workspace (trusted, kept when renders_dir says where); the
        # agents get copies.
        self.home.mkdir(parents=True, exist_ok=True)
        out = self.config.renders_dir or Path(tempfile.mkdtemp(prefix="renders-", dir=self.home))
        shutil.rmtree(out, ignore_errors=True)
        started = time.perf_counter()
        try:
            _, written = self.checker.render(self.workspace / SCRIPT_NAME, seed, out, width, height, video=False)
        finally:
            self.sandbox_s += time.perf_counter() - started
        if self.config.renders_dir is not None:
            (out / RENDERED_SCRIPT).write_text(rendered_marker(digest or ""))
        for view in written:
            safe_files.write_bytes(self.workspace, f"renders/{view.name}", view.read_bytes())
        if self.config.renders_dir is None:
            shutil.rmtree(out, ignore_errors=True)
        self.rendered_digest = digest
        return [f"{WORKSPACE}/renders/{p.name}" for p in written]

    def renders_current(self) -> bool:
        """Whether renders/ shows the script as it is now (not an earlier round's, nor the agent's own)."""
        return bool(self.rendered()) and self.rendered_digest == self.script_digest()

    def rendered(self) -> list[Path]:
        names = safe_files.list_files(self.workspace, "renders", suffix=".png")
        return [self.workspace / "renders" / name for name in names if name.startswith("view_")]


def worker_tools(context: SessionContext) -> list[BaseTool]:
    """check_script, render_views, view_renders, submit_for_review, bound to this session."""

    @tool
    def check_script(config: RunnableConfig) -> str:
        """Run the worker's full sandboxed check of /workspace/script.py (all seeds: geometry, randomization,
        stability, non-triviality). Returns JSON with `passed` and `failures`; also written to
        /workspace/reports/."""
        # The judge's verdict, journalled for the learner; the role's own sandboxed self-checks are not.
        by = str((config.get("metadata") or {}).get("lc_agent_name") or "agent")
        return json.dumps(context.check(by=by))

    @tool
    def render_views(seed: int = 0) -> str:
        """Render 24 views of /workspace/script.py's scene for `seed` into /workspace/renders/ (zones
        drawn). Returns the paths."""
        return json.dumps(context.render(seed))

    @tool
    def view_renders() -> str:
        """Look at the renders in /workspace/renders/: what each view shows (size, how much of the goal, forbid and
        build zones and of the parts is visible). Vision models also get the images themselves."""
        context.renders_viewed = True
        return json.dumps([_describe_view(path) for path in context.rendered()])

    @tool
    def submit_for_review(note: str = "") -> str:
        """Hand /workspace/script.py to the reviewer, with an optional note."""
        safe_files.write_text(context.workspace, "submitted.json", json.dumps({"note": note}))
        return "submitted"

    return [check_script, render_views, view_renders, submit_for_review]


def _describe_view(path: Path) -> dict[str, Any]:
    import imageio.v3 as iio
    import numpy as np

    image = iio.imread(io.BytesIO(safe_files.read_file(path, 16 * 1024 * 1024)), extension=".png").astype(int)
    red, green, blue = image[..., 0], image[..., 1], image[..., 2]
    total = red.size
    return {
        "view": f"{WORKSPACE}/renders/{path.name}",
        "size": f"{image.shape[1]}x{image.shape[0]}",
        "goal_zone_share": round(float(np.mean((green - np.maximum(red, blue)) > 30)), 4),
        "forbid_zone_share": round(float(np.mean((red - np.maximum(green, blue)) > 40)), 4),
        "pixels": total,
    }
