"""Per-run cgroups, where the host lets us create them, and the process count RLIMIT_NPROC sees.

RLIMIT_NPROC does not bind root and RLIMIT_AS is per process: a pids and a memory cgroup cap the
whole run whoever runs us, and let us kill everything it left behind.
"""

import os
import shlex
import signal
import time
import uuid
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path


class RunCgroups:
    """Per-run cgroups, where the host lets us create them: a process cap and a memory cap for the run.

    Works with cgroup v1 (one hierarchy per controller) and v2 (one unified hierarchy)."""

    def __init__(self, max_pids: int, memory_bytes: int, enabled: bool = True, name: str | None = None) -> None:
        """`name` is a service's: what an earlier one of that name left (it has stopped) is removed first."""
        self.paths: list[Path] = []
        self.controllers: list[str] = []
        if not enabled:
            return
        name = name or f"benchgen-{uuid.uuid4().hex[:12]}"
        unified = Path("/sys/fs/cgroup")
        if (unified / "cgroup.controllers").exists():
            on = _read(unified / "cgroup.subtree_control").split()
            self._make(
                unified / name,
                {
                    "pids": ("pids.max", str(max_pids)) if "pids" in on else None,
                    "memory": ("memory.max", str(memory_bytes)) if "memory" in on else None,
                },
            )
        else:
            self._make(unified / "pids" / name, {"pids": ("pids.max", str(max_pids))})
            self._make(unified / "memory" / name, {"memory": ("memory.limit_in_bytes", str(memory_bytes))})

    def _make(self, path: Path, settings: dict[str, tuple[str, str] | None]) -> None:
        wanted = {k: v for k, v in settings.items() if v is not None}
        if not wanted or not os.access(path.parent, os.W_OK):
            return
        if path.is_dir():
            _kill_and_remove(path)
        try:
            path.mkdir()
            for file_name, value in wanted.values():
                (path / file_name).write_text(value)
        except OSError:
            with suppress(OSError):
                path.rmdir()
            return
        self.paths.append(path)
        self.controllers.extend(wanted)

    def wrap(self, argv: list[str]) -> list[str]:
        """`argv` started by a shell that first moves itself into the cgroups (no preexec_fn: the parent
        may run threads, and forking a threaded Python to run Python code is unsafe)."""
        if not self.paths:
            return argv
        moves = "".join(f"echo $$ > {shlex.quote(str(p / 'cgroup.procs'))} || exit 125; " for p in self.paths)
        return ["/bin/sh", "-c", moves + 'exec "$@"', "sandbox", *argv]

    def kill_all_and_remove(self) -> None:
        for path in self.paths:
            _kill_and_remove(path)


def _kill_and_remove(path: Path) -> None:
    for _ in range(50):
        pids = [int(p) for p in _read(path / "cgroup.procs").split()]
        if not pids:
            break
        for pid in pids:
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.02)
    with suppress(OSError):
        path.rmdir()


def remove_unused(prefix: str, in_use: Callable[[str], bool]) -> list[str]:
    """Remove the cgroups named `prefix`* that hold no process and that `in_use` says nobody serves (those a
    stopped service left behind: another version's, other limits'). Returns the names removed."""
    unified = Path("/sys/fs/cgroup")
    roots = [unified] if (unified / "cgroup.controllers").exists() else [unified / "pids", unified / "memory"]
    removed = []
    for root in roots:
        for folder in sorted(root.glob(f"{prefix}*")) if os.access(root, os.W_OK) else []:
            if folder.is_dir() and not _read(folder / "cgroup.procs").split() and not in_use(folder.name):
                with suppress(OSError):  # busy after all: a process moved in meanwhile
                    folder.rmdir()
                    removed.append(folder.name)
    return removed


def tasks_of_user(uid: int) -> int:
    """Processes and threads this user already runs: RLIMIT_NPROC counts them all, not just ours."""
    count = 0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with suppress(OSError):
                if entry.stat().st_uid == uid:
                    count += len(os.listdir(entry / "task"))
    return count


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""
