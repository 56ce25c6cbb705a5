"""The skill learner: journals compressed, skills derived from evidence, validated, versioned, used and browsed."""

import json
from pathlib import Path

import dagster as dg
import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage

from benchgen_dagster.agent.configuration import SessionConfig
from benchgen_dagster.agent.journals import JournalError, compress
from benchgen_dagster.agent.learner import LearnerResult, run_learner
from benchgen_dagster.agent.offline.coder import revise
from benchgen_dagster.agent.offline.learner import derive_skills
from benchgen_dagster.agent.offline.messages import shown_file
from benchgen_dagster.agent.offline.model import OfflinePolicyModel
from benchgen_dagster.agent.offline.planning import OfflinePlan
from benchgen_dagster.agent.offline.reading import RequestReading
from benchgen_dagster.agent.skills import SkillNotFound, SkillStore
from benchgen_dagster.agent.tools import SessionContext
from benchgen_dagster.defs.artifacts import ArtifactStoreResource
from benchgen_dagster.defs.resources import AgentsResource, RegistryResource
from benchgen_dagster.defs.skills import agent_journals, build_skill_learning_sensor, learned_skills
from benchgen_dagster.library import family as library_family
from benchgen_dagster.models.skills import JournalRound, SessionDigest, SkillError, parse_skill
from tests.conftest import benchgen

PLAN = "---\nfamily: ball_over_wall\ntier: 1\noverrides:\n  bin_x: 625.0\n---\n# Ball over a wall\n"
FAILURE = (
    "inside_workspace (seed 5): part 'bin_floor' spans [791.2, -80.0, 0.0]..[951.2, 80.0, 10.0] mm, outside "
    "the workspace; part 'bin_wall' spans [941.2, -80.0, 10.0]..[951.2, 80.0, 90.0] mm; "
    "no_interpenetration (seed 2): 'ball' and 'wall' overlap by 3.1 mm"
)


def _journal(workspace: Path, fixed_to: float = 562.5) -> str:
    """A journal written the way the session writes it: planner, a failing round, a fix, the review."""
    context = SessionContext(config=SessionConfig(prompt="x", workspace=workspace), workspace=workspace, home=workspace)
    workspace.mkdir(parents=True, exist_ok=True)
    context.note("planner", "plan the benchmark: move a steel ball 1 m sideways", "PLAN READY", "plan ready")
    context.round = 1
    context.note(
        "coder",
        "write and verify script.py",
        FAILURE,
        "fix the failing checks next round",
        parameters="bin_x=625, wall_height=120",
    )
    context.round = 2
    context.note(
        "coder",
        "write and verify script.py",
        "SUBMITTED: script.py\nover two lines",
        "all checks pass: on to the reviewer",
        parameters=f"bin_x={fixed_to:g}, wall_height=120",
        skills="",
    )
    context.note("reviewer", "judge the benchmark", "approved: all checks pass", "REVIEW WRITTEN")
    context.note("session", "finish", "approved: all checks pass", "2 round(s)")
    return (workspace / "journal.md").read_text()


def test_a_journal_compresses_to_intent_failures_fixes_and_outcome(tmp_path: Path) -> None:
    digest = compress("req-1-v1", _journal(tmp_path / "ws"), PLAN)
    assert digest.intent == "move a steel ball 1 m sideways" and digest.family == "ball_over_wall"
    assert [r.passed for r in digest.rounds] == [False, True]
    first = digest.rounds[0]
    assert first.parameters == {"bin_x": 625.0, "wall_height": 120.0}
    # One entry per failure, each whole, though the messages hold "; " themselves.
    assert [f.split(" ")[0] for f in first.failures] == ["inside_workspace", "no_interpenetration"]
    assert digest.fixes == ["bin_x 625 -> 562.5 (passed)"]
    assert digest.outcome == "approved" and digest.rounds[1].said == "SUBMITTED: script.py over two lines"
    assert not digest.first_attempt_passed


@pytest.mark.parametrize(
    ("journal", "why"),
    [
        ("", "empty"),
        ("# Journal\n\nsome notes without entries\n", "no '## role' entries"),
        ("# Journal\n\n## coder · round 1\n- reflection: only this\n", "lack an intent or a result"),
    ],
)
def test_an_empty_or_malformed_journal_says_why(journal: str, why: str) -> None:
    with pytest.raises(JournalError, match=why):
        compress("k", journal)


