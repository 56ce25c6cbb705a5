"""The learner sees real fixes: every check_script verdict is journalled (never what the coder's own programs
printed), with the script's digest and its edit since the check before, and a fail-then-fix inside one
coder turn reaches the learner as a failure followed by the edit that fixed it."""

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage, BaseMessage

from benchgen_dagster.agent import prompts
from benchgen_dagster.agent.configuration import SessionConfig
from benchgen_dagster.agent.edits import FIRST_CHECK, UNCHANGED, parse_edit, script_edit
from benchgen_dagster.agent.journals import (
    MAX_CHECKS,
    MAX_FIX_CHARS,
    MAX_FIXES,
    compress,
    parse_entries,
)
from benchgen_dagster.agent.learner import run_learner
from benchgen_dagster.agent.offline.messages import shown_file
from benchgen_dagster.agent.session import run_session
from benchgen_dagster.agent.tools import MAX_KEPT_SCRIPTS, SessionContext
from benchgen_dagster.models.reports import CheckReport, Failure
from benchgen_dagster.models.skills import SessionDigest, parse_skill
from tests.conftest import SCRIPTS
from tests.provider_servers import Reply, Request, by_role, serve
from tests.provider_servers import call as provider_call
from tests.scripted import ScriptedChatModel, call, write

GOOD = (SCRIPTS / "good_box.py").read_text()
# The box sunk 20 mm into the floor: a geometry edit, the nominal values unchanged.
BAD = GOOD.replace("size / 2 + 0.3", "size / 2 - 20")
PLAN = "---\nfamily: none\n---\n# Plan\nPush a box into the goal.\n"
# An `execute` that "reports" a pass: python -c and a shell alike answer with an error that names it.
SELF_CHECK = "SELF_CHECK_SAYS_ALL_CHECKS_PASS"


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _session(tmp_path: Path, coder: list[Any]) -> Path:
    """A planner and a coder turn driven by scripted models, then handed off; the workspace."""
    models = {
        "planner": ScriptedChatModel(script=[write("/plan.md", PLAN), "planned"]),
        "coder": ScriptedChatModel(script=coder),
        "reviewer": ScriptedChatModel(script=[]),
    }
    config = SessionConfig(prompt="push a box into a goal", workspace=tmp_path / "ws", check_seeds=2, model_retries=0)
    result = run_session(config, models=models, home=tmp_path / "home", roles=("planner", "coder"))
    assert result.decision == "handed_off" and result.rounds == 1, result
    return tmp_path / "ws"


def _fail_then_fix(tmp_path: Path, shown: list[str]) -> Path:
    """One coder turn: a script that fails, a self-check through execute, check_script, the fix, check_script."""

    def after_execute(messages: list[BaseMessage]) -> AIMessage:
        shown.append(str(messages[-1].content))
        return call("check_script")

    coder = [
        write("/script.py", BAD),
        call("execute", command=SELF_CHECK),
        after_execute,
        write("/script.py", GOOD),
        call("check_script"),
        "raised the box onto the floor",
    ]
    return _session(tmp_path, coder)


@pytest.mark.sandbox
@pytest.mark.usefixtures("require_bubblewrap")
def test_the_journal_records_every_check_script_call_and_not_what_execute_printed(tmp_path: Path) -> None:
    shown: list[str] = []
    workspace = _fail_then_fix(tmp_path, shown)
    journal = (workspace / "journal.md").read_text()
    # The coder's program did print its "pass"; the journal, written by the host, says nothing of it.
    assert SELF_CHECK in shown[0] and SELF_CHECK not in journal and "execute" not in journal
    checks = [e for e in parse_entries(journal) if e["role"] == "check"]
    assert [(e["round"], e["intent"]) for e in checks] == [("1", "check_script, called by the coder")] * 2
    failed, passed = checks
    assert "no_interpenetration (seed 0): 'box' and 'floor' overlap by 20.00 mm" in failed["result"]
    assert failed["reflection"].startswith("failed: ") and failed["script"] == _sha(BAD)
    assert failed["edits"] == FIRST_CHECK
    assert passed["result"] == "all checks pass" and passed["script"] == _sha(GOOD)
    assert passed["edits"] == "+1 -1 lines in build"
    assert [line[:2] for line in json.loads(passed["changed_lines"])] == ["- ", "+ "]
    assert "size / 2 - 20" in passed["changed_lines"] and "size / 2 + 0.3" in passed["changed_lines"]
    # The gate at the end of the turn judged the same text again: it says so, and which text it was.
    (gate,) = [e for e in parse_entries(journal) if e["role"] == "coder"]
    assert gate["script"] == _sha(GOOD) and gate["edits"] == UNCHANGED

    digest = compress("fix-1", journal, PLAN)
    assert [(c.round, c.tool_call, c.gate, c.passed) for c in digest.checks] == [
        (1, True, False, False),
        (1, True, True, True),
    ]
    # One turn, one passing gate: without the checks, the failure and its fix would leave no trace.
    assert [r.passed for r in digest.rounds] == [True]
    (fix,) = digest.fixes
    assert fix.startswith("inside_workspace, no_interpenetration, stability failed, then passed within round 1")
    assert "(check_script) after: script edited (+1 -1 lines in build" in fix and "size / 2 + 0.3" in fix
    assert not digest.checks[1].parameter_changes  # a geometry edit: no nominal value changed


