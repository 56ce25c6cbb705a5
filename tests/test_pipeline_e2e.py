"""Two candidates side by side through every asset (one held for human approval, then promoted, shown,
exported and withdrawn), as queued runs of the embedded instance."""

import json
import os
import time
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
import yaml

from benchgen_dagster.agent.skills import SkillStore
from tests.conftest import benchgen


@pytest.mark.sandbox
@pytest.mark.usefixtures("require_bubblewrap")
def test_a_batch_side_by_side_from_request_to_promotion_with_human_approval(
    _benchgen_home: Path, tmp_path: Path
) -> None:
    # A skill about the drawer family (its limit holds the default): the coder must read it, and the
    # benchmark's lineage must say which version it was written with.
    skill = "sliding-drawer-limits"
    SkillStore(_benchgen_home).propose(
        skill,
        f"---\nname: {skill}\ndescription: drawer depth\nmetadata:\n  family: sliding_drawer\n"
        '  limits: "drawer_depth <= 300"\n  evidence: "earlier-v1"\n---\n# Depth\n\n```python\nx = 1\n```\n',
        "curator",
    )
    batch = tmp_path / "batch.yaml"
    batch.write_text(
        yaml.safe_dump(
            [
                {"prompt": "a drawer that must be pulled open", "require_approval": True},
                {"prompt": "a box must pass under a low bar", "tier": 1},
            ]
        )
    )
    generated = benchgen("generate", "--batch", str(batch), env={**os.environ, "BENCHGEN_LEARN_AFTER": "1"})
    assert generated.returncode == 0, generated.stdout + generated.stderr
    assert "1 promoted, 1 awaiting approval, 0 rejected or failed of 2" in generated.stdout
    assert "gallery:" in generated.stdout
    # Enough new journals: the learner ran at the end of the batch (nothing to learn from first-attempt
    # passes, so the curator's skill stays as it was).
    assert "skills: learned from 2 new journal(s): 0 published, 0 refused" in generated.stdout
    _ran_side_by_side_through_the_queue(_benchgen_home / "dagster")
    listed = {c["status"]: c for c in json.loads(benchgen("list", "--json").stdout)}
    assert sorted(listed) == ["awaiting_approval", "promoted"]
    key = listed["awaiting_approval"]["key"]
    (other,) = [p.parent.name for p in (_benchgen_home / "dataset").glob("*/benchmark.yaml")]
    # One role per asset, one journal: each role's session keeps what the earlier ones wrote.
    journal = (_benchgen_home / "candidates" / key / "workspace" / "journal.md").read_text()
    assert journal.index("## planner") < journal.index("## coder · round 1") < journal.index("## reviewer")
    assert f"- skills: {skill}" in journal
    assert other.startswith("under-low-bar-")

    promoted = benchgen("promote", key)
    assert promoted.returncode == 0, promoted.stdout + promoted.stderr
    (manifest_path,) = [p for p in (_benchgen_home / "dataset").glob("*/benchmark.yaml") if p.parent.name != other]
    folder = manifest_path.parent
    manifest = yaml.safe_load(manifest_path.read_text())
    assert manifest["tier"] == 2 and manifest["family"] == "sliding_drawer"
    assert manifest["provenance"]["model"] == "offline" and manifest["provenance"]["human_approved"] is True
    assert manifest["provenance"]["script_sha256"] and "drawer" in manifest["provenance"]["prompt"]
    assert manifest["provenance"]["skill_versions"] == {skill: SkillStore(_benchgen_home).label(skill)}
    assert "v1 (" in manifest["provenance"]["skill_versions"][skill]
    assert (
        "v1  " in benchgen("skills", "show", skill).stdout and folder.name in benchgen("skills", "show", skill).stdout
    )
    assert all(r["low"] < r["high"] for r in manifest["parameters"].values())
    assert (folder / "script.py").is_file() and len(list((folder / "renders").glob("view_*.png"))) == 24
    for seed in range(8):
        assert (folder / "seeds" / str(seed) / "scene.xml").is_file()
        assert list((folder / "seeds" / str(seed) / "meshes").glob("*.stl"))
    assert {p.name for p in (folder / "reports").iterdir()} == {"validation.json", "simulation.json", "review.json"}
    assert not [p for p in (_benchgen_home / "dataset").iterdir() if p.name.startswith(".")]

    index = pd.read_parquet(_benchgen_home / "dataset" / "index.parquet")
    assert sorted(index["benchmark_id"]) == sorted([folder.name, other])
    assert folder.name in (_benchgen_home / "gallery" / "index.html").read_text()
    shown = benchgen("show", folder.name)
    assert shown.returncode == 0 and key in shown.stdout and "sliding_drawer" in shown.stdout

    with dg.DagsterInstance.from_config(str(_benchgen_home / "dagster")) as instance:
        event = instance.get_latest_materialization_event(dg.AssetKey("compiled_scenes"))
        assert event is not None and event.asset_materialization is not None
        metadata = event.asset_materialization.metadata
        rows = {r.data["check"]: r.data for r in metadata["checks_by_seed"].value.records}
        assert metadata["compiled_seeds"].value == 8 and "✗" not in {m for row in rows.values() for m in row.values()}
        assert [rows["geometric_variety"][c] for c in [*map(str, range(8)), "all"]] == ["·"] * 8 + ["✓"]
        checks = instance.event_log_storage.get_latest_asset_check_execution_by_key(
            [dg.AssetCheckKey(dg.AssetKey("simulation_report"), "non_triviality")]
        )
        assert len(checks) == 1 and all(c.status.value == "SUCCEEDED" for c in checks.values())

    exported = benchgen("export", str(tmp_path / "copy"))
    assert exported.returncode == 0 and (tmp_path / "copy" / folder.name / "benchmark.yaml").is_file()
    assert benchgen("export", str(tmp_path / "copy")).returncode == 2

    rejected = benchgen("reject", folder.name, "--reason", "too easy")
    assert rejected.returncode == 0, rejected.stdout + rejected.stderr
    assert not folder.exists() and list((_benchgen_home / "withdrawn").iterdir())
    assert list(pd.read_parquet(_benchgen_home / "dataset" / "index.parquet")["benchmark_id"]) == [other]
    again = benchgen("reject", key, "--reason", "twice")
    assert again.returncode == 2 and "already rejected" in again.stderr
    assert benchgen("promote", key).returncode == 2


