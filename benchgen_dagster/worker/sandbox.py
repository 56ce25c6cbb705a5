"""Run untrusted benchmark code in a child process with hard limits.

Layers, outermost first:
- bubblewrap (when installed): read-only root with only the interpreter, the virtualenv, the
  package and system libraries bound; the per-run workspace the only writable path; a private
  /tmp; no network, its own PID namespace (killing it kills everything inside); the child cannot
  outlive us (`--die-with-parent`).
- rlimits: address space, CPU seconds, file size, core dumps off, process count.
- pids and memory cgroups where they can be created: RLIMIT_NPROC does not bind root and RLIMIT_AS
  is per process, and a fork bomb or a memory hog must be stopped whoever runs us. The cgroups also
  let us kill every process the child left behind.
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


def bubblewrap_argv(
    workspace: Path, read_only: list[Path], env: dict[str, str], protected: list[Path] | None = None
) -> list[str]:
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
    argv += ["--bind", str(workspace), str(workspace)]
    # Folders inside the workspace that the code may read but not change (an agent's skills/, utils/).
    for path in protected or []:
        argv += ["--ro-bind", str(path), str(path)]
    argv += ["--remount-ro", "/", "--chdir", str(workspace)]
    argv += ["--clearenv"]
    for key, value in sorted(env.items()):
        argv += ["--setenv", key, value]
    return argv


class RunCgroups:
    """Per-run cgroups, where the host lets us create them: a process cap and a memory cap for the run.

    RLIMIT_NPROC does not bind root and RLIMIT_AS is per process (64 processes × 4 GiB, plus tmpfs
    pages it never sees); a cgroup caps the whole run, and lets us kill everything it left behind.
    Works with cgroup v1 (one hierarchy per controller) and v2 (one unified hierarchy).
    """

    def __init__(self, max_pids: int, memory_bytes: int) -> None:
        self.paths: list[Path] = []
        self.controllers: list[str] = []
        name = f"benchgen-{uuid.uuid4().hex[:12]}"
        unified = Path("/sys/fs/cgroup")
        if (unified / "cgroup.controllers").exists():
            enabled = _read(unified / "cgroup.subtree_control").split()
            self._make(
                unified / name,
                {
                    "pids": ("pids.max", str(max_pids)) if "pids" in enabled else None,
                    "memory": ("memory.max", str(memory_bytes)) if "memory" in enabled else None,
                },
            )
        else:
            self._make(unified / "pids" / name, {"pids": ("pids.max", str(max_pids))})
            self._make(unified / "memory" / name, {"memory": ("memory.limit_in_bytes", str(memory_bytes))})

    def _make(self, path: Path, settings: dict[str, tuple[str, str] | None]) -> None:
        wanted = {k: v for k, v in settings.items() if v is not None}
        if not wanted or not os.access(path.parent, os.W_OK):
            return
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

    def join(self) -> None:
        """Called in the forked child before exec: everything it starts is counted and capped."""
        for path in self.paths:
            (path / "cgroup.procs").write_text(str(os.getpid()))

    def kill_all_and_remove(self) -> None:
        for path in self.paths:
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


def _tasks_of_user(uid: int) -> int:
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
    cgroups: str = ""

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
    ) -> None:
        self.limits = limits
        available = bubblewrap_path() is not None
        self.use_bubblewrap = available if bubblewrap is None else (bubblewrap and available)

    def describe(self) -> dict[str, object]:
        return {
            "isolation": "bubblewrap" if self.use_bubblewrap else "none (bubblewrap not installed)",
            "memory_mb": self.limits.memory_mb,
            "cpu_seconds": self.limits.cpu_seconds,
            "file_size_mb": self.limits.file_size_mb,
            "max_processes": self.limits.max_processes,
            "seed_timeout_s": self.limits.seed_timeout_s,
        }

    def _set_limits(self, cgroups: RunCgroups, nproc: int) -> None:
        limits = self.limits
        os.setsid()
        cgroups.join()
        memory = limits.memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds))
        size = limits.file_size_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))

    @contextmanager
    def _cgroups(self) -> Iterator[RunCgroups]:
        cgroups = RunCgroups(self.limits.max_processes, self.limits.memory_mb * 1024 * 1024)
        try:
            yield cgroups
        finally:
            cgroups.kill_all_and_remove()

    def run(
        self,
        command: list[str],
        workspace: Path,
        logs: Path,
        wall_timeout_s: float,
        env: dict[str, str] | None = None,
        protected: list[Path] | None = None,
        extra_read_only: list[Path] | None = None,
    ) -> SandboxRun:
        """Run `command` with `workspace` writable; stdout and stderr go to files in `logs` (outside it).

        `protected` are folders inside the workspace mounted read-only; `extra_read_only` are host folders
        outside it the command may read."""
        workspace, logs = workspace.resolve(), logs.resolve()
        logs.mkdir(parents=True, exist_ok=True)
        child_env = sandbox_env(env)
        warnings = []
        if self.use_bubblewrap:
            read_only = [*_read_only_binds(), *(p for p in extra_read_only or [] if p.exists())]
            argv = bubblewrap_argv(workspace, read_only, child_env, [p.resolve() for p in protected or []]) + command
        else:
            warnings.append(
                "bubblewrap is not installed (apt-get install bubblewrap): the script runs WITHOUT filesystem "
                "and network isolation; CPU, memory, file-size, process and time limits still apply"
            )
            argv = command
        stdout_path, stderr_path = logs / "stdout.log", logs / "stderr.log"
        started = time.perf_counter()
        timed_out = False
        with self._cgroups() as cgroups, stdout_path.open("wb") as out, stderr_path.open("wb") as err:
            if "pids" in cgroups.controllers:
                nproc = self.limits.max_processes
            elif os.geteuid() == 0:
                nproc = self.limits.max_processes
                warnings.append(
                    "no pids cgroup could be created and we run as root, so RLIMIT_NPROC does not bind: "
                    "the process limit is not enforced"
                )
            else:
                nproc = _tasks_of_user(os.geteuid()) + self.limits.max_processes
            process = subprocess.Popen(
                argv,
                cwd=workspace,
                env=child_env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                # Limits must be set between fork and exec; callers start no threads around this.
                preexec_fn=lambda: self._set_limits(cgroups, nproc),  # noqa: PLW1509
            )
            try:
                returncode = process.wait(timeout=wall_timeout_s)
            except subprocess.TimeoutExpired:
                timed_out = True
                with suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                returncode = process.wait()
        limits = ", ".join(f"{c} cgroup" for c in cgroups.controllers) or "rlimits only"
        return SandboxRun(
            returncode=returncode,
            timed_out=timed_out,
            wall_s=time.perf_counter() - started,
            stdout_tail=_tail(stdout_path),
            stderr_tail=_tail(stderr_path),
            isolation="bubblewrap" if self.use_bubblewrap else "none",
            process_limit="pids cgroup" if "pids" in cgroups.controllers else "RLIMIT_NPROC",
            warnings=warnings,
            cgroups=limits,
        )
