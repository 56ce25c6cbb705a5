"""BenchmarkManifest loads every manifest benchgen has written, and writes them back as they were."""

from pathlib import Path

import pytest
import yaml

from benchgen_dagster.models.manifest import BenchmarkManifest, ManifestError, read_manifests
from benchgen_dagster.paths import MANIFEST

# The first promotions' shape (d3a1bbf): no judge, no solvability, no difficulty; a 16-hex plan hash.
OLDEST = """\
id: ball-over-wall-3f2a9c1d0e
title: Ball over a wall
tier: 1
family: ball_over_wall
learning_objectives:
- clear an obstacle
parameters:
  wall_h:
    nominal: 120.0
    low: 80.0
    high: 160.0
    min: 84.5
    max: 151.25
seeds_checked:
- 0
- 1
checks:
  passed: true
  failed: []
review:
  decision: approved
  comments: clear and varied
provenance:
  candidate: r20250101-ab12cd34-v1
  request_id: r20250101-ab12cd34
  prompt: a ball that must get over a wall into a bin
  model: offline
  plan_sha256: 9f86d081884c7d65
  script_sha256: 3f2a9c1d0e5b7a8c9d0e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e
  skill_versions: {}
  code_version: 0.1.0
  human_approved: false
promoted_at: '2025-01-01T12:00:00+00:00'
"""

# What promotion writes today: judged, proven, measured.
CURRENT = {
    "id": "sliding-drawer-0a1b2c3d4e",
    "title": "Close the drawer — gently",
    "tier": 2,
    "family": "sliding_drawer",
    "learning_objectives": ["push along a rail", "stay inside the build zone"],
    "parameters": {"drawer_depth": {"nominal": 300.0, "low": 240.0, "high": 360.0, "min": 244.1, "max": 355.0}},
    "seeds_checked": [0, 1, 2],
    "checks": {"passed": True, "failed": []},
    "judge": {"status": "judged", "version": "judge-0123456789ab", "seeds": [0, 1, 2]},
    "solvability": {
        "status": "proven",
        "seeds": [0, 1, 2],
        "reference_solution": {
            "parts": ["pusher"],
            "drives": 1,
            "mass_g": 120.5,
            "unit_cost": 3.2,
            "reached_goal_s": None,
            "time_limit_s": 5.0,
        },
    },
    "difficulty": {"score": 41.3, "features": {"distance": 0.4, "lift": 0.0}, "seeds": 3},
    "review": {"decision": "approved", "comments": "fine"},
    "provenance": {
        "candidate": "r1-v1",
        "request_id": "r1",
        "prompt": "a drawer to close",
        "model": "offline",
        "plan_sha256": "a" * 64,
        "script_sha256": "0a1b2c3d4e" + "f" * 54,
        "skill_versions": {"drawer-limits": "v2 (1a2b3c4d5e6f)"},
        "code_version": "0.1.0",
        "human_approved": True,
    },
    "promoted_at": "2026-12-01T09:30:00+00:00",
}


def _folder(root: Path, name: str, text: str) -> Path:
    (root / name).mkdir(parents=True)
    (root / name / MANIFEST).write_text(text)
    return root / name / MANIFEST


def test_the_oldest_manifests_load_with_the_defaults_readers_assumed_and_are_written_back_unchanged(
    tmp_path: Path,
) -> None:
    manifest = BenchmarkManifest.read(_folder(tmp_path, "ball-over-wall-3f2a9c1d0e", OLDEST))
    assert manifest.judge is None and manifest.solvability is None and manifest.difficulty is None
    assert manifest.solvability_status == "unproven"
    assert manifest.parameters["wall_h"].max == 151.25 and manifest.seeds_checked == [0, 1]
    assert manifest.path == tmp_path / "ball-over-wall-3f2a9c1d0e"
    assert manifest.to_yaml() == OLDEST