def _ran_side_by_side_through_the_queue(dagster_home: Path) -> None:
    """Both candidates were queued runs that overlapped in time, and the batch's daemon is gone."""
    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        records = instance.get_run_records(dg.RunsFilter(job_name="generate_benchmarks"))
        assert len(records) == 2 and all(r.dagster_run.status == dg.DagsterRunStatus.SUCCESS for r in records)
        for record in records:
            queued = instance.all_logs(record.dagster_run.run_id, of_type=dg.DagsterEventType.RUN_ENQUEUED)
            assert queued, "each candidate goes through the run queue"
        first, second = sorted((r.start_time or 0, r.end_time or 0) for r in records)
        assert second[0] < first[1], f"the runs did not overlap: {first} then {second}"
    # The batch's queue daemon stops by itself once no batch waits (a second or two after the command).
    deadline = time.monotonic() + 60
    while (left := _processes_with(f"DAGSTER_HOME={dagster_home}")) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not left, f"processes of the batch still running: {left}"


def _processes_with(variable: str) -> list[int]:
    found = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            if b"\0" + variable.encode() + b"\0" in b"\0" + environ.read_bytes() + b"\0":
                found.append(int(environ.parent.name))
        except OSError:
            continue
    return found


@pytest.mark.sandbox
@pytest.mark.usefixtures("require_bubblewrap")
def test_generate_grows_the_layout_to_the_requested_metre_and_says_so_in_its_table(_benchgen_home: Path) -> None:
    # A 1 m travel is more than ball_over_wall's layout reaches (925 mm): the plan grows it 1.15× rather than
    # clamp the bin, the judge passes the grown benchmark, and its manifest says at what scale it is built.
    prompt = "a steel ball of radius 40 mm must be moved 1 m sideways"
    generated = benchgen("generate", prompt, env={**os.environ, "COLUMNS": "400", "BENCHGEN_SEEDS": "2"})
    assert generated.returncode == 0, generated.stdout + generated.stderr
    (row,) = [line for line in generated.stdout.splitlines() if "-v1 " in line]
    assert "promoted" in row and row.rstrip("│ ").endswith("layout grown 1.15× to reach the request")
    assert "┃ deviations" in generated.stdout
    (manifest_path,) = (_benchgen_home / "dataset").glob("*/benchmark.yaml")
    manifest = yaml.safe_load(manifest_path.read_text())
    assert manifest["scale"] == 1.15 and manifest["family"] == "ball_over_wall"
    assert manifest["parameters"]["bin_x"]["nominal"] == 569.5
    assert "scale=scale * 1.15," in (manifest_path.parent / "script.py").read_text()
    (gallery,) = [
        line.split(":", 1)[1].strip() for line in generated.stdout.splitlines() if line.startswith("gallery:")
    ]
    assert "ball_over_wall · layout grown 1.15×" in Path(gallery).read_text()
    # The audit rebuilds the grown script on fresh seeds: grown again, and judged at that scale.
    audited = benchgen("audit", "--seeds", "2", "--json")
    assert audited.returncode == 0, audited.stdout + audited.stderr
    (row,) = json.loads(audited.stdout)["results"]
    assert row["passed"] and row["solvable_seeds"] == 2, row
