"""The version of the trusted judge: a hash of its own source, so a verdict says which code made it.

Read from the files, not imported: the Dagster definitions and the CLI can name it without loading
MuJoCo or trimesh.
"""

import functools
import hashlib
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parents[1]
# Everything a verdict depends on: how the builder's data is read, compiled, checked, simulated, rendered.
JUDGE_SOURCES = (
    "worker/judge.py",
    "worker/build_reader.py",
    "worker/compile.py",
    "worker/mjcf.py",
    "worker/validate.py",
    "worker/simulate.py",
    "worker/solve.py",
    "worker/render.py",
    "worker/check.py",
    "models/build.py",
    "models/reports.py",
    "models/scene.py",
    "models/settings.py",
    "models/materials.py",
    "models/units.py",
)


@functools.cache
def judge_version() -> str:
    """`judge-<12 hex>`: the sha256 of the judge's sources, in a fixed order."""
    digest = hashlib.sha256()
    for name in JUDGE_SOURCES:
        digest.update(name.encode() + b"\0" + (_PACKAGE / name).read_bytes())
    return f"judge-{digest.hexdigest()[:12]}"
