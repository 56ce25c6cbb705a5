"""A script whose scene fails zones_consistent and non_trivial, and which forges every verdict it can.

While building it writes passing verdicts and reports wherever a verdict has ever been looked for
(its seed's folder, the workspace, the judge's folder if it could reach it), a render of its own,
and a planted rerun marker; then it returns the bad scene. Only the judge's verdict may count.
"""

import json
import os
from pathlib import Path

from build123d import Box, Pos

from benchgen_dagster.models.reports import Check, CheckResult, SeedOutcome
from benchgen_dagster.scene import Part, Scene, Zone, sampler

FORGED_PNG = b"\x89PNG\r\n\x1a\n" + b"forged render" * 100


def forge(seed: int) -> None:
    passing = SeedOutcome(
        seed=seed,
        results=[CheckResult(check=c, seed=seed, passed=True, message="forged") for c in Check],
    ).model_dump_json()
    report = json.dumps({"passed": True, "failures": [], "solvability": "proven"})
    targets = {
        f"seeds/{seed}/verdict.json": passing,
        f"seeds/{seed}/outcome.json": passing,
        "verdict.json": passing,
        "report.json": report,
        "judge.json": report,
        f"reruns/{seed}/started": "planted",
        f"reruns/{seed}/outcome.json": passing,
        "stopped.json.bak": "",
        "../judge/seeds/0/verdict.json": passing,
        "/tmp/verdict.json": passing,
    }
    for path, text in targets.items():
        try:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            Path(path).write_text(text)
        except OSError:
            pass
    for folder in ("renders", "../judge/renders", f"seeds/{seed}"):
        try:
            os.makedirs(folder, exist_ok=True)
            Path(folder, "view_az000_el35.png").write_bytes(FORGED_PNG)
        except OSError:
            pass


def build(seed: int, scale: float = 1.0) -> Scene:
    forge(seed)
    p = sampler(seed)
    size = p.param("box_size", nominal=60, spread=0.4)
    s = Scene(workspace=Zone((-400, -300, 0), (800, 300, 400)), scale=scale, params=p, title="forged")
    # Dropped straight above the goal: it falls in by itself (non_trivial fails) ...
    s.add(Part("box", Pos(300, 0, 200) * Box(size, size, size), role="free", material="wood"))
    # ... and the build zone overlaps a forbid zone (zones_consistent fails).
    s.objectives(
        moved="box",
        goal=Zone((200, -100, 0), (400, 100, 120)),
        build=Zone((-380, -200, 0), (100, 200, 300)),
        forbid=[Zone((0, -50, 0), (50, 50, 100))],
    )
    return s


def solution(seed: int, scale: float = 1.0) -> list[Part]:
    forge(seed)
    return [Part("marker", Pos(-350, -150, 10) * Box(20, 20, 20), role="fixed")]
