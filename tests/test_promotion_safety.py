"""Promotion never loses what the dataset already holds: a re-promotion whose publish fails keeps the copy the
registry points to (issue 16, "re-promoting never deletes the only copy of a benchmark")."""

from pathlib import Path

import dagster as dg
import pytest

from benchgen_dagster.definitions import build_definitions
from benchgen_dagster.defs.artifacts import ArtifactStoreResource
from benchgen_dagster.defs.folders import folder_swapped_in
from benchgen_dagster.defs.resources import RegistryResource
from tests.conftest import SCRIPTS
from tests.services import free_port
from tests.test_pipeline import ScriptedAgents, _candidate

PROVEN = (SCRIPTS / "good_box.py").read_text()


@pytest.mark.sandbox
@pytest.mark.enable_socket  # the boto client's connection to loopback, refused
@pytest.mark.allow_hosts(["127.0.0.1"])
@pytest.mark.usefixtures("require_bubblewrap")
def test_a_re_promotion_whose_publish_fails_keeps_the_copy_the_registry_points_to(_benchgen_home: Path) -> None:
    registry = RegistryResource()
    agents = ScriptedAgents(script=PROVEN, approve=True)
    with dg.instance_for_test() as instance:
        key = _candidate(registry, instance)
        first = build_definitions({"agents": agents}).resolve_job_def("generate_benchmarks")
        assert first.execute_in_process(partition_key=key, instance=instance, raise_on_error=False).success
        (row,) = registry.dataset_rows()
        folder = Path(row["path"])
        promoted = (folder / "benchmark.yaml").read_text()
        # The bucket's endpoint is unreachable: the new copy goes into place, then its upload fails.
        broken = ArtifactStoreResource(
            bucket="benchgen-test",
            endpoint_url=f"http://127.0.0.1:{free_port()}",
            aws_access_key_id="test",
            aws_secret_access_key="test",
            retry_window_s=1.0,  # waited out, then the one clear failure
        )
        again = build_definitions({"agents": agents, "artifacts": broken}).resolve_job_def("generate_benchmarks")
        result = again.execute_in_process(
            partition_key=key,
            instance=instance,
            asset_selection=[dg.AssetKey("promoted_benchmark")],
            raise_on_error=False,
        )
    assert not result.success
    # The copy promoted first is still there, whole (its manifest says when it was promoted, to the second).
    assert (folder / "benchmark.yaml").read_text() == promoted
    assert (folder / "script.py").is_file() and any((folder / "seeds").iterdir())
    (after,) = registry.dataset_rows()
    assert after["path"] == row["path"] and after["promoted_at"] == row["promoted_at"]
    # Nothing half-built or set aside is left in the dataset's folder.
    assert [p.name for p in folder.parent.iterdir()] == [folder.name]


def test_a_folder_swapped_in_stays_on_success_and_leaves_nothing_new_behind_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "bench"
    for attempt in ("first", "second"):
        built = tmp_path / f".building-{attempt}"
        built.mkdir()
        (built / "v").write_text(attempt)
        with folder_swapped_in(built, target) as placed:
            assert (placed / "v").read_text() == attempt
    assert (target / "v").read_text() == "second" and sorted(p.name for p in tmp_path.iterdir()) == ["bench"]
    # A new benchmark whose publish fails is not left in the dataset (no orphan for the gallery).
    fresh, built = tmp_path / "fresh", tmp_path / ".building-fresh"
    built.mkdir()
    with pytest.raises(ConnectionError), folder_swapped_in(built, fresh):
        raise ConnectionError("the bucket is unreachable")
    assert not fresh.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["bench"]
