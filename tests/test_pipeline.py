"""The Dagster layer: the definitions, the request sensor, bad input, and one candidate end to end."""

import os
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pytest
import yaml

from benchgen_dagster.agent.session import SessionResult
from benchgen_dagster.definitions import build_definitions
from benchgen_dagster.defs.requests import new_candidates, request_files_sensor
from benchgen_dagster.defs.resources import AgentsResource, RegistryResource
from benchgen_dagster.models.registry import BenchmarkRequest, dataset_table
from tests.conftest import SCRIPTS, benchgen


def test_the_definitions_hold_every_asset_check_job_sensor_and_schedule() -> None:
    defs = build_definitions()
    graph = defs.resolve_asset_graph()
    assert sorted(k.to_user_string() for k in graph.get_all_asset_keys()) == [
        "agent_journals",
        "benchmark_dataset",
        "benchmark_plan",
        "benchmark_request",
        "benchmark_review",
        "cad_script",
        "compiled_scenes",
        "dataset_audit",
        "dataset_gallery",
        "dataset_quality",
        "difficulty_calibration",
        "learned_skills",
        "promoted_benchmark",
        "simulation_report",
        "solver_evaluations",
        "solver_leaderboard",
    ]
    checks = {(c.asset_key.to_user_string(), c.name) for c in graph.asset_check_keys}
    assert checks == {
        ("compiled_scenes", "geometry"),
        ("compiled_scenes", "randomization_coverage"),
        ("simulation_report", "stability"),
        ("simulation_report", "non_triviality"),
        ("simulation_report", "solvability"),
        ("benchmark_review", "review_approved"),
        ("dataset_audit", "audit_passed"),
    }
    assert {s.name for s in defs.sensors or []} == {
        "request_files_sensor",
        "candidate_run_failure_sensor",
        "review_revision_sensor",
        "benchgen_automation_sensor",
        "skill_learning_sensor",
    }
    assert {s.name for s in defs.schedules or []} == {
        "daily_batch_schedule",
        "weekly_skill_learning",
        "weekly_dataset_audit",
    }
    assert {j.name for j in defs.jobs or []} == {
        "generate_benchmarks",
        "publish_dataset",
        "learn_skills",
        "audit_dataset",
        "evaluate_solver",
        "publish_leaderboard",
        "calibrate_difficulty",
    }
    audit = defs.resolve_job_def("audit_dataset")
    assert {k.to_user_string() for k in audit.asset_layer.selected_asset_keys} == {
        "dataset_audit",
        "benchmark_dataset",
        "dataset_quality",
        "dataset_gallery",
    }
    # A partition per solver run, after the promoted benchmarks; their runs calibrate the difficulty the index
    # then carries (so the index cannot come before them).
    evaluations = graph.get(dg.AssetKey("solver_evaluations"))
    assert evaluations.partitions_def == dg.DynamicPartitionsDefinition(name="solver_runs")
    assert dg.AssetKey("promoted_benchmark") in evaluations.parent_keys
    assert graph.get(dg.AssetKey("solver_leaderboard")).parent_keys == {dg.AssetKey("solver_evaluations")}
    assert graph.get(dg.AssetKey("difficulty_calibration")).parent_keys == {dg.AssetKey("solver_evaluations")}
    assert dg.AssetKey("difficulty_calibration") in graph.get(dg.AssetKey("benchmark_dataset")).parent_keys
    assert graph.get(dg.AssetKey("cad_script")).code_version
    assert dg.AssetKey("learned_skills") in graph.get(dg.AssetKey("cad_script")).parent_keys
    assert dg.AssetKey("agent_journals") in graph.get(dg.AssetKey("learned_skills")).parent_keys
    for stale_aware in ("compiled_scenes", "simulation_report", "benchmark_review", "promoted_benchmark"):
        assert graph.get(dg.AssetKey(stale_aware)).automation_condition is not None
    lineage = graph.get(dg.AssetKey("promoted_benchmark")).parent_keys
    assert {k.to_user_string() for k in lineage} >= {"cad_script", "benchmark_review", "simulation_report"}


