"""A build that looks for every other process it can see (the warm builder, other jobs) and tries to reach
them: read their files and environment, signal them, rewrite its own script. It reports what it reached."""

import json
import os
import time
from pathlib import Path

from build123d import Box, Pos

from benchgen_dagster.scene import Part, Scene, Zone, sampler

SNOOP_SECONDS = 4.0


def snoop() -> dict[str, object]:
    mine, seen, reached = os.getuid(), set(), []
    deadline = time.monotonic() + SNOOP_SECONDS
    while time.monotonic() < deadline:
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                owner = entry.stat().st_uid
            except OSError:
                continue
            if owner == mine:
                continue
            seen.add(owner)
            for target in ("root/job/work", "root/job/input", "cwd", "environ"):
                try:
                    found = os.listdir(entry / target) if target != "environ" else (entry / target).read_bytes()
                    reached.append(f"{entry.name}/{target}: {str(found)[:60]}")
                except OSError:
                    pass
            try:
                os.kill(int(entry.name), 0)
                reached.append(f"signal {entry.name}")
            except OSError:
                pass
        time.sleep(0.2)
    try:
        Path("/job/input/script.py").write_text("# rewritten\n")
        reached.append("rewrote its own script")
    except OSError:
        pass
    return {"uids_seen": sorted(seen), "reached": reached, "job": sorted(os.listdir("/job"))}


def build(seed: int, scale: float = 1.0) -> Scene:
    if seed == 0:
        raise RuntimeError("SNOOP " + json.dumps(snoop()))
    p = sampler(seed)
    size = p.param("box_size", nominal=60, spread=0.4)
    s = Scene(workspace=Zone((-400, -300, 0), (800, 300, 400)), scale=scale, params=p)
    s.add(Part("box", Pos(-200, 0, size / 2 + 0.3) * Box(size, size, size), role="free", material="wood"))
    s.objectives(moved="box", goal=Zone((300, -60, 0), (420, 60, 150)), build=Zone((-380, -200, 0), (100, 200, 300)))
    return s