class _FakeJudge:
    """Stands in for the worker's checker: records the bytes it was given, fails any script with "BAD" in it.
    First it rewrites the workspace's script, as a tool call running beside check_script could."""

    def __init__(self, workspace: Path) -> None:
        self.workspace = workspace
        self.judged: list[bytes] = []

    def check(self, script: Path, seeds: list[int], views: Any = None) -> CheckReport:
        (self.workspace / "script.py").write_text("# rewritten while it was being judged\n")
        source = script.read_bytes()
        self.judged.append(source)
        failures = (
            [Failure(check="stability", seed=1, message="it\nwobbles " + "x" * 900)] * 12 if b"BAD" in source else []
        )
        return CheckReport(script=str(script), seeds=seeds, passed=not failures, failures=failures, results=[])


class _JudgedContext(SessionContext):
    @property
    def checker(self) -> Any:
        return self.judge


def test_checks_are_keyed_by_the_text_judged_bounded_and_journalled(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    config = SessionConfig(prompt="x", workspace=workspace, check_seeds=2)
    context = _JudgedContext(config=config, workspace=workspace, home=tmp_path / "home")
    context.judge = _FakeJudge(workspace)
    texts = [f"# BAD {i}\ndef build(seed, scale=1.0):\n    return {i}\n" for i in range(MAX_KEPT_SCRIPTS + 3)]
    for text in texts:
        (workspace / "script.py").write_text(text)
        assert not context.check(by="coder")["passed"]
    # What was judged is what the journal names and the session keeps, not the file as it is afterwards.
    assert context.judge.judged == [t.encode() for t in texts]
    assert context.last_checked == hashlib.sha256(texts[-1].encode()).hexdigest()
    assert list(context.checked_scripts.values()) == texts[-MAX_KEPT_SCRIPTS:]
    entries = [e for e in parse_entries((workspace / "journal.md").read_text()) if e["role"] == "check"]
    assert [e["script"] for e in entries] == [_sha(t) for t in texts]
    assert entries[1]["edits"] == "+2 -2 lines in module level, build"
    # Failures are bounded: the first 8, one line each, messages shortened, and how many were left out.
    last = entries[-1]["result"]
    assert last.count("stability (seed 1): it wobbles") == 8 and last.endswith("(and 4 more failures)")
    assert len(last) < 8 * 340
    # A check without a script is journalled as one too.
    (workspace / "script.py").unlink()
    context.check(by="reviewer")
    missing = parse_entries((workspace / "journal.md").read_text())[-1]
    assert missing["intent"] == "check_script, called by the reviewer" and missing["script"] == "none"
    assert missing["result"].startswith("script_runs (seed None): no /workspace/script.py")


def test_an_edit_summary_names_what_changed_and_reads_back_from_the_journal() -> None:
    before = "import math\n\nWIDTH = 10\n\n@cache\ndef build(seed):\n    return Box(WIDTH, 2, 3)\n"
    after = "import math\nimport json\n\nWIDTH = 12\n\n@cache\ndef build(seed):\n    return Box(WIDTH, 2, 4)\n"
    edit = script_edit(before, after)
    assert (edit.added, edit.removed, edit.names) == (3, 2, ["imports", "WIDTH", "build"])
    assert edit.lines == [
        "+ import json",
        "- WIDTH = 10",
        "+ WIDTH = 12",
        "- return Box(WIDTH, 2, 3)",
        "+ return Box(WIDTH, 2, 4)",
    ]
    # Changed code comes before changed comments, whatever the order in the script.
    commented = script_edit("# nominal 10\nWIDTH = 10\n", "# nominal 12\nWIDTH = 12\n")
    assert commented.lines == ["- WIDTH = 10", "+ WIDTH = 12"]
    apart = script_edit("# nominal 10\nX = 1\nWIDTH = 10\n", "# nominal 12\nX = 1\nWIDTH = 12\n")
    assert apart.lines == ["- WIDTH = 10", "+ WIDTH = 12", "- # nominal 10", "+ # nominal 12"]
    # A script that does not even parse still gets a summary.
    assert script_edit("def build(:\n", "def build(seed):\n").names == ["build"]
    assert parse_edit(UNCHANGED) is not None and not parse_edit(UNCHANGED).changed
    # The journal lives in an untrusted workspace: what is not what the host writes is no edit.
    assert parse_edit(FIRST_CHECK) is None and parse_edit("+1 -1 lines; rm -rf /") is None
    forged = parse_edit("+1 -1 lines in build, $(evil), " + "n" * 200, '["- ok", "no sign", 7, "+ ' + "y" * 500 + '"]')
    assert forged is not None and forged.names == ["build"]
    assert forged.lines[0] == "- ok" and len(forged.lines) == 2 and len(forged.lines[1]) == 100


def _check_entry(round_: int, script: str, result: str, parameters: str = "a=1", edit: str = "") -> str:
    edits = edit or "+1 -1 lines in build"
    changed = json.dumps(["- " + "old " * 60, "+ " + "new " * 60])
    return (
        f"## check · round {round_}\n- intent: check_script, called by the coder\n- result: {result}\n"
        f"- reflection: r\n- script: {script}\n- edits: {edits}\n- changed_lines: {changed}\n"
        f"- parameters: {parameters}\n"
    )


def test_a_digest_of_many_checks_stays_bounded_and_keeps_the_latest() -> None:
    failure = "stability (seed 3): " + "wobbles " * 100
    entries = ["## planner\n- intent: plan the benchmark: push it\n- result: ok\n"]
    for i in range(40):
        result = "all checks pass" if i % 2 else "; ".join([failure] * 8)
        entries.append(_check_entry(1 + i // 10, f"{i:012x}", result, parameters=f"a={i}, b=2"))
    digest = compress("many", "\n".join(entries))
    assert len(digest.checks) == MAX_CHECKS and digest.checks[-1].script == f"{39:012x}"
    assert len(digest.fixes) == MAX_FIXES and all(len(f) <= MAX_FIX_CHARS for f in digest.fixes)
    assert digest.fixes[-1].startswith("stability failed, then passed within round 4 (check_script) after: a 38 -> 39")
    assert digest.checks[-1].parameter_changes == ["a 38 -> 39"]
    assert len(digest.model_dump_json()) < 24 * 1024


def _learn_what_was_fixed_within_a_turn(request: Request) -> Reply | str:
    """A learner, played by the scripted provider server: it reads the journals page, then writes a skill
    from the fixes made within one turn, citing each and naming the sessions they came from."""
    if request.last_result is None:
        return provider_call("read_file", file_path=prompts.JOURNALS_PATH, offset=0, limit=20)
    if request.calls_of("write_file"):
        return "wrote rest-free-parts-on-the-floor"
    shown = request.results_of("read_file")[-1].text
    sessions = [SessionDigest.model_validate_json(line) for line in shown_file(shown)[0].splitlines() if line]
    fixed = {s.candidate: f for s in sessions for f in s.fixes if " within round " in f}
    if not fixed:
        return "nothing learned"
    put = next(line[2:] for s in sessions for c in s.checks if c.edit for line in c.edit.lines if line[0] == "+")
    text = (
        "---\nname: rest-free-parts-on-the-floor\ndescription: Place free parts on the floor, not into it.\n"
        f'metadata:\n  evidence: "{" ".join(sorted(fixed))}"\n---\n# Free parts rest on the floor\n\n'
        + "".join(f"- `{candidate}`: {fix}\n" for candidate, fix in sorted(fixed.items()))
        + f"\n```python\n{put.lstrip('…')}\n```\n"
    )
    return provider_call(
        "write_file", file_path=f"{prompts.LEARNED_DIR}/rest-free-parts-on-the-floor/SKILL.md", content=text
    )


@pytest.mark.sandbox
@pytest.mark.usefixtures("require_bubblewrap")
@pytest.mark.enable_socket
@pytest.mark.allow_hosts(["127.0.0.1"])
def test_the_learner_learns_a_geometry_fix_made_within_one_turn_and_names_its_evidence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fixed = _fail_then_fix(tmp_path / "a", [])
    clean = _session(tmp_path / "b", [write("/script.py", GOOD), call("check_script"), "it passes"])
    sessions = [
        compress("fix-1", (fixed / "journal.md").read_text(), PLAN),
        compress("clean-1", (clean / "journal.md").read_text(), PLAN),
    ]
    assert not sessions[1].fixes and [c.passed for c in sessions[1].checks] == [True]
    # The learner's model is a real client (langchain-openai) talking to a scripted provider on loopback.
    with serve(by_role(skill_learner=_learn_what_was_fixed_within_a_turn)) as server:
        for name, value in server.env("openai").items():
            monkeypatch.setenv(name, value)
        result = run_learner(sessions, None, tmp_path / "learner", "openai:gpt-4.1-mini", tmp_path)
        system = server.requests[0].request.system
    # The learner was told what the checks and edits are.
    assert "`checks`" in system and "`edit`" in system
    assert result.usage["calls"] == 3 and result.usage["cost_usd"]
    skill = parse_skill(result.proposals["rest-free-parts-on-the-floor"], "rest-free-parts-on-the-floor")
    assert skill.evidence == ["fix-1"]
    assert "`fix-1`: inside_workspace, no_interpenetration, stability failed, then passed within round 1" in skill.body
    assert "Pos(-200, 0, size / 2 + 0.3)" in skill.body
