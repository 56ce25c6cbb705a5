"""The version of the trusted judge: a hash of its own source, so a verdict says which code made it.

Read from the files, not imported: the Dagster definitions and the CLI can name it without loading
MuJoCo or trimesh.
"""

import functools
import hashlib
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parents[1]
# Everything a verdict depends on: the builder that turns a script into data, the sandbox around it,
# and how the judge reads, compiles, checks, simulates and renders that data.
VERDICT_CODE = ("scene.py", "worker", "models")


def _sources() -> list[Path]:
    found = []
    for name in VERDICT_CODE:
        path = _PACKAGE / name
        found += sorted(path.glob("*.py")) if path.is_dir() else [path]
    return found


@functools.cache
def judge_version() -> str:
    """`judge-<12 hex>`: the sha256 of the builder's, the sandbox's and the judge's sources, in a fixed order."""
    digest = hashlib.sha256()
    for path in _sources():
        digest.update(path.relative_to(_PACKAGE).as_posix().encode() + b"\0" + path.read_bytes())
    return f"judge-{digest.hexdigest()[:12]}"
