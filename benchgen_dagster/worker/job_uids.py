"""The uid a sandboxed run's code runs as: one no other run on this machine holds while it runs.

Runs from every process on the machine (a batch's command, its queued runs, the warm sandboxes' jobs,
cold sandboxes) draw their uids from the same range. Two runs that shared a uid could signal and trace
each other, and the kill that ends one would end the other's processes too. A run therefore holds a lock
on its uid's file under `/run/benchgen-uids` for as long as it runs; the kernel drops it when the holder
goes, however it ended. A uid is never given out while processes of it are still alive either.
"""

import fcntl
import os
import random
import tempfile
from contextlib import suppress
from pathlib import Path

from benchgen_dagster.worker.cgroups import tasks_of_user

_TRIES = 64


class UidClaim:
    """A uid held for one run; `release()` when the run has ended (and what it left is killed)."""

    def __init__(self, uid: int, fd: int) -> None:
        self.uid, self._fd = uid, fd

    def release(self) -> None:
        if self._fd >= 0:
            with suppress(OSError):
                os.close(self._fd)
            self._fd = -1

    def __del__(self) -> None:
        self.release()


def _folder() -> Path:
    base = Path("/run") if os.access("/run", os.W_OK) else Path(tempfile.gettempdir())
    folder = base / "benchgen-uids"
    folder.mkdir(mode=0o700, exist_ok=True)
    return folder


def claim_uid(uid_range: tuple[int, int]) -> UidClaim:
    """A free uid of `uid_range`, held until released; RuntimeError when none could be found."""
    low, high = uid_range
    draw = random.SystemRandom()
    folder = _folder()
    for _ in range(_TRIES):
        uid = draw.randrange(low, high)
        fd = os.open(folder / str(uid), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        if tasks_of_user(uid):  # something of an earlier run of it still lives: not this one
            os.close(fd)
            continue
        return UidClaim(uid, fd)
    raise RuntimeError(f"no free uid in {low}..{high} after {_TRIES} tries")