def test_the_current_manifest_round_trips_key_for_key_and_in_order(tmp_path: Path) -> None:
    text = yaml.safe_dump(CURRENT, sort_keys=False, allow_unicode=True)
    manifest = BenchmarkManifest.read(_folder(tmp_path, CURRENT["id"], text))
    assert manifest.solvability_status == "proven" and manifest.difficulty is not None
    assert manifest.solvability is not None and manifest.solvability.reference_solution is not None
    assert manifest.solvability.reference_solution.parts == ["pusher"]
    assert manifest.provenance.skill_versions == {"drawer-limits": "v2 (1a2b3c4d5e6f)"}
    assert list(manifest.document()) == list(CURRENT) and manifest.document() == CURRENT
    assert manifest.to_yaml() == text
    # Built in memory, as promotion builds it: the same document.
    assert BenchmarkManifest.model_validate(CURRENT).document() == CURRENT


@pytest.mark.parametrize(
    "fields",
    [
        # An audit's verdict on a benchmark the judge failed when re-judging it.
        {"id": "a", "judge": {"status": "failed", "version": "judge-0123456789ab", "reason": "non_trivial"}},
        # Promoted with solvability relaxed.
        {"id": "b", "solvability": {"status": "unproven", "reason": "the script defines no solution(seed, scale)"}},
    ],
    ids=["judge-failed", "unproven"],
)
def test_every_other_shape_loads_and_keeps_exactly_its_keys(tmp_path: Path, fields: dict[str, object]) -> None:
    text = yaml.safe_dump(fields, sort_keys=False, allow_unicode=True)
    assert BenchmarkManifest.read(_folder(tmp_path, str(fields["id"]), text)).to_yaml() == text


def test_a_newer_benchgens_fields_are_kept_after_the_ones_this_one_names(tmp_path: Path) -> None:
    fields = {"id": "c", "video": "renders/video.mp4", "review": {"decision": "approved", "reviewer": "curator"}}
    manifest = BenchmarkManifest.read(_folder(tmp_path, "c", yaml.safe_dump(fields, sort_keys=False)))
    assert manifest.review.decision == "approved"
    assert list(manifest.document()) == ["id", "review", "video"] and manifest.document() == fields


def test_withdrawn_and_quarantined_copies_keep_their_own_id_and_a_manifest_without_one_takes_its_folders(
    tmp_path: Path,
) -> None:
    quarantined = _folder(tmp_path / "quarantine", f"{CURRENT['id']}-20261201093000", yaml.safe_dump(CURRENT))
    assert BenchmarkManifest.read(quarantined).id == CURRENT["id"]
    withdrawn = _folder(tmp_path / "withdrawn", "ball-over-wall-3f2a9c1d0e-20250102080000", OLDEST)
    assert BenchmarkManifest.read(withdrawn).id == "ball-over-wall-3f2a9c1d0e"
    bare = _folder(tmp_path / "dataset", "bm-1", '{"provenance": {"skill_versions": {"s": "v1 (abc)"}}}')
    assert BenchmarkManifest.read(bare).id == "bm-1"
    assert BenchmarkManifest.read(bare).provenance.skill_versions == {"s": "v1 (abc)"}


def test_the_dataset_lists_complete_benchmarks_and_a_broken_manifest_says_where(tmp_path: Path) -> None:
    dataset = tmp_path / "dataset"
    _folder(dataset, "b-2", yaml.safe_dump({"id": "b-2"}))
    _folder(dataset, "a-1", OLDEST)
    _folder(dataset, ".building-c-3-1234abcd", yaml.safe_dump({"id": "c-3"}))  # still being built
    _folder(dataset, "empty", "")
    assert [m.id for m in read_manifests(dataset)] == ["ball-over-wall-3f2a9c1d0e", "b-2"]
    _folder(dataset, "d-4", yaml.safe_dump({"id": "d-4", "tier": "hard"}))
    with pytest.raises(ManifestError, match=r"d-4/benchmark\.yaml"):
        read_manifests(dataset)
    with pytest.raises(ManifestError, match="not YAML"):
        BenchmarkManifest.read(_folder(dataset, "e-5", "id: [unclosed"))
