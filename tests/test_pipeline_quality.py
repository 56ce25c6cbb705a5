"""Promotion needs a proven solution by default; the dataset's quality report; the audit and quarantine."""

import json
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
import yaml

from benchgen_dagster.definitions import build_definitions
from benchgen_dagster.defs.resources import RegistryResource, SandboxResource
from benchgen_dagster.worker.versions import judge_version
from tests.conftest import SCRIPTS, benchgen
from tests.test_pipeline import ScriptedAgents, _candidate

PROVEN = (SCRIPTS / "good_box.py").read_text()
# The same box without its reference solution, and with a taller curb (so its meshes are its own).
UNPROVEN = (
    PROVEN.split("\n\ndef solution")[0].replace(
        "Pos(0, 250, 10) * Box(600, 20, 20)", "Pos(0, 250, 15) * Box(600, 20, 30)"
    )
    + "\n"
)


def _run(defs: dg.Definitions, registry: RegistryResource, instance: dg.DagsterInstance) -> str:
    key = _candidate(registry, instance)
    defs.resolve_job_def("generate_benchmarks").execute_in_process(
        partition_key=key, instance=instance, raise_on_error=False
    )
    return key


@pytest.mark.sandbox
@pytest.mark.usefixtures("require_bubblewrap")
def test_solvability_gates_promotion_and_the_audit_quarantines_what_fails(_benchgen_home: Path) -> None:
    registry = RegistryResource()
    required = build_definitions({"agents": ScriptedAgents(script=PROVEN, approve=True)})
    with dg.instance_for_test() as instance:
        proven = _run(required, registry, instance)
        gated = build_definitions({"agents": ScriptedAgents(script=UNPROVEN, approve=True)})
        refused = _run(gated, registry, instance)
        relaxed = build_definitions(
            {
                "agents": ScriptedAgents(script=UNPROVEN, approve=True),
                "sandbox": SandboxResource(require_solvable=False),
            }
        )
        unproven = _run(relaxed, registry, instance)
        published = build_definitions().resolve_job_def("publish_dataset").execute_in_process(instance=instance)
        assert published.success
    shown = {e.asset_key.path[-1]: e.materialization.metadata for e in published.get_asset_materialization_events()}
    # The UI's tables: the index's preview, and the quality report's near-duplicates and parameter spread.
    assert len(shown["benchmark_dataset"]["preview"].value.records) == 2
    (near,) = shown["dataset_quality"]["near_duplicates"].value.records
    assert near.data["similarity"] >= 0.9
    assert {r.data["parameter"] for r in shown["dataset_quality"]["parameter_spread"].value.records} == {
        "box_size",
        "goal_x",
    }

    # By default a benchmark without a reference solution stops at the simulation gate, and says why.
    candidate = registry.get(refused)
    assert candidate is not None and candidate.status == "rejected"
    assert candidate.reason == "check solvability failed: the script defines no solution(seed, scale): " + (
        "solvability is unproven"
    )
    promoted = {c.key: c.benchmark_id for c in registry.all() if c.status == "promoted"}
    assert set(promoted) == {proven, unproven}
    dataset = _benchgen_home / "dataset"
    manifest = yaml.safe_load((dataset / str(promoted[proven]) / "benchmark.yaml").read_text())
    assert manifest["solvability"]["status"] == "proven"
    assert manifest["solvability"]["reference_solution"]["parts"] == ["pusher"]
    assert 0 < manifest["difficulty"]["score"] < 100 and manifest["difficulty"]["seeds"] == 8
    assert len(list((dataset / str(promoted[proven]) / "renders" / "solution").glob("view_*.png"))) == 24
    relaxed_manifest = yaml.safe_load((dataset / str(promoted[unproven]) / "benchmark.yaml").read_text())
    assert relaxed_manifest["solvability"]["status"] == "unproven"
    assert not (dataset / str(promoted[unproven]) / "renders" / "solution").exists()
    index = pd.read_parquet(dataset / "index.parquet").set_index("benchmark_id")
    assert index.loc[promoted[proven], "solvability"] == "proven" and index.loc[promoted[proven], "difficulty"] > 0
    assert index.loc[promoted[unproven], "solvability"] == "unproven"

    quality = json.loads((_benchgen_home / "gallery" / "quality" / "quality.json").read_text())
    assert quality["benchmarks"] == 2 and quality["by_solvability"] == {"proven": 1, "unproven": 1}
    assert quality["compared"] == 2 and sum(quality["difficulty"]["histogram"]) == 2
    # The two boxes differ only by a curb 10 mm taller: the same scene to any solver.
    (pair,) = quality["near_duplicates"]
    assert {pair["a"], pair["b"]} == set(promoted.values()) and pair["similarity"] >= 0.9
    assert {row["parameter"] for row in quality["spread"]} == {"box_size", "goal_x"}
    for plot in ("counts", "difficulty", "parameters"):
        assert (_benchgen_home / "gallery" / "quality" / f"{plot}.png").read_bytes().startswith(b"\x89PNG")
    gallery = (_benchgen_home / "gallery" / "index.html").read_text()
    assert "with the reference solution" in gallery and "quality/difficulty.png" in gallery
    assert f"{promoted[proven]}/renders/solution/view_" in gallery

    assert index.loc[promoted[proven], "judge"] == judge_version()
    # As if promoted before the trusted judge existed: no judge named, and a scene an untrusted process
    # could have written. The audit must re-judge it on its own seeds before trusting it again.
    old = dataset / str(promoted[proven])
    legacy = yaml.safe_load((old / "benchmark.yaml").read_text())
    assert legacy.pop("judge")["version"] == judge_version()
    (old / "benchmark.yaml").write_text(yaml.safe_dump(legacy, sort_keys=False))
    (old / "seeds" / "0" / "scene.xml").write_text("<mujoco/>")
    registry.update_benchmark(str(promoted[proven]), judge=None, mesh_digests={"0": "legacy"})

    overlapping = benchgen("audit", "--seeds", "2", "--first-seed", "6")
    assert overlapping.returncode == 2 and "disjoint" in overlapping.stderr, overlapping.stderr
    audited = benchgen("audit", "--seeds", "2", "--quarantine")
    assert audited.returncode == 1, audited.stdout + audited.stderr
    assert "1/2 passed" in audited.stdout and "quarantined" in audited.stdout
    report = json.loads((_benchgen_home / "audits" / "latest.json").read_text())
    rows = {r["benchmark_id"]: r for r in report["results"]}
    assert rows[promoted[proven]]["passed"] and rows[promoted[proven]]["seeds"] == [1024, 1025]
    assert rows[promoted[proven]]["solvable_seeds"] == 2
    assert rows[promoted[proven]]["rejudged"] and not rows[promoted[unproven]]["rejudged"]
    assert (old / "seeds" / "0" / "scene.xml").read_text().startswith("<mujoco model=")
    assert yaml.safe_load((old / "benchmark.yaml").read_text())["judge"]["status"] == "judged"
    (row,) = [r for r in registry.dataset_rows() if r["benchmark_id"] == promoted[proven]]
    assert row["judge"] == judge_version() and "legacy" not in row["mesh_digests"].values()
    assert not rows[promoted[unproven]]["passed"] and "unproven" in rows[promoted[unproven]]["first_failure"]
    # Quarantined, not deleted: out of the dataset and the index, kept with the audit's findings.
    assert not (dataset / str(promoted[unproven])).exists()
    (kept,) = (_benchgen_home / "quarantine").iterdir()
    assert kept.name.startswith(str(promoted[unproven])) and (kept / "benchmark.yaml").is_file()
    assert json.loads((kept / "audit.json").read_text())["passed"] is False
    assert list(pd.read_parquet(dataset / "index.parquet")["benchmark_id"]) == [promoted[proven]]
    again = benchgen("audit", "--seeds", "2", "--json")
    assert again.returncode == 0, again.stdout + again.stderr
    assert json.loads(again.stdout)["pass_rate"] == 1.0


