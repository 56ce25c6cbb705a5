"""A rejected review goes back to the coder in the pipeline: each round is a run of cad_script and every
stage after it, through `benchgen generate`'s runner and through the daemon's revision sensor."""

from pathlib import Path

import dagster as dg
import pytest

from benchgen_dagster import runner
from benchgen_dagster.agent.session import SessionResult
from benchgen_dagster.definitions import build_definitions
from benchgen_dagster.defs.requests import GENERATE_JOB, candidate_run_failure_sensor, new_candidates
from benchgen_dagster.defs.resources import AgentsResource, RegistryResource
from benchgen_dagster.defs.review import REVISION_ASSETS, review_revision_sensor
from benchgen_dagster.models.registry import BenchmarkRequest
from tests.conftest import SCRIPTS

GOOD = (SCRIPTS / "good_box.py").read_text()
PLAN = "---\nfamily: none\ntier: 1\n---\n# Push a box\n\n## Learning objectives\n- push\n"
COMMENT = "the goal zone is hard to see: make it larger"
ROUND_STAGES = ("cad_script", "compiled_scenes", "simulation_report", "benchmark_review")


class ReviewingAgents(AgentsResource):
    """A test double for the agents: the coder writes good_box.py, with the review it was given as a
    comment on top (a changed script, which the sandbox stages check again); the reviewer rejects until
    `approve_in_round` (0: never)."""

    approve_in_round: int = 0

    def run(  # type: ignore[override]
        self,
        roles: tuple[str, ...],
        prompt: str,
        workspace: Path,
        feedback: str = "",
        start_round: int = 0,
        **_: object,
    ) -> SessionResult:
        workspace.mkdir(parents=True, exist_ok=True)
        round_, decision, reason = max(1, start_round), "handed_off", ""
        if "planner" in roles:
            (workspace / "plan.md").write_text(PLAN)
        if "coder" in roles:
            (workspace / "script.py").write_text(f"# {feedback}\n{GOOD}" if feedback else GOOD)
        if "reviewer" in roles:
            approved = 0 < self.approve_in_round <= round_
            decision, reason = ("approved", "fine") if approved else ("rejected", COMMENT)
            (workspace / "reviews").mkdir(exist_ok=True)
            review = f"---\ndecision: {decision}\ncomments: [{reason!r}]\n---\n"
            (workspace / "reviews" / f"{round_}.md").write_text(review)
        return SessionResult(
            session_id="scripted",
            decision=decision,
            reason=reason,
            rounds=round_,
            checks_passed=True,
            failed_checks=[],
            usage={},
            estimated_cost_usd=0.0,
            wall_s=0.0,
            workspace=str(workspace),
        )


def _candidate(registry: RegistryResource, instance: dg.DagsterInstance, max_rounds: int | None = None) -> str:
    request = BenchmarkRequest(prompt="push a box into a goal", max_rounds=max_rounds)
    (candidate,) = new_candidates(request, "test")
    registry.add([candidate])
    instance.add_dynamic_partitions("benchmark_candidates", [candidate.key])
    return candidate.key


def _metadata(instance: dg.DagsterInstance, asset: str, key: str) -> list[dict[str, object]]:
    """Each materialization's metadata values for one candidate, oldest first."""
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), asset_partitions=[key]), limit=10, ascending=True
    ).records
    return [
        {name: value.value for name, value in r.asset_materialization.metadata.items()}
        for r in records
        if r.asset_materialization
    ]


