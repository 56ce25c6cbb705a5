"""The empirical difficulty (models.calibration): the non-trivial solvers' solve rate across seeds and attempts,
its agreement with the feature-based score, and where it is kept (the registry's row, which the index carries)."""

from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from benchgen_dagster.defs.dataset_index import dataset_frame
from benchgen_dagster.defs.resources import RegistryResource
from benchgen_dagster.models.calibration import agreement, empirical_difficulties
from benchgen_dagster.models.evaluation import BenchmarkEvaluation, SeedEvaluation, SolverEvaluation
from benchgen_dagster.models.registry import dataset_table
from tests.services import s3_server


def _run(solver: str, when: str, results: dict[str, list[bool]], tries: dict[str, list[int]] | None = None) -> dict:
    benchmarks = [
        BenchmarkEvaluation(
            benchmark_id=bid,
            seeds=[SeedEvaluation(seed=1024 + i, solved=s) for i, s in enumerate(solved)],
            attempts=max(1, len((tries or {}).get(bid, []))),
            attempt_solved=(tries or {}).get(bid, []),
        )
        for bid, solved in results.items()
    ]
    return SolverEvaluation(solver=solver, seeds_per_benchmark=2, benchmarks=benchmarks, evaluated_at=when).document()


def test_the_bounds_do_not_count_and_every_attempt_does() -> None:
    documents = [
        _run("reference", "2026-12-01", {"a": [True, True], "b": [True, True]}),
        _run("none", "2026-12-01", {"a": [False, False], "b": [False, False]}),
        # An engineer's three designs on b, each judged on both seeds: 0, 1 and 2 solved.
        _run("engineer:offline", "2026-12-01", {"a": [True, True], "b": [True, True]}, {"b": [0, 1, 2]}),
        _run("pusher.py", "2026-12-01", {"a": [True, False], "b": [False, False]}),
        # The pusher's later run over a alone replaces its earlier finding there, and leaves b's.
        _run("pusher.py", "2026-12-02", {"a": [False, False]}),
    ]
    found = empirical_difficulties(documents)
    assert found["a"].solvers == ["engineer:offline", "pusher.py"] and found["a"].trials == 4
    assert found["a"].solve_rate == 0.5 and found["a"].score == 50.0
    # b: the engineer's 3 of 6 and the pusher's 0 of 2.
    assert found["b"].trials == 8 and found["b"].solve_rate == 0.375 and found["b"].score == 62.5
    assert empirical_difficulties(documents[:2]) == {}  # the bounds alone calibrate nothing


def test_a_seed_the_benchmark_itself_failed_counts_for_no_solver() -> None:
    failed = SeedEvaluation(seed=1025, solved=False, scene_failed=True)
    run = SolverEvaluation(
        solver="pusher.py",
        seeds_per_benchmark=2,
        benchmarks=[BenchmarkEvaluation(benchmark_id="a", seeds=[SeedEvaluation(seed=1024, solved=True), failed])],
    )
    assert empirical_difficulties([run.document()])["a"].solve_rate == 1.0


def test_agreement_is_spearmans_rho_and_flags_what_ranks_in_the_other_half() -> None:
    same = agreement({"a": (10.0, 0.0), "b": (40.0, 30.0), "c": (70.0, 60.0), "d": (90.0, 100.0)})
    assert same["spearman"] == 1.0 and same["outliers"] == []
    # d is scored hardest but every solver solves it; a is scored easiest and none does.
    swapped = agreement({"a": (10.0, 100.0), "b": (40.0, 30.0), "c": (70.0, 60.0), "d": (90.0, 0.0)})
    assert swapped["spearman"] is not None and swapped["spearman"] < 0
    findings = {o["id"]: o["finding"] for o in swapped["outliers"]}
    assert findings == {"a": "harder than scored", "d": "easier than scored"}, swapped
    assert agreement({"a": (10.0, 0.0), "b": (20.0, 5.0)})["spearman"] is None  # two benchmarks rank nothing
    assert agreement({"a": (10.0, 0.0), "b": (20.0, 0.0), "c": (30.0, 0.0)})["spearman"] is None  # no spread


def test_the_registry_keeps_it_and_the_index_carries_it(_benchgen_home: Path) -> None:
    registry = RegistryResource()
    with registry.engine.begin() as db:
        for benchmark_id in ("a", "b"):
            db.execute(
                dataset_table.insert().values(
                    benchmark_id=benchmark_id, candidate=f"c-{benchmark_id}", title="t", tier=1, family="f",
                    prompt="p", model="offline", script_sha256=benchmark_id * 64, seeds=8, parameters={},
                    mesh_digests={}, path="/x", location="/x", difficulty=40.0, promoted_at=datetime.now(UTC),
                )
            )  # fmt: skip
    assert registry.set_empirical_difficulty({"a": 62.5, "b": None, "gone": 10.0}) == 2
    frame = dataset_frame(registry).set_index("benchmark_id")
    assert frame.loc["a", "empirical_difficulty"] == 62.5 and frame.loc["a", "difficulty"] == 40.0
    assert frame["empirical_difficulty"].isna().tolist() == [False, True]


@pytest.mark.services
@pytest.mark.enable_socket
@pytest.mark.allow_hosts(["127.0.0.1"])
def test_a_calibration_never_publishes_a_stale_copy_over_another_hosts_promotion(tmp_path: Path) -> None:
    from benchgen_dagster.defs.artifacts import ArtifactStoreResource
    from benchgen_dagster.defs.calibration import write_calibration
    from benchgen_dagster.models.calibration import EmpiricalDifficulty
    from benchgen_dagster.models.manifest import read_manifests

    def version(name: str, script: str) -> Path:
        folder = tmp_path / name
        folder.mkdir()
        (folder / "script.py").write_text(script)
        manifest = {"id": "bm-a", "difficulty": {"score": 30.0, "features": {}, "seeds": 8}}
        (folder / "benchmark.yaml").write_text(yaml.safe_dump(manifest))
        return folder

    with s3_server("benchgen-calibration") as url:
        store = ArtifactStoreResource(
            bucket="benchgen-calibration",
            prefix="c",
            endpoint_url=url,
            aws_access_key_id="t",
            aws_secret_access_key="t",
        )
        store.publish(version("v1", "# version 1\n"), "dataset/bm-a")
        here = tmp_path / "dataset"
        store.pull("dataset/bm-a", here / "bm-a")
        # Another host re-promotes it after this one pulled.
        store.publish(version("v2", "# version 2\n"), "dataset/bm-a")
        found = {"bm-a": EmpiricalDifficulty(score=50.0, solve_rate=0.5, trials=2, solvers=["pusher.py"])}
        rows, changed = write_calibration(read_manifests(here), found, store)
        assert changed == 1 and rows[0]["empirical"] == 50.0
        again = tmp_path / "elsewhere"
        store.pull("dataset/bm-a", again)
    # The re-promotion stands, with the calibration on it: the push did not mirror this host's stale copy.
    assert (again / "script.py").read_text() == "# version 2\n"
    assert yaml.safe_load((again / "benchmark.yaml").read_text())["empirical_difficulty"]["score"] == 50.0
