"""A benchmark's difficulty: a documented score from features measured on its checked seeds.

Each feature is normalized to [0, 1] (1 = harder) and the score is their weighted sum times 100,
averaged over the seeds. The features (docs/quality.md explains each):

- `distance`: start-to-goal distance of the moved object over the workspace diagonal;
- `lift`: how far the goal lies above the start, over the workspace height (lowering counts 0);
- `obstacles`: fixed parts whose box cuts the start–goal corridor, 4 or more counting 1;
- `forbidden`: the share of the corridor's volume inside forbid zones;
- `cramped`: 1 minus the build zone's share of the workspace volume;
- `solution_parts`: the reference solution's part count beyond the first, 4 or more counting 1;
- `tight_budget`: 1 minus the smaller of the solution's weight and cost margins (0.5 when unproven).

The corridor is the box spanned by the moved object's start and the goal zone's centre, widened
by the moved object's own size, so a part the object must pass is counted even when it is thin.
"""

from collections.abc import Iterable

import numpy as np

from benchgen_dagster.models.manifest import Difficulty
from benchgen_dagster.models.reports import SeedOutcome, SolutionTrace
from benchgen_dagster.models.scene import SceneSpec, ZoneSpec

WEIGHTS: dict[str, float] = {
    "distance": 0.20,
    "lift": 0.15,
    "obstacles": 0.15,
    "forbidden": 0.10,
    "cramped": 0.10,
    "solution_parts": 0.15,
    "tight_budget": 0.15,
}
_SATURATE_OBSTACLES = 4
_SATURATE_EXTRA_PARTS = 4
_UNPROVEN_BUDGET = 0.5


def _volume(lo: np.ndarray, hi: np.ndarray) -> float:
    return float(np.prod(np.clip(hi - lo, 0.0, None)))


def _overlap(a_lo: np.ndarray, a_hi: np.ndarray, zone: ZoneSpec) -> float:
    return _volume(np.maximum(a_lo, zone.lo), np.minimum(a_hi, zone.hi))


def _budget(solution: SolutionTrace | None) -> float:
    if solution is None or solution.problems:
        return _UNPROVEN_BUDGET
    margins = [m for m in (solution.weight_margin, solution.cost_margin) if m is not None]
    return float(np.clip(1.0 - min(margins), 0.0, 1.0)) if margins else _UNPROVEN_BUDGET


def seed_features(outcome: SeedOutcome) -> dict[str, float] | None:
    """The features of one checked seed, or None when it was not compiled and simulated."""
    spec: SceneSpec | None = outcome.scene
    if spec is None or outcome.simulation is None:
        return None
    ws_lo, ws_hi = np.array(spec.workspace.lo), np.array(spec.workspace.hi)
    start = np.array(outcome.simulation.moved_start_mm)
    goal = (np.array(spec.goal_zone.lo) + np.array(spec.goal_zone.hi)) / 2
    bounds = {p.name: p.bounds_mm for p in outcome.parts if p.bounds_mm is not None}
    moved = bounds.get(spec.moved_object)
    half = (np.array(moved[1]) - np.array(moved[0])) / 2 if moved else np.zeros(3)
    lo, hi = np.minimum(start, goal) - half, np.maximum(start, goal) + half
    fixed = [p.name for p in spec.parts if p.role == "fixed" and p.name in bounds]
    cutting = sum(
        1
        for name in fixed
        if ZoneSpec(lo=tuple(lo), hi=tuple(hi)).overlaps(ZoneSpec(lo=bounds[name][0], hi=bounds[name][1]))
    )
    corridor = max(_volume(lo, hi), 1e-9)
    forbidden = sum(_overlap(lo, hi, z) for z in spec.forbid_zones) / corridor
    build = spec.build_zone
    workspace_volume = max(_volume(ws_lo, ws_hi), 1e-9)
    extra_parts = len(outcome.solution.parts) - 1 if outcome.solution is not None else 0
    return {
        "distance": min(1.0, float(np.linalg.norm(goal - start) / np.linalg.norm(ws_hi - ws_lo))),
        "lift": float(np.clip((goal[2] - start[2]) / (ws_hi[2] - ws_lo[2]), 0.0, 1.0)),
        "obstacles": min(1.0, cutting / _SATURATE_OBSTACLES),
        "forbidden": float(min(1.0, forbidden)),
        "cramped": float(np.clip(1.0 - _volume(np.array(build.lo), np.array(build.hi)) / workspace_volume, 0, 1)),
        "solution_parts": min(1.0, max(0, extra_parts) / _SATURATE_EXTRA_PARTS),
        "tight_budget": _budget(outcome.solution),
    }


def difficulty(outcomes: Iterable[SeedOutcome]) -> Difficulty | None:
    """The mean features over the seeds and the weighted score (0 easiest – 100 hardest)."""
    rows = [f for f in (seed_features(o) for o in outcomes) if f is not None]
    if not rows:
        return None
    features = {name: round(float(np.mean([r[name] for r in rows])), 4) for name in WEIGHTS}
    score = 100.0 * sum(WEIGHTS[name] * value for name, value in features.items())
    return Difficulty(score=round(score, 1), features=features, seeds=len(rows))