@pytest.mark.sandbox
@pytest.mark.usefixtures("require_bubblewrap")
def test_generate_sends_a_rejected_script_back_to_the_coder_and_promotes_round_2(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    defs = build_definitions({"agents": ReviewingAgents(approve_in_round=2)})
    monkeypatch.setattr(runner, "definitions", lambda: defs)
    registry = RegistryResource()
    with dg.instance_for_test() as instance:
        key = _candidate(registry, instance)
        assert runner.materialize_candidate(key, instance)
        # Every stage from the script on ran once a round, and says which round in the UI.
        rounds = {asset: [m["round"] for m in _metadata(instance, asset, key)] for asset in ROUND_STAGES}
        assert rounds == {asset: [1, 2] for asset in ROUND_STAGES}
        first, second = _metadata(instance, "benchmark_review", key)
        assert first["verdict"] == f"rejected in round 1: {COMMENT}; back to the coder for round 2"
        assert first["next_round"] == {"round": 2, "review": COMMENT}
        assert second["verdict"] == "approved in round 2" and "next_round" not in second
        # The coder of round 2 was given the review's comments, and its revised script is the one promoted.
        scripts = _metadata(instance, "cad_script", key)
        assert scripts[0]["review_feedback"] == "none: the first round"
        assert scripts[1]["review_feedback"] == f"Review of round 1: {COMMENT}"
        assert COMMENT in str(scripts[1]["script"]) and COMMENT not in str(scripts[0]["script"])
        (promoted,) = _metadata(instance, "promoted_benchmark", key)
    candidate = registry.get(key)
    assert candidate is not None and candidate.status == "promoted"
    assert candidate.benchmark_id == promoted["benchmark_id"]
    assert COMMENT in (Path(str(promoted["location"])) / "script.py").read_text()


@pytest.mark.sandbox
@pytest.mark.usefixtures("require_bubblewrap")
def test_the_revision_sensor_sends_it_back_until_max_rounds_and_then_the_rejection_is_final() -> None:
    defs = build_definitions({"agents": ReviewingAgents(approve_in_round=0)})
    job = defs.resolve_job_def(GENERATE_JOB)
    registry = RegistryResource()

    def tick() -> list[dg.RunRequest]:
        result = review_revision_sensor(dg.build_sensor_context(instance=instance, resources={"registry": registry}))
        return list(result.run_requests or [])

    with dg.instance_for_test() as instance:
        key = _candidate(registry, instance, max_rounds=2)
        first = job.execute_in_process(partition_key=key, instance=instance, raise_on_error=False)
        assert not first.success
        waiting = registry.get(key)
        assert waiting is not None and waiting.status == "revising"
        (revision,) = tick()
        assert revision.partition_key == key and revision.run_key == f"{key}-round-2"
        assert revision.run_config == {"ops": {"cad_script": {"config": {"round": 2, "review": COMMENT}}}}
        assert [k.to_user_string() for k in revision.asset_selection or []] == list(REVISION_ASSETS)
        assert tick() == []  # claimed: one run per round, however many ticks or processes look
        # Round 1's run failed on its review, which recorded the verdict: the run failure sensor, late
        # or not, leaves the claimed round alone.
        failure = first.get_run_failure_event()
        late = dg.build_run_status_sensor_context(
            "candidate_run_failure_sensor", failure, instance, first.dagster_run, resources={"registry": registry}
        ).for_run_failure()
        candidate_run_failure_sensor(late)
        claimed = registry.get(key)
        assert claimed is not None and claimed.status == "running"
        second = job.execute_in_process(
            partition_key=key,
            instance=instance,
            asset_selection=list(revision.asset_selection or []),
            run_config=revision.run_config,
            tags=revision.tags,
            raise_on_error=False,
        )
        assert not second.success
        # The revised script went through the sandbox stages and their blocking checks again.
        assert {e.asset_key.to_user_string() for e in second.get_asset_materialization_events()} == set(ROUND_STAGES)
        assert {e.check_name for e in second.get_asset_check_evaluations()} >= {"geometry", "solvability"}
        assert [m["round"] for m in _metadata(instance, "benchmark_review", key)] == [1, 2]
        assert tick() == []
    candidate = registry.get(key)
    assert candidate is not None and candidate.status == "rejected"
    assert candidate.reason == f"review rejected in round 2, the last of 2: {COMMENT}"


def test_a_batch_queues_the_next_round_of_a_rejected_candidate_as_soon_as_its_run_ends(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from benchgen_dagster import run_queue

    submitted: list[tuple[str, dict[str, object], list[dg.AssetKey] | None]] = []

    class RecordedQueue:
        """The run queue, as far as the batch sees it: every run it waits for ends failed."""

        def __init__(self, *_: object) -> None:
            pass

        def __enter__(self) -> "RecordedQueue":
            return self

        def __exit__(self, *_: object) -> None:
            pass

        def submit(self, job: str, key: str, config: dict[str, object], selection: object = None, *_: object) -> str:
            submitted.append((key, config, list(selection) if selection else None))  # type: ignore[call-overload]
            return f"run-{len(submitted)}"

        def wait(self, run_ids: list[str], first: bool = False) -> dict[str, dg.DagsterRun]:
            assert first, "the batch waits for the first run to end, not for the slowest"
            failed = dg.DagsterRunStatus.FAILURE
            return {i: dg.DagsterRun(job_name=GENERATE_JOB, run_id=i, status=failed) for i in run_ids}

    monkeypatch.setattr(run_queue, "RunQueue", RecordedQueue)
    monkeypatch.setattr(run_queue, "run_events", lambda *_: [])
    registry = RegistryResource()
    with dg.instance_for_test() as instance:
        key = _candidate(registry, instance)
        # Round 1's review, as the stage leaves it: rejected with a round left.
        registry.update(key, status="revising", stage="benchmark_review")
        instance.report_runless_asset_event(
            dg.AssetMaterialization(
                "benchmark_review", partition=key, metadata={"next_round": {"round": 2, "review": COMMENT}}
            )
        )
        runner.materialize_side_by_side([key], instance, limit=2)
    config = {"ops": {"cad_script": {"config": {"round": 2, "review": COMMENT}}}}
    assert submitted == [
        (key, runner.QUIET, None),
        (key, {**runner.QUIET, **config}, [dg.AssetKey(name) for name in REVISION_ASSETS]),
    ]
    # Round 2's run failed without a verdict of its own: the candidate failed, not left running.
    candidate = registry.get(key)
    assert candidate is not None and candidate.status == "failed"
