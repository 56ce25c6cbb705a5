"""Versions of code as hashes of its source: the trusted judge's (so a verdict says which code made
it), and any stage's (so lineage in Dagster says which code made what).

Read from the files, not imported: the Dagster definitions and the CLI can name them without loading
MuJoCo or trimesh.
"""

import functools
import hashlib
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parents[1]
# Everything a verdict depends on: the builder that turns a script into data, the sandbox around it,
# and how the judge reads, compiles, checks, simulates and renders that data.
VERDICT_CODE = ("scene.py", "worker", "models")
# What counts as code: the sources, and the templates and prompts beside them.
SOURCE_SUFFIXES = (".py", ".md", ".j2", ".html", ".mako")


def _sources(names: tuple[str, ...]) -> list[Path]:
    found = []
    for name in names:
        path = _PACKAGE / name
        found += sorted(path.rglob("*")) if path.is_dir() else [path]
    return [p for p in found if p.is_file() and p.suffix in SOURCE_SUFFIXES]


@functools.cache
def source_digest(names: tuple[str, ...]) -> str:
    """12 hex of the sha256 of the package's files (or folders, recursively) `names`, in a fixed order."""
    digest = hashlib.sha256()
    for path in _sources(names):
        digest.update(path.relative_to(_PACKAGE).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def judge_version() -> str:
    """`judge-<12 hex>`: the hash of the builder's, the sandbox's and the judge's sources."""
    return f"judge-{source_digest(VERDICT_CODE)}"
