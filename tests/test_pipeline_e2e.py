"""One candidate through every asset, with human approval, then shown, exported and withdrawn."""

import json
import os
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
import yaml

from benchgen_dagster.agent.skills import SkillStore
from tests.conftest import benchgen


@pytest.mark.sandbox
@pytest.mark.usefixtures("require_bubblewrap")
def test_one_candidate_from_request_to_promotion_with_human_approval(_benchgen_home: Path, tmp_path: Path) -> None:
    # A skill about the drawer family (its limit holds the default): the coder must read it, and the
    # benchmark's lineage must say which version it was written with.
    skill = "sliding-drawer-limits"
    SkillStore(_benchgen_home).propose(
        skill,
        f"---\nname: {skill}\ndescription: drawer depth\nmetadata:\n  family: sliding_drawer\n"
        '  limits: "drawer_depth <= 300"\n  evidence: "earlier-v1"\n---\n# Depth\n\n```python\nx = 1\n```\n',
        "curator",
    )
    generated = benchgen(
        "generate",
        "a drawer that must be pulled open",
        "--require-approval",
        env={**os.environ, "BENCHGEN_LEARN_AFTER": "1"},
    )
    assert generated.returncode == 0, generated.stdout + generated.stderr
    assert "0 promoted, 1 awaiting approval, 0 rejected or failed of 1" in generated.stdout
    assert "gallery:" in generated.stdout
    # One new journal is enough here: the learner ran at the end of the batch (nothing to learn from a
    # first-attempt pass, so the curator's skill stays as it was).
    assert "skills: learned from 1 new journal(s): 0 published, 0 refused" in generated.stdout
    listed = json.loads(benchgen("list", "--json").stdout)
    assert len(listed) == 1 and listed[0]["status"] == "awaiting_approval"
    key = listed[0]["key"]
    # One role per asset, one journal: each role's session keeps what the earlier ones wrote.
    journal = (_benchgen_home / "candidates" / key / "workspace" / "journal.md").read_text()
    assert journal.index("## planner") < journal.index("## coder · round 1") < journal.index("## reviewer")
    assert f"- skills: {skill}" in journal
    assert not list((_benchgen_home / "dataset").glob("*/benchmark.yaml"))

    promoted = benchgen("promote", key)
    assert promoted.returncode == 0, promoted.stdout + promoted.stderr
    (manifest_path,) = (_benchgen_home / "dataset").glob("*/benchmark.yaml")
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
    assert list(index["benchmark_id"]) == [folder.name]
    assert folder.name in (_benchgen_home / "gallery" / "index.html").read_text()
    shown = benchgen("show", folder.name)
    assert shown.returncode == 0 and key in shown.stdout and "sliding_drawer" in shown.stdout

    with dg.DagsterInstance.from_config(str(_benchgen_home / "dagster")) as instance:
        event = instance.get_latest_materialization_event(dg.AssetKey("compiled_scenes"))
        assert event is not None and event.asset_materialization is not None
        metadata = event.asset_materialization.metadata
        table = str(metadata["checks_by_seed"].value)
        assert metadata["compiled_seeds"].value == 8 and "✗" not in table
        assert "| geometric_variety | · | · | · | · | · | · | · | · | ✓ |" in table
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
    assert pd.read_parquet(_benchgen_home / "dataset" / "index.parquet").empty
    again = benchgen("reject", key, "--reason", "twice")
    assert again.returncode == 2 and "already rejected" in again.stderr
    assert benchgen("promote", key).returncode == 2
