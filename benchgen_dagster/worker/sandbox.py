"""Run untrusted benchmark code in a child process with hard limits.

Layers, outermost first:
- bubblewrap (when installed): read-only root with only the interpreter, the virtualenv, the
  package and system libraries bound; the per-run workspace the only writable path; a private
  /tmp; no network, its own PID namespace (killing it kills everything inside); the child cannot
  outlive us (`--die-with-parent`).
- rlimits: address space, CPU seconds, file size, core dumps off, process count.
- a pids cgroup where one can be created: RLIMIT_NPROC does not bind root, and a fork bomb must be
  stopped whoever runs us. The cgroup also lets us kill every process the child left behind.
- a wall-clock timeout that kills the whole process group.
- an environment rebuilt from an allow-list: no API keys, tokens, secrets, Langfuse or AWS
  variables ever reach generated code.
"""

import os
import resource
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

from benchgen_dagster.models.settings import SandboxLimits

# Only these variables cross into the sandbox; everything else (keys, tokens, cloud credentials) stays out.
ENV_ALLOWLIST = ("LANG", "LC_ALL", "TZ", "MUJOCO_GL", "PYOPENGL_PLATFORM")
FIXED_ENV = {
    "PATH": "/usr/bin:/bin",
    "HOME": "/tmp",
    "PYTHONDONTWRITEBYTECODE": "1",
    "PYTHONHASHSEED": "0",
    "PYTHONUNBUFFERED": "1",
    # One thread per library: the sandbox's process limit counts threads, and seeds run one at a time.
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "NUMEXPR_NUM_THREADS": "1",
}
_TAIL_BYTES = 4000
_CGROUP_ROOTS = (Path("/sys/fs/cgroup/pids"), Path("/sys/fs/cgroup"))


def sandbox_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The child's whole environment: fixed values, the allow-listed ones we have, and `extra`."""
    env = dict(FIXED_ENV)
    env.update({k: os.environ[k] for k in ENV_ALLOWLIST if k in os.environ})
    env.setdefault("MUJOCO_GL", "egl")
    env.update(extra or {})
    return env


def bubblewrap_path() -> str | None:
    return shutil.which("bwrap")


def _read_only_binds() -> list[Path]:
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
    seen: list[Path] = []
    for path in candidates:
        if path.exists() and path not in seen:
            seen.append(path)
    return seen


def bubblewrap_argv(workspace: Path, read_only: list[Path], env: dict[str, str]) -> list[str]:
    argv = [
        bubblewrap_path() or "bwrap",
        "--unshare-all",
        "--die-with-parent",
        "--new-session",
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--tmpfs",
        "/tmp",
    ]
    for link, target in (
        ("/bin", "usr/bin"),
        ("/lib", "usr/lib"),
        ("/lib64", "usr/lib64"),
        ("/sbin", "usr/sbin"),
    ):
        if Path(link).is_symlink():
            argv += ["--symlink", target, link]
    for path in read_only:
        argv += ["--ro-bind", str(path), str(path)]
    argv += ["--bind", str(workspace), str(workspace), "--remount-ro", "/", "--chdir", str(workspace)]
    argv += ["--clearenv"]
    for key, value in sorted(env.items()):
        argv += ["--setenv", key, value]
    return argv


class PidsCgroup:
    """A pids cgroup for one sandbox run, where the host lets us create one."""

    def __init__(self, max_pids: int) -> None:
        self.path: Path | None = None
        for root in _CGROUP_ROOTS:
            if not (root / "cgroup.procs").exists() or not os.access(root, os.W_OK):
                continue
            if root == Path("/sys/fs/cgroup") and "pids" not in _read(root / "cgroup.subtree_control"):
                continue
            candidate = root / f"benchgen-{uuid.uuid4().hex[:12]}"
            try:
                candidate.mkdir()
                (candidate / "pids.max").write_text(str(max_pids))
            except OSError:
                candidate.rmdir() if candidate.exists() else None
                continue
            self.path = candidate
            break

    def join(self) -> None:
        """Called in the forked child before exec: everything it starts is counted and capped."""
        if self.path is not None:
            (self.path / "cgroup.procs").write_text(str(os.getpid()))

    def kill_all_and_remove(self) -> None:
        if self.path is None:
            return
        for _ in range(50):
            pids = [int(p) for p in _read(self.path / "cgroup.procs").split()]
            if not pids:
                break
            for pid in pids:
                with suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.02)
        with suppress(OSError):
            self.path.rmdir()


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def _tail(path: Path) -> str:
    if not path.exists():
        return ""
    with path.open("rb") as handle:
        size = handle.seek(0, os.SEEK_END)
        handle.seek(max(0, size - _TAIL_BYTES))
        return handle.read().decode("utf-8", "replace")