def _digest(
    candidate: str, rounds: list[tuple[dict[str, float], bool]], family: str = "ball_over_wall"
) -> SessionDigest:
    made = [
        JournalRound(round=i + 1, parameters=p, passed=ok, failures=[] if ok else ["inside_workspace (seed 1): out"])
        for i, (p, ok) in enumerate(rounds)
    ]
    fixes = ["changed"] if any(not r.passed for r in made) and made[-1].passed else []
    return SessionDigest(
        candidate=candidate, intent="move it", family=family, rounds=made, fixes=fixes, outcome="approved"
    )


def test_the_offline_learner_writes_a_limit_only_where_one_parameter_change_fixed_a_failure() -> None:
    sessions = [
        _digest("a", [({"bin_x": 625, "wall_height": 120}, False), ({"bin_x": 562.5, "wall_height": 120}, True)]),
        # Two values changed at once: which one was at fault is unknown, so nothing is learned about either.
        _digest("b", [({"bin_x": 600, "ball_radius": 45}, False), ({"bin_x": 550, "ball_radius": 40}, True)]),
        # Passed first time: no lesson, but a passing value the limit may use.
        _digest("c", [({"bin_x": 575, "wall_height": 120}, True)]),
        _digest("d", [({"gap_width": 99}, True)], family="drawbridge"),
    ]
    skills = derive_skills(sessions)
    assert list(skills) == ["ball-over-wall-limits"]
    skill = parse_skill(skills["ball-over-wall-limits"], "ball-over-wall-limits")
    assert skill.family == "ball_over_wall" and skill.evidence == ["a"]
    assert skill.limits["bin_x"].high == 575 and skill.limits["bin_x"].low is None
    assert set(skill.limits) == {"bin_x"}
    # The same journals give the same text: learning twice publishes nothing new.
    assert derive_skills(list(reversed(sessions))) == skills


VALID = (
    "---\nname: ball-over-wall-limits\ndescription: keep bin_x small\nmetadata:\n  family: ball_over_wall\n"
    '  limits: "bin_x <= 562.5"\n  evidence: "req-1-v1 req-2-v1"\n---\n# Limits\n\n```python\nbin_x = 562.5\n```\n'
)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "empty"),
        ("# no front matter\n", "front matter"),
        ("---\nname: [unclosed\n---\nbody\n", "not YAML"),
        (VALID.replace("name: ball-over-wall-limits", "name: Ball_Limits"), "lowercase"),
        (VALID.replace("name: ball-over-wall-limits", "name: other-skill"), "must match its folder"),
        (VALID.replace("description: keep bin_x small\n", ""), "'name' and 'description'"),
        (VALID.replace('  evidence: "req-1-v1 req-2-v1"\n', ""), "evidence"),
        (VALID.replace("```python", "```"), "python code example"),
        (VALID.replace("bin_x <= 562.5", "bin_x about 562"), "is not"),
        (VALID.replace("  family: ball_over_wall\n", ""), "needs metadata.family"),
    ],
)
def test_an_invalid_skill_is_refused_with_the_reason(text: str, why: str) -> None:
    with pytest.raises(SkillError, match=why):
        parse_skill(text, "ball-over-wall-limits")


def test_the_store_versions_skills_refuses_invalid_ones_and_diffs(tmp_path: Path) -> None:
    store = SkillStore(tmp_path)
    name = "ball-over-wall-limits"
    assert store.propose(name, VALID, "offline").status == "new"
    assert store.propose(name, VALID, "offline").status == "unchanged"
    v2 = VALID.replace("562.5", "550")
    assert store.propose(name, v2, "offline").model_dump() == {
        "name": name,
        "status": "updated",
        "version": 2,
        "reason": "",
    }
    refused = store.propose(name, v2.replace("```python", "```"), "offline")
    assert refused.status == "rejected" and "code example" in refused.reason
    typo = store.propose(name, v2.replace("family: ball_over_wall", "family: ball-over-wall"), "offline")
    assert typo.status == "rejected" and "not a library family" in typo.reason
    unknown = store.propose(name, v2.replace("bin_x <= 550", "bin_z <= 550"), "offline")
    assert unknown.status == "rejected" and "no parameters ['bin_z']" in unknown.reason
    assert store.current_text(name) == v2 and store.label(name).startswith("v2 (")
    assert [v.version for v in store.versions(name)] == [1, 2] and store.text(name, 1) == VALID
    assert '-  limits: "bin_x <= 562.5"' in store.diff(name) and '+  limits: "bin_x <= 550"' in store.diff(name)
    with pytest.raises(SkillNotFound, match="no version v7"):
        store.text(name, 7)
    # A skill a curator edits by hand is offered as it is, and labelled as not learned.
    (tmp_path / "skills" / name / "SKILL.md").write_text(v2 + "\nmore\n")
    assert store.label(name).startswith("hand-edited")
    # ... and kept as a version of its own when the learner publishes over it.
    assert store.propose(name, VALID, "offline").version == 4
    assert store.text(name, 3) == v2 + "\nmore\n" and store.versions(name)[2].source == "curator (hand-edited)"