def test_the_sensor_turns_request_files_into_partitions_and_sets_bad_ones_aside(_benchgen_home: Path) -> None:
    requests = _benchgen_home / "requests"
    requests.mkdir()
    (requests / "levers.yaml").write_text(yaml.safe_dump({"prompt": "class-1 lever puzzles", "count": 2, "tier": 2}))
    (requests / "broken.yaml").write_text("prompt: [unclosed\n")
    (requests / "zero.yaml").write_text(yaml.safe_dump({"prompt": "a ball", "count": 0}))
    registry = RegistryResource()
    with dg.instance_for_test() as instance:
        context = dg.build_sensor_context(instance=instance, resources={"registry": registry})
        result = request_files_sensor(context)
        assert isinstance(result, dg.SensorResult)
        assert len(result.run_requests or []) == 2
        keys = [r.partition_key for r in result.run_requests or []]
        assert [r.run_key for r in result.run_requests or []] == keys
        added = result.dynamic_partitions_requests or []
        assert len(added) == 1 and sorted(added[0].partition_keys or []) == sorted(keys)  # type: ignore[union-attr]
        again = request_files_sensor(dg.build_sensor_context(instance=instance, resources={"registry": registry}))
        assert isinstance(again, dg.SensorResult) and not again.run_requests
    assert (requests / "accepted" / "levers.yaml").is_file()
    for name in ("broken.yaml", "zero.yaml"):
        assert (requests / "rejected" / name).is_file()
    assert "count" in (requests / "rejected" / "zero.yaml.error.txt").read_text()
    candidates = registry.all()
    assert [c.variant for c in candidates] == [1, 2] and all(c.status == "queued" for c in candidates)
    assert "Candidate 2 of 2" in candidates[1].request.agent_prompt(2)


def test_a_candidate_that_repeats_a_promoted_benchmarks_meshes_is_a_duplicate(_benchgen_home: Path) -> None:
    registry = RegistryResource()
    with registry.engine.begin() as db:
        db.execute(
            dataset_table.insert().values(
                benchmark_id="ball-over-wall-1",
                candidate="r1-v1",
                title="t",
                tier=1,
                family="ball_over_wall",
                prompt="p",
                model="offline",
                script_sha256="0" * 64,
                seeds=8,
                parameters={},
                mesh_digests={"0": "aaa", "1": "bbb"},
                path="/x",
                location="/x",
                promoted_at=datetime.now(UTC),
            )
        )
    assert registry.duplicate_of({"0": "zzz", "1": "bbb"}, "r2-v1") == "ball-over-wall-1"
    assert registry.duplicate_of({"0": "zzz"}, "r2-v1") is None
    assert registry.duplicate_of({"0": "aaa"}, "r1-v1") is None  # re-promoting the same candidate
    # An old benchmark's digests came from another judge (they may never match a new one's): the same
    # script is still the same benchmark.
    assert registry.duplicate_of({"0": "new"}, "r2-v1", script_sha256="0" * 64) == "ball-over-wall-1"
    assert registry.duplicate_of({"0": "new"}, "r2-v1", script_sha256="1" * 64) is None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["generate", "a ball into a bin", "--count", "0"], "count"),
        (["generate", "a ball into a bin", "--count", "10000"], "count"),
        (["generate", "a ball into a bin", "--tier", "7"], "tier"),
        (["generate", "a ball into a bin", "--max-rounds", "0"], "max_rounds"),
        (["generate"], "either a PROMPT or --batch"),
        (["generate", "--batch", "no/such/batch.yaml"], "cannot read"),
        (["show", "no-such-id"], "no candidate or benchmark with id 'no-such-id'"),
        (["promote", "no-such-id"], "no candidate or benchmark"),
        (["reject", "no-such-id", "--reason", "x"], "no candidate or benchmark"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: list[str], message: str) -> None:
    result = benchgen(*args)
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_missing_home_or_an_unreachable_database_is_one_line(tmp_path: Path) -> None:
    missing = benchgen("list", env={**os.environ, "BENCHGEN_HOME": str(tmp_path / "nowhere")})
    assert missing.returncode == 2 and "does not exist" in missing.stderr
    env = {**os.environ, "BENCHGEN_REGISTRY_URL": "postgresql+psycopg2://postgres@127.0.0.1:1/benchgen"}
    unreachable = benchgen("generate", "a ball into a bin", env=env)
    assert unreachable.returncode == 1, unreachable.stdout + unreachable.stderr
    assert "registry database" in unreachable.stderr and "cannot be reached" in unreachable.stderr
    assert "Traceback" not in unreachable.stderr and len(unreachable.stderr.strip().splitlines()) == 1


