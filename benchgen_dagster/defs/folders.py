"""Dataset folders replaced whole: a reader never sees half of one, and a failed replacement loses nothing."""

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def folder_swapped_in(built: Path, target: Path) -> Iterator[Path]:
    """`built` in place of `target` for the block; the copy it replaced comes back if the block fails.

    What a promotion publishes and indexes under the block: a failed publish of a re-promoted benchmark
    leaves the dataset with the copy the registry still points to, never with none. A new benchmark
    that fails is removed (no orphan folder for the gallery)."""
    old = target.with_name(f".old-{target.name}-{uuid.uuid4().hex[:8]}") if target.exists() else None
    if old is not None:
        os.replace(target, old)
    try:
        os.replace(built, target)
        yield target
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        if old is not None:
            os.replace(old, target)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def replace_folder_atomically(built: Path, target: Path) -> None:
    """Move the fully written `built` folder to `target`, so a reader never sees half of it.

    A new benchmark appears in one rename; replacing one takes two (the old folder is moved aside
    first), so for that instant the benchmark is absent, never half-written."""
    with folder_swapped_in(built, target):
        pass