def _coder_messages(skill_text: str, skill_path: str) -> list:
    plan = "---\nfamily: ball_over_wall\ntier: 1\noverrides:\n  bin_x: 625.0\n---\n# Ball\n"
    task = f"REQUEST:\nmove a steel ball 1 m sideways\n\nROUND: 1\n\nPLAN (plan.md):\n{plan}"
    system = f"You are the coder.\n- **ball-over-wall-limits**: limits\n  -> Read `{skill_path}` for full instructions"
    return [
        SystemMessage(content=system),
        HumanMessage(content=task),
        AIMessage(content="", tool_calls=[{"name": "read_file", "args": {"file_path": "/plan.md"}, "id": "1"}]),
        ToolMessage(content=f"@@ lines 1-7 of 7 @@\n{plan}", tool_call_id="1", name="read_file"),
    ]


def test_the_offline_coder_reads_the_familys_skill_and_keeps_within_its_limits() -> None:
    model = OfflinePolicyModel(role="coder")
    path = "/skills/ball-over-wall-limits/SKILL.md"
    messages = _coder_messages(VALID, path)
    asks = model.invoke(messages)
    assert asks.tool_calls[0]["name"] == "read_file" and asks.tool_calls[0]["args"]["file_path"] == path
    shown = "@@ lines 1-13 of 13 @@\n" + VALID
    messages += [asks, ToolMessage(content=shown, tool_call_id=asks.tool_calls[0]["id"], name="read_file")]
    writes = model.invoke(messages)
    script = writes.tool_calls[0]["args"]["content"]
    assert writes.tool_calls[0]["name"] == "write_file"
    assert 'p.param("bin_x", nominal=562.5' in script.replace("'", '"') or "nominal=562.5" in script
    # Without the skill, the plan's value is written as planned.
    plain = model.invoke([m for m in _coder_messages(VALID, path) if not isinstance(m, SystemMessage)])
    assert "nominal=625" in plain.tool_calls[0]["args"]["content"]


def _plan(overrides: dict[str, float]) -> OfflinePlan:
    reading = RequestReading(prompt="move a steel ball 1 m sideways")
    return OfflinePlan(family="ball_over_wall", tier=1, title="t", overrides=overrides, rationale="r", reading=reading)


def test_without_a_skill_each_failed_round_moves_the_furthest_value_halfway_back() -> None:
    assert (
        library_family("ball_over_wall").nominals()["bin_x"] == 500
        and library_family("ball_over_wall").nominals()["ball_radius"] == 35
    )
    planned = _plan({"bin_x": 625.0, "ball_radius": 40.0})
    first, changes = revise(planned, 1, True, {})
    assert first.overrides == {"bin_x": 625.0, "ball_radius": 40.0} and not changes
    second, _ = revise(planned, 2, True, {})
    assert second.overrides == {"bin_x": 562.5, "ball_radius": 40.0}  # 1.25x is further out than 1.14x
    third, changes = revise(planned, 3, True, {})
    assert third.overrides == {"bin_x": 562.5, "ball_radius": 37.5} and len(changes) == 2
    # No feedback (a first attempt, or a re-run without review comments): the plan as it is.
    assert revise(planned, 3, False, {})[0].overrides == planned.overrides
    # An override the family does not declare (a hand-written plan) is dropped, not a crash.
    assert revise(_plan({"bin_x": 625.0, "no_such": 0.0}), 2, True, {})[0].overrides == {"bin_x": 562.5}


def test_with_a_skill_a_failed_round_still_changes_the_script() -> None:
    reads = {"/skills/ball-over-wall-limits/SKILL.md": "@@ lines 1-13 of 13 @@\n" + VALID}
    planned = _plan({"bin_x": 625.0, "ball_radius": 40.0})
    first, changes = revise(planned, 1, False, reads)
    assert first.overrides["bin_x"] == 562.5 and changes == ["bin_x 625 -> 562.5 (skill ball-over-wall-limits)"]
    second, _ = revise(planned, 2, True, reads)
    assert second.overrides != first.overrides and second.overrides["bin_x"] <= 562.5


