"""bubblewrap: whether it can isolate a child here, and what it must bind for Python to run inside."""

import functools
import os
import shutil
import subprocess
import sys
from pathlib import Path


def bubblewrap_path() -> str | None:
    return shutil.which("bwrap")


@functools.cache
def bubblewrap_problem() -> str | None:
    """Why bubblewrap cannot isolate a child here (None when it can): tried once per process."""
    path = bubblewrap_path()
    if path is None:
        return "bubblewrap is not installed (apt-get install bubblewrap, or `make system-deps`)"
    argv = [path, *namespace_flags(), "--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev", "true"]
    try:
        probe = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"bubblewrap cannot start: {error}"
    if probe.returncode != 0:
        last = (probe.stderr.strip().splitlines() or ["no message"])[-1]
        return (
            f"bubblewrap is installed but cannot create a sandbox here ({last}); on a normal user account "
            "it needs unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1)"
        )
    return None


def namespace_flags() -> list[str]:
    flags = ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try"]
    # As root no user namespace: the entry needs real root to drop the code to a uid of its own.
    return flags if os.geteuid() == 0 else ["--unshare-user", *flags]


def read_only_binds() -> list[Path]:
    """What the child needs to run Python with our packages, and nothing from the home folder."""
    package_dir = Path(__file__).resolve().parents[1]
    candidates = [
        Path("/usr"),
        Path("/etc/ld.so.cache"),
        Path("/etc/alternatives"),
        Path("/etc/fonts"),
        Path(sys.base_prefix).resolve(),
        Path(sys.prefix),
        Path(sys.prefix).resolve(),
        package_dir,
    ]
    return [p for i, p in enumerate(candidates) if p.exists() and p not in candidates[:i]]


def ancestors(paths: list[Path]) -> list[Path]:
    """Folders bubblewrap must create (world-readable) before binding `paths` in an empty root."""
    found = {a for p in paths for a in p.parents if a != Path("/")}
    return sorted(found, key=lambda p: (len(p.parts), str(p)))
