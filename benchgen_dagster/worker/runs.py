"""The sandbox runs' folders under `BENCHGEN_HOME/runs/`, and their retention.

Each check or render gets `runs/<time>-<id>/` (the staged script, the builders' and the judge's files,
the logs). A run holds an exclusive lock on its folder for as long as anything reads it; retention
(`prune_runs`, `benchgen gc`) removes the oldest folders beyond a count or an age, and never one
whose lock is held.
"""

import fcntl
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from benchgen_dagster.models.settings import RetentionSettings

LOCK_NAME = ".lock"


@dataclass
class RunDirectory:
    root: Path

    @property
    def script(self) -> Path:
        return self.root / "input" / "script.py"

    @property
    def build(self) -> Path:
        return self.root / "build"

    @property
    def rerun(self) -> Path:
        return self.root / "rerun"

    @property
    def judge(self) -> Path:
        return self.root / "judge"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @classmethod
    @contextmanager
    def create(cls, home: Path, script: bytes) -> Iterator["RunDirectory"]:
        """A new run folder with the script staged, locked while the block runs."""
        run = cls(home / "runs" / f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:8]}")
        for folder in (run.root / "input", run.build, run.rerun, run.judge, run.logs):
            folder.mkdir(parents=True)
        run.script.write_bytes(script)
        with open(run.root / LOCK_NAME, "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield run

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def _in_use(folder: Path) -> bool:
    try:
        with open(folder / LOCK_NAME) as lock:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            fcntl.flock(lock, fcntl.LOCK_UN)
    except BlockingIOError:
        return True
    except OSError:
        return False
    return False


def prune_runs(
    home: Path, retention: RetentionSettings, keep: int | None = None, max_age_days: float | None = None
) -> list[Path]:
    """Remove run folders beyond the newest `keep` or older than `max_age_days`, but none in use.
    Returns what was removed."""
    keep = retention.runs_kept if keep is None else keep
    max_age = retention.runs_max_age_days if max_age_days is None else max_age_days
    root = home / "runs"
    if not root.is_dir():
        return []
    folders = sorted(
        (p for p in root.iterdir() if p.is_dir() and not p.is_symlink()), key=lambda p: p.name, reverse=True
    )
    cutoff = time.time() - max_age * 86400
    removed = []
    for index, folder in enumerate(folders):
        old = index >= keep
        with suppress(OSError):
            old = old or folder.stat().st_mtime < cutoff
        if old and not _in_use(folder):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


def folder_bytes(folder: Path) -> int:
    total = 0
    for base, _, files in os.walk(folder):
        for name in files:
            with suppress(OSError):
                total += os.lstat(os.path.join(base, name)).st_size
    return total