@pytest.mark.parametrize(
    ("shown", "text", "span"),
    [
        ("@@ lines 1-2 of 45 @@\na\nb", "a\nb\n", (1, 2, 45)),
        ("@@ lines 9-16 of 45 | next offset 16 @@\na\n", "a\n", (9, 16, 45)),
        ("[output truncated to fit]\n@@ lines 1-5 of 45 | next offset 5 @@\na\n", "a\n", (1, 5, 45)),
        ("1  ---\n2  name: x\n2.1  y", "---\nname: xy\n", None),
        ("plain\n12 apples\n", "plain\n12 apples\n", None),
    ],
)
def test_read_file_output_is_read_back_as_the_file(shown: str, text: str, span: tuple | None) -> None:
    assert shown_file(shown) == (text, span)


def test_the_learner_agent_proposes_skills_from_journals_offline(tmp_path: Path) -> None:
    sessions = [
        _digest(f"k{i}", [({"bin_x": 625}, False), ({"bin_x": 562.5}, True)]) for i in range(45)
    ]  # more than two pages of journals
    result = run_learner(sessions, None, tmp_path / "learner", "offline", tmp_path)
    assert list(result.proposals) == ["ball-over-wall-limits"] and not result.unreadable
    skill = parse_skill(result.proposals["ball-over-wall-limits"], "ball-over-wall-limits")
    assert len(skill.evidence) == 45 and skill.limits["bin_x"].high == 562.5
    # 45 lines in pages of 8: six reads, one skill written, one answer.
    assert "LEARNED from 45 sessions" in result.answer and result.usage["calls"] == 8


def _candidate_journal(home: Path, key: str, text: str, plan: str = PLAN) -> None:
    workspace = home / "candidates" / key / "workspace"
    workspace.mkdir(parents=True)
    (workspace / "journal.md").write_text(text)
    (workspace / "plan.md").write_text(plan)


class RefusedLearner(AgentsResource):
    """The learner's model writes a SKILL.md without a code example."""

    def learn(self, sessions: list, skills_dir: Path, workspace: Path) -> LearnerResult:
        bad = VALID.replace("```python", "```").replace("562.5", "100")
        return LearnerResult(proposals={"ball-over-wall-limits": bad}, unreadable={}, answer="done", usage={}, wall_s=0)


def _data_version(instance: dg.DagsterInstance, key: str) -> str:
    event = instance.get_latest_materialization_event(dg.AssetKey(key))
    assert event is not None and event.asset_materialization is not None
    return event.asset_materialization.tags["dagster/data_version"]


# The learner's other resources, as the Definitions give them (without a bucket: this host's folders).
_SHARED = {"registry": RegistryResource(), "artifacts": ArtifactStoreResource()}


def _metadata(instance: dg.DagsterInstance, key: str) -> dict:
    event = instance.get_latest_materialization_event(dg.AssetKey(key))
    assert event is not None and event.asset_materialization is not None
    return {k: v.value for k, v in event.asset_materialization.metadata.items()}