@dataclass
class SandboxRun:
    returncode: int
    timed_out: bool
    wall_s: float
    stdout_tail: str
    stderr_tail: str
    isolation: str
    process_limit: str
    warnings: list[str] = field(default_factory=list)

    @property
    def died_by(self) -> str | None:
        if self.returncode < 0:
            return signal.Signals(-self.returncode).name
        return None


class Sandbox:
    """Runs one command under the limits; `bubblewrap=None` means "use it if installed"."""

    def __init__(
        self,
        limits: SandboxLimits,
        *,
        bubblewrap: bool | None = None,
        extra_read_only: list[Path] | None = None,
    ) -> None:
        self.limits = limits
        available = bubblewrap_path() is not None
        self.use_bubblewrap = available if bubblewrap is None else (bubblewrap and available)
        self.extra_read_only = [p for p in (extra_read_only or []) if p.exists()]

    def describe(self) -> dict[str, object]:
        return {
            "isolation": "bubblewrap" if self.use_bubblewrap else "none (bubblewrap not installed)",
            "memory_mb": self.limits.memory_mb,
            "cpu_seconds": self.limits.cpu_seconds,
            "file_size_mb": self.limits.file_size_mb,
            "max_processes": self.limits.max_processes,
            "wall_timeout_s": self.limits.wall_timeout_s,
        }

    def _set_limits(self, cgroup: PidsCgroup) -> None:
        limits = self.limits
        os.setsid()
        cgroup.join()
        memory = limits.memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds))
        size = limits.file_size_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        resource.setrlimit(resource.RLIMIT_NPROC, (limits.max_processes, limits.max_processes))

    @contextmanager
    def _cgroup(self) -> Iterator[PidsCgroup]:
        cgroup = PidsCgroup(self.limits.max_processes)
        try:
            yield cgroup
        finally:
            cgroup.kill_all_and_remove()

    def run(self, command: list[str], workspace: Path, logs: Path, env: dict[str, str] | None = None) -> SandboxRun:
        """Run `command` with `workspace` writable; stdout and stderr go to files in `logs`."""
        workspace, logs = workspace.resolve(), logs.resolve()
        logs.mkdir(parents=True, exist_ok=True)
        child_env = sandbox_env(env)
        warnings = []
        if self.use_bubblewrap:
            argv = bubblewrap_argv(workspace, [*_read_only_binds(), *self.extra_read_only], child_env) + command
        else:
            warnings.append(
                "bubblewrap is not installed (apt-get install bubblewrap): the script runs WITHOUT filesystem "
                "and network isolation; CPU, memory, file-size, process and time limits still apply"
            )
            argv = command
        stdout_path, stderr_path = logs / "stdout.log", logs / "stderr.log"
        started = time.perf_counter()
        timed_out = False
        with self._cgroup() as cgroup, stdout_path.open("wb") as out, stderr_path.open("wb") as err:
            if cgroup.path is None and os.geteuid() == 0:
                warnings.append(
                    "no pids cgroup could be created and we run as root, so RLIMIT_NPROC does not bind: "
                    "the process limit is not enforced"
                )
            process = subprocess.Popen(
                argv,
                cwd=workspace,
                env=child_env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                # No threads run in this process at fork time; the limits must be set between fork and exec.
                preexec_fn=lambda: self._set_limits(cgroup),  # noqa: PLW1509
            )
            try:
                returncode = process.wait(timeout=self.limits.wall_timeout_s)
            except subprocess.TimeoutExpired:
                timed_out = True
                with suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                returncode = process.wait()
        return SandboxRun(
            returncode=returncode,
            timed_out=timed_out,
            wall_s=time.perf_counter() - started,
            stdout_tail=_tail(stdout_path),
            stderr_tail=_tail(stderr_path),
            isolation="bubblewrap" if self.use_bubblewrap else "none",
            process_limit="pids cgroup" if cgroup.path is not None else "RLIMIT_NPROC",
            warnings=warnings,
        )