def test_an_embedded_instance_from_an_earlier_version_gets_the_run_queue(
    _benchgen_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from benchgen_dagster import runner
    from benchgen_dagster.run_queue import queue_limit

    folder = _benchgen_home / "dagster"
    folder.mkdir()
    config = folder / "dagster.yaml"
    earlier = (
        "# The embedded default: SQLite storage in this folder, written by benchgen on first use.\n"
        "# For PostgreSQL, point DAGSTER_HOME at a folder holding the repository's dagster.yaml instead.\n"
        "telemetry:\n  enabled: false\n"
    )
    config.write_text(earlier)
    monkeypatch.setenv("DAGSTER_HOME", "")  # unset as far as benchgen can tell; set back after the test
    with runner.dagster_instance() as instance:
        assert queue_limit(instance) == max(2, len(os.sched_getaffinity(0)))
    assert config.read_text() == runner.embedded_dagster_yaml(folder.resolve())
    # The last version's, written on a machine of another core count, gets run monitoring too.
    config.write_text(runner._EARLIER_QUEUE_TEMPLATE.format(runs=16))
    monkeypatch.setenv("DAGSTER_HOME", "")
    with runner.dagster_instance() as instance:
        assert instance.run_monitoring_enabled
    assert config.read_text() == runner.embedded_dagster_yaml(folder.resolve())
    # A home that was moved: its storage is where it is now.
    config.write_text(runner.embedded_dagster_yaml(Path("/somewhere/else")))
    monkeypatch.setenv("DAGSTER_HOME", "")
    runner.dagster_instance().dispose()
    assert config.read_text() == runner.embedded_dagster_yaml(folder.resolve())
    # A curator's own dagster.yaml is theirs: kept as it is, and a batch without a queue runs in order.
    own = "run_coordinator:\n  module: dagster.core.run_coordinator\n  class: DefaultRunCoordinator\n"
    config.write_text(own)
    monkeypatch.setenv("DAGSTER_HOME", "")
    with runner.dagster_instance() as instance:
        assert queue_limit(instance) is None
    assert config.read_text() == own


PLAN = "---\nfamily: none\ntier: 1\n---\n# Push a box\n\n## Learning objectives\n- push\n"


class ScriptedAgents(AgentsResource):
    """A test double for the agents: writes a fixed plan and script, as the roles would."""

    script: str
    plan: str = PLAN
    # The reviewer's verdict when it is asked for one.
    approve: bool = False

    def run(self, roles: tuple[str, ...], prompt: str, workspace: Path, **_: object) -> SessionResult:
        workspace.mkdir(parents=True, exist_ok=True)
        if "planner" in roles:
            (workspace / "plan.md").write_text(self.plan)
        if "coder" in roles:
            (workspace / "script.py").write_text(self.script)
        decision = "handed_off"
        if "reviewer" in roles:
            decision = "approved" if self.approve else "rejected"
            (workspace / "reviews").mkdir(exist_ok=True)
            (workspace / "reviews" / "1.md").write_text(f"---\ndecision: {decision}\ncomments: [scripted]\n---\n")
        return SessionResult(
            session_id="scripted",
            decision=decision,
            reason="",
            rounds=1,
            checks_passed=False,
            failed_checks=[],
            usage={},
            estimated_cost_usd=0.0,
            wall_s=0.0,
            workspace=str(workspace),
        )


def _candidate(registry: RegistryResource, instance: dg.DagsterInstance) -> str:
    (candidate,) = new_candidates(BenchmarkRequest(prompt="push a box into a goal"), "test")
    registry.add([candidate])
    instance.add_dynamic_partitions("benchmark_candidates", [candidate.key])
    return candidate.key


@pytest.mark.sandbox
@pytest.mark.usefixtures("require_bubblewrap")
def test_a_failed_gate_stops_the_candidate_and_says_which_seed_and_why() -> None:
    bad = (SCRIPTS / "good_box.py").read_text().replace("size / 2 + 0.3", "size / 2 - 20")  # sunk into the floor
    defs = build_definitions({"agents": ScriptedAgents(script=bad)})
    registry = RegistryResource()
    with dg.instance_for_test() as instance:
        key = _candidate(registry, instance)
        result = defs.resolve_job_def("generate_benchmarks").execute_in_process(
            partition_key=key, instance=instance, raise_on_error=False
        )
        assert not result.success
        materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
        assert materialized == {"benchmark_request", "benchmark_plan", "cad_script", "compiled_scenes"}
        evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
        assert not evaluations["geometry"].passed
        assert "no_interpenetration" in str(evaluations["geometry"].metadata["failures"].value)
        # The UI's checks × seeds table: a row per check, a column per seed, the first failure beside it.
        (compiled,) = [e for e in result.get_asset_materialization_events() if e.asset_key.path == ["compiled_scenes"]]
        table = compiled.materialization.metadata["checks_by_seed"].value
        assert isinstance(table, dg.TableMetadataValue)
        assert [c.name for c in table.schema.columns] == ["check", *map(str, range(8)), "all", "first failure"]
        rows = {r.data["check"]: r.data for r in table.records}
        assert rows["inside_workspace"]["0"] == "✗" and rows["mjcf_loads"]["all"] == "·"
        assert rows["inside_workspace"]["first failure"].startswith("(seed 0) part 'box'")
    candidate = registry.get(key)
    assert candidate is not None and candidate.status == "rejected"
    # The box sunk 20 mm below the floor: out of the workspace, first of the geometry checks to say so.
    assert candidate.reason.startswith("check geometry failed (inside_workspace, seed 0): part 'box'")


def test_a_curators_rejection_stands_against_a_queued_run() -> None:
    defs = build_definitions({"agents": ScriptedAgents(script="raise SystemExit")})
    registry = RegistryResource()
    with dg.instance_for_test() as instance:
        key = _candidate(registry, instance)
        registry.update(key, status="rejected", reason="curator: not this one")
        result = defs.resolve_job_def("generate_benchmarks").execute_in_process(
            partition_key=key, instance=instance, raise_on_error=False
        )
        assert not result.success and not result.get_asset_materialization_events()
    candidate = registry.get(key)
    assert candidate is not None and candidate.status == "rejected" and candidate.reason == "curator: not this one"


def test_the_simulation_report_gates_on_the_verdict_compiled_scenes_made(monkeypatch: pytest.MonkeyPatch) -> None:
    from benchgen_dagster.defs.resources import SandboxResource
    from benchgen_dagster.defs.simulation import simulation_report
    from benchgen_dagster.models.reports import CheckReport, CheckResult, Failure
    from benchgen_dagster.worker.versions import judge_version

    def no_second_judging(_: SandboxResource) -> None:
        raise AssertionError("simulation_report asked the judge again")

    monkeypatch.setattr(SandboxResource, "checker", no_second_judging)
    registry = RegistryResource()
    (candidate,) = new_candidates(BenchmarkRequest(prompt="push a box into a goal"), "test")
    registry.add([candidate])
    unstable = Failure(check="stability", seed=3, message="the box flew off at 140 m/s")
    report = CheckReport(
        script="script.py",
        seeds=[0, 3],
        passed=False,
        failures=[unstable],
        results=[CheckResult(check="stability", seed=3, passed=False, message=unstable.message)],
    )
    compiled = {"script_sha256": "a" * 64, "judge": judge_version(), "report": report.model_dump_json()}
    context = dg.build_asset_context(partition_key=candidate.key)
    from benchgen_dagster.defs.artifacts import ArtifactStoreResource

    events = list(
        simulation_report(
            context,
            compiled_scenes=compiled,
            sandbox=SandboxResource(),
            registry=registry,
            artifacts=ArtifactStoreResource(),
        )
    )
    output = next(e for e in events if isinstance(e, dg.Output))
    assert output.value["passed"] is False and output.value["failed_checks"] == ["stability"]
    stability = next(e for e in events if isinstance(e, dg.AssetCheckResult) and e.check_name == "stability")
    assert not stability.passed
    stored = registry.get(candidate.key)
    assert stored is not None and stored.status == "rejected" and "140 m/s" in stored.reason


def test_checks_made_before_the_trusted_judge_are_never_promoted() -> None:
    from benchgen_dagster.defs.artifacts import ArtifactStoreResource
    from benchgen_dagster.defs.promotion import promoted_benchmark
    from benchgen_dagster.defs.resources import SandboxResource
    from benchgen_dagster.worker.versions import judge_version

    registry = RegistryResource()
    (candidate,) = new_candidates(BenchmarkRequest(prompt="push a box into a goal"), "test")
    registry.add([candidate])
    same = {"script_sha256": "a" * 64}
    # What a held candidate checked by the old in-process child carries: passed, approved, and no judge.
    inputs = {
        "benchmark_request": {"require_approval": False, "prompt": "p", "model": "offline", "tier": 1},
        "benchmark_plan": {"plan": PLAN},
        "cad_script": {**same, "skills": {}},
        "compiled_scenes": {**same, "digests": {}},
        "simulation_report": {**same, "passed": True, "seeds": [0], "judge": judge_version()},
        "benchmark_review": {**same, "decision": "approved", "reason": ""},
    }
    context = dg.build_asset_context(partition_key=candidate.key)
    with pytest.raises(dg.Failure, match="not made by the current trusted judge"):
        list(
            promoted_benchmark(
                context, registry=registry, artifacts=ArtifactStoreResource(), sandbox=SandboxResource(), **inputs
            )
        )
    stored = registry.get(candidate.key)
    assert stored is not None and stored.status == "rejected" and "run the candidate again" in stored.reason


def _plan_stage(plan: str, instance: dg.DagsterInstance) -> tuple[str, dg.ExecuteInProcessResult, RegistryResource]:
    """The request and plan stages alone, for one candidate whose planner writes `plan`."""
    from benchgen_dagster.defs.artifacts import ArtifactStoreResource
    from benchgen_dagster.defs.planning import benchmark_plan
    from benchgen_dagster.defs.requests import benchmark_request
    from benchgen_dagster.defs.resources import SandboxResource

    registry = RegistryResource()
    key = _candidate(registry, instance)
    result = dg.materialize(
        [benchmark_request, benchmark_plan],
        partition_key=key,
        instance=instance,
        resources={
            "agents": ScriptedAgents(script="", plan=plan),
            "registry": registry,
            "sandbox": SandboxResource(),
            "artifacts": ArtifactStoreResource(),
        },
        raise_on_error=False,
    )
    return key, result, registry


def test_a_plan_whose_front_matter_does_not_validate_rejects_the_candidate_in_one_line() -> None:
    with dg.instance_for_test() as instance:
        key, result, registry = _plan_stage("---\nfamily: ball_over_wall\ntier: 3\n---\n# Plan\n", instance)
    assert not result.success
    assert {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()} == {"benchmark_request"}
    assert not [e for e in result.all_events if e.event_type_value == "STEP_RESTARTED"]  # final, not retried
    candidate = registry.get(key)
    assert candidate is not None and candidate.status == "rejected"
    assert candidate.reason == "benchmark_plan: plan.md front matter: tier: Input should be less than or equal to 2"


def test_the_plan_stage_shows_the_plans_deviations_and_generate_reads_them_from_there() -> None:
    from benchgen_dagster.defs.planning import plan_deviations

    plan = (
        "---\nfamily: ball_over_wall\ntier: 1\noverrides: {bin_x: 625}\nscale: 1.3\ndeviations:\n"
        "- {quantity: travel sideways, requested: 1500, planned: 1202.5, unit: mm, reason: it reaches 1202.5 mm}\n"
        "---\n# Ball\n\n## Learning objectives\n1. get a ball\n   over a wall\n"
    )
    with dg.instance_for_test() as instance:
        key, result, _ = _plan_stage(plan, instance)
        assert result.success
        (planned,) = [e for e in result.get_asset_materialization_events() if e.asset_key.path == ["benchmark_plan"]]
        metadata = planned.materialization.metadata
        table = metadata["deviations"].value
        assert isinstance(table, dg.TableMetadataValue)
        assert [r.data for r in table.records] == [
            {
                "quantity": "travel sideways",
                "requested": 1500.0,
                "planned": 1202.5,
                "unit": "mm",
                "reason": "it reaches 1202.5 mm",
            }
        ]
        assert metadata["deviation_count"].value == 1 and metadata["family"].value == "ball_over_wall"
        assert metadata["layout_scale"].value == 1.3
        assert "- get a ball over a wall" in str(metadata["learning_objectives"].value)
        output = result.asset_value("benchmark_plan")
        assert output["front_matter"]["deviations"][0]["planned"] == 1202.5
        assert plan_deviations([key, "never-planned"], instance) == {
            key: [
                "layout grown 1.3× to reach the request",
                "travel sideways 1500 -> 1202.5 mm (it reaches 1202.5 mm)",
            ],
            "never-planned": [],
        }