def test_the_assets_learn_from_journals_skip_bad_ones_and_keep_the_previous_version(
    _benchgen_home: Path, tmp_path: Path
) -> None:
    _candidate_journal(_benchgen_home, "req-1-v1", _journal(tmp_path / "a"))
    _candidate_journal(_benchgen_home, "req-2-v1", "")
    _candidate_journal(_benchgen_home, "req-3-v1", "# Journal\n\nnothing here\n")
    with dg.instance_for_test() as instance:
        assert dg.materialize(
            [agent_journals, learned_skills], instance=instance, resources={"agents": AgentsResource(), **_SHARED}
        ).success
        journals = _metadata(instance, "agent_journals")
        assert journals["sessions"] == 1 and journals["skipped"] == 2
        assert "req-2-v1" in journals["warnings"] and "empty" in journals["warnings"]
        assert "req-3-v1" in journals["warnings"]
        assert [r.data["candidate"] for r in journals["journals"].records] == ["req-1-v1"]
        learned = _metadata(instance, "learned_skills")
        assert learned["published"] == 1 and learned["refused"] == 0
        (version,) = [r.data for r in learned["versions"].records]
        assert version["skill"] == "ball-over-wall-limits" and version["version"].startswith("v1 (")
        first_version = _data_version(instance, "learned_skills")
        store = SkillStore(_benchgen_home)
        first = store.current_text("ball-over-wall-limits")
        assert first is not None and "bin_x <= 562.5" in first and store.label("ball-over-wall-limits").startswith("v1")

        assert dg.materialize(
            [agent_journals, learned_skills], instance=instance, resources={"agents": RefusedLearner(), **_SHARED}
        ).success
        refused = _metadata(instance, "learned_skills")
        assert refused["refused"] == 1 and "code example" in refused["proposals"]
        assert (
            store.current_text("ball-over-wall-limits") == first and len(store.versions("ball-over-wall-limits")) == 1
        )
        assert _data_version(instance, "learned_skills") == first_version

        # New evidence, a new version: a new data version, which marks every cad_script written before stale.
        _candidate_journal(_benchgen_home, "req-4-v1", _journal(tmp_path / "d", fixed_to=550.0))
        (_benchgen_home / "candidates" / "req-1-v1" / "workspace" / "journal.md").unlink()
        assert dg.materialize(
            [agent_journals, learned_skills], instance=instance, resources={"agents": AgentsResource(), **_SHARED}
        ).success
        assert _metadata(instance, "learned_skills")["published"] == 1
        assert _data_version(instance, "learned_skills") != first_version
        assert "bin_x <= 550" in (store.current_text("ball-over-wall-limits") or "")


def test_the_learning_sensor_waits_for_enough_new_journals(_benchgen_home: Path, tmp_path: Path) -> None:
    sensor = build_skill_learning_sensor(2)
    with dg.instance_for_test() as instance:
        _candidate_journal(_benchgen_home, "req-1-v1", _journal(tmp_path / "a"))
        skipped = sensor(dg.build_sensor_context(instance=instance, resources=_SHARED))
        assert isinstance(skipped, dg.SkipReason) and "1 new journal" in str(skipped.skip_message)
        _candidate_journal(_benchgen_home, "req-2-v1", _journal(tmp_path / "b"))
        request = sensor(dg.build_sensor_context(instance=instance, resources=_SHARED))
        assert isinstance(request, dg.RunRequest) and request.tags["benchgen/new_journals"] == "2"
        # Until that run has learned, later ticks ask for the same run (the key dedupes), not another one.
        _candidate_journal(_benchgen_home, "req-3-v1", _journal(tmp_path / "c"))
        again = sensor(dg.build_sensor_context(instance=instance, resources=_SHARED))
        assert isinstance(again, dg.RunRequest) and again.run_key == request.run_key
        assert dg.materialize(
            [agent_journals, learned_skills], instance=instance, resources={"agents": AgentsResource(), **_SHARED}
        ).success
        after = sensor(dg.build_sensor_context(instance=instance, resources=_SHARED))
        assert isinstance(after, dg.SkipReason) and "0 new journal" in str(after.skip_message)


def test_the_skills_commands_list_show_and_diff(_benchgen_home: Path) -> None:
    store = SkillStore(_benchgen_home)
    name = "ball-over-wall-limits"
    store.propose(name, VALID, "offline")
    store.propose(name, VALID.replace("562.5", "550"), "offline")
    benchmark = _benchgen_home / "dataset" / "bm-1"
    benchmark.mkdir(parents=True)
    label = store.label(name)
    (benchmark / "benchmark.yaml").write_text(json.dumps({"provenance": {"skill_versions": {name: label}}}))

    listed = benchgen("skills", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    (row,) = json.loads(listed.stdout)
    assert row["name"] == name and row["current"].startswith("v2 (") and row["versions"] == 2
    assert row["evidence"] == ["req-1-v1", "req-2-v1"]

    shown = benchgen("skills", "show", name)
    assert shown.returncode == 0 and "bin_x <= 550" in shown.stdout
    assert "v2" in shown.stdout and "bm-1" in shown.stdout
    assert "bin_x <= 562.5" in benchgen("skills", "show", name, "--version", "1").stdout

    diff = benchgen("skills", "diff", name, "--from", "1", "--to", "2")
    assert diff.returncode == 0 and '-  limits: "bin_x <= 562.5"' in diff.stdout

    unknown = benchgen("skills", "show", "no-such-skill")
    assert unknown.returncode == 2 and "no skill named 'no-such-skill'" in unknown.stderr
    assert "Traceback" not in unknown.stderr
    only_one = benchgen("skills", "diff", name, "--to", "1")
    assert only_one.returncode == 2 and "only v1" in only_one.stderr