@pytest.mark.sandbox
@pytest.mark.usefixtures("require_bubblewrap")
def test_a_benchmark_that_fails_when_re_judged_is_marked_not_trusted(_benchgen_home: Path) -> None:
    from benchgen_dagster.defs.artifacts import ArtifactStoreResource
    from benchgen_dagster.defs.audit import rejudge
    from benchgen_dagster.models.manifest import BenchmarkManifest

    # Promoted before the judge (no `judge` in its manifest), by a script the judge finds trivial.
    folder = _benchgen_home / "dataset" / "creep-0"
    (folder / "seeds" / "0").mkdir(parents=True)
    (folder / "seeds" / "0" / "scene.xml").write_text("<mujoco/>")
    (folder / "script.py").write_text((SCRIPTS / "creep.py").read_text())
    manifest = {"id": "creep-0", "seeds_checked": [0], "solvability": {"status": "proven"}}
    (folder / "benchmark.yaml").write_text(yaml.safe_dump(manifest))
    checker = SandboxResource().checker()
    legacy = BenchmarkManifest.read(folder / "benchmark.yaml")
    reason = rejudge(legacy, checker, RegistryResource(), ArtifactStoreResource())
    assert reason is not None and reason.startswith("re-judged on its own seeds by the trusted judge: non_trivial")
    marked = yaml.safe_load((folder / "benchmark.yaml").read_text())["judge"]
    assert marked["status"] == "failed" and marked["version"] == judge_version()
    # Its folder is left as it was (for the curator, or quarantine), never replaced by half a judgement.
    assert (folder / "seeds" / "0" / "scene.xml").read_text() == "<mujoco/>"
