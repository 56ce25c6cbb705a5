"""Run untrusted code in a child process with hard limits, and bring back only what it wrote.

Layers, outermost first:
- bubblewrap: a new root with only the interpreter, the virtualenv, the package and system
  libraries bound read-only, no network, its own PID namespace (killing it kills everything inside),
  `--die-with-parent`. The writable workspace is a size-limited tmpfs, and so is `/tmp`: the disk
  quota is the filesystem's, not a measurement afterwards.
- an unprivileged uid: on a host that runs us as root, the code runs as a uid of its own (picked per
  run), so RLIMIT_NPROC binds even with no cgroup, and nothing it does can touch the trusted entry
  process (`worker.sandbox_entry`) that exports its files.
- rlimits: address space, CPU seconds, file size, core dumps off, process count.
- pids and memory cgroups where they can be created; they also let us kill whatever is left.
- a wall-clock timeout that kills the whole process group.
- an environment rebuilt from an allow-list: no API keys, tokens, secrets, Langfuse or AWS variables.

Fail closed: where bubblewrap is missing or cannot run, untrusted code does not run
(`SandboxUnavailable`, with the fix), unless `SandboxLimits.allow_unsandboxed`
(`BENCHGEN_ALLOW_UNSANDBOXED=1`) asks for the weaker mode, which every run then reports loudly.
"""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from benchgen_dagster.models.settings import SandboxLimits
from benchgen_dagster.worker.bubblewrap import (
    ancestors,
    bubblewrap_path,
    bubblewrap_problem,
    namespace_flags,
    read_only_binds,
)
from benchgen_dagster.worker.cgroups import RunCgroups, tasks_of_user
from benchgen_dagster.worker.job_uids import UidClaim, claim_uid
from benchgen_dagster.worker.sandbox_export import ExportError, apply_export

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
UNSANDBOXED_WARNING = (
    "UNSANDBOXED: bubblewrap is not used (BENCHGEN_ALLOW_UNSANDBOXED=1), so untrusted code runs WITHOUT "
    "filesystem, network or disk-quota isolation; only rlimits and the timeout apply"
)
# Where an agent workspace is visible inside the sandbox before it is copied into the tmpfs over it.
_SEED_MOUNT = "/.benchgen-seed"
# What the trusted entry keeps of root's powers: drop to the sandbox uid, own the workspace, kill leftovers.
_ENTRY_CAPS = ("CAP_SETUID", "CAP_SETGID", "CAP_CHOWN", "CAP_KILL", "CAP_DAC_READ_SEARCH")
_TAIL_BYTES = 4000
# Set for the code inside when kill(-1) reaches only the sandbox's untrusted processes.
KILL_ALL_SAFE = "BENCHGEN_KILL_ALL_SAFE"


class SandboxUnavailable(RuntimeError):
    """bubblewrap is missing or cannot run here, and the weaker mode was not asked for."""


def sandbox_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The child's whole environment: fixed values, the allow-listed ones we have, and `extra`."""
    env = dict(FIXED_ENV)
    env.update({k: os.environ[k] for k in ENV_ALLOWLIST if k in os.environ})
    env.setdefault("MUJOCO_GL", "egl")
    env.update(extra or {})
    return env


def limits_log(sandbox: "Sandbox") -> int:
    return sandbox.limits.log_mb * 1024 * 1024


def keep_log(stream: BinaryIO, path: Path, limit: int) -> None:
    """Write what the sandbox prints to `path`, the first `limit` bytes of it, and drain the rest."""
    kept = dropped = 0
    with stream, path.open("wb") as out:
        while chunk := stream.read(1 << 16):
            keep = chunk[: max(0, limit - kept)]
            out.write(keep)
            kept += len(keep)
            dropped += len(chunk) - len(keep)
        if dropped:
            out.write(f"\n[log cut at {limit // 2**20} MB]\n".encode())


def drain_export(read_fd: int, archive: Path, workspace_mb: int, too_big: threading.Event) -> None:
    """Copy a run's export stream to `archive`, never more than the workspace quota (plus tar's headers);
    `too_big` is set when it would be more."""
    bound = (workspace_mb + 64) * 1024 * 1024
    written = 0
    with os.fdopen(read_fd, "rb") as source, archive.open("wb") as out:
        while chunk := source.read(1 << 20):
            written += len(chunk)
            if written > bound:
                too_big.set()
                return
            out.write(chunk)


def tail(path: Path) -> str:
    if not path.exists():
        return ""
    with path.open("rb") as handle:
        size = handle.seek(0, os.SEEK_END)
        handle.seek(max(0, size - _TAIL_BYTES))
        return handle.read().decode("utf-8", "replace")


@dataclass
class SandboxJob:
    """One run: `command` runs in `workspace` (writable, size-limited), reading `inputs` (read-only)."""

    command: list[str]
    workspace: Path
    logs: Path
    wall_timeout_s: float
    inputs: list[Path] = field(default_factory=list)
    # Copy the host folder `workspace` in first and sync the changes back after (an agent's workspace);
    # otherwise `workspace` starts empty and receives what the run left in it.
    seeded: bool = False
    # Top-level folders of the workspace bound read-only from the host, never copied back.
    protected: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    # Where the workspace appears inside a bubblewrap sandbox (an agent's `/workspace`, the same path its
    # file tools name); by default at its host path. Unsandboxed runs always see the host path.
    mount_at: str | None = None
    # Folders under the read-only binds that the run must not read (a solver: the library's families and
    # their reference solutions): an empty, read-only folder in their place. bubblewrap only.
    hidden: list[Path] = field(default_factory=list)


@dataclass
class SandboxRun:
    returncode: int
    timed_out: bool
    wall_s: float
    stdout_tail: str
    stderr_tail: str
    isolation: str
    # Every limit that applied to this run, in words: a report never claims one that did not.
    limits: dict[str, str]
    warnings: list[str] = field(default_factory=list)
    export_problem: str | None = None
    # The warm builder went away with this job in flight: the job is worth one more try elsewhere.
    builder_died: bool = False

    @property
    def died_by(self) -> str | None:
        if self.returncode > 128:
            with suppress(ValueError):
                return signal.Signals(self.returncode - 128).name
        return None

    @property
    def process_limit(self) -> str:
        return self.limits["processes"]


class RunningSandbox:
    """A started run: `wait()` for it, which kills it at its wall-clock limit and brings its files back."""

    def __init__(self, sandbox: "Sandbox", job: SandboxJob) -> None:
        self.job = job
        self.limits_applied: dict[str, str] = {}
        self.warnings: list[str] = []
        self._sandbox = sandbox
        self._started = time.perf_counter()
        self._archive = job.logs / "export.tar"
        self._cgroups = RunCgroups(
            sandbox.limits.max_processes, sandbox.limits.memory_mb * 1024 * 1024, sandbox.limits.cgroups
        )
        read_fd, write_fd = os.pipe()
        argv = self._argv(write_fd)
        try:
            self.process = subprocess.Popen(
                self._cgroups.wrap(argv),
                cwd=job.workspace if not sandbox.use_bubblewrap else "/",
                env=sandbox_env(job.env),
                stdin=subprocess.DEVNULL,
                # Through pipes, not files: the logs on the host are bounded by log_mb whatever the code prints.
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                pass_fds=(write_fd,),
                start_new_session=True,
            )
        finally:
            os.close(write_fd)
        self._too_big = threading.Event()
        self._readers = [threading.Thread(target=self._drain, args=(read_fd,), daemon=True)]
        for stream, name in ((self.process.stdout, "stdout.log"), (self.process.stderr, "stderr.log")):
            assert stream is not None
            self._readers.append(
                threading.Thread(target=keep_log, args=(stream, job.logs / name, limits_log(sandbox)), daemon=True)
            )
        for reader in self._readers:
            reader.start()

    def _argv(self, export_fd: int) -> list[str]:
        sandbox, job, limits = self._sandbox, self.job, self._sandbox.limits
        self._uid = sandbox.identity()
        identity = (self._uid.uid, self._uid.uid) if self._uid else None
        uid = identity[0] if identity else os.geteuid()
        nproc = limits.max_processes + (0 if "pids" in self._cgroups.controllers else tasks_of_user(uid))
        rlimits = {
            "AS": limits.memory_mb * 1024 * 1024,
            "CPU": limits.cpu_seconds,
            "FSIZE": limits.file_size_mb * 1024 * 1024,
            "CORE": 0,
            "NPROC": nproc,
        }
        workspace = job.workspace.resolve()
        inside = Path(job.mount_at) if job.mount_at and sandbox.use_bubblewrap else workspace
        env = sandbox_env(job.env)
        if sandbox.use_bubblewrap and identity:
            # Another uid than the entry, in its own PID namespace: kill(-1) reaches only untrusted processes.
            env[KILL_ALL_SAFE] = "1"
        spec = {
            "command": job.command,
            "cwd": str(inside),
            "env": env,
            "workspace": str(inside),
            "seed_from": _SEED_MOUNT if job.seeded and sandbox.use_bubblewrap else None,
            "skip": job.protected,
            "uid": identity[0] if identity else None,
            "gid": identity[1] if identity else None,
            "rlimits": rlimits,
            "export_fd": export_fd,
            "export": sandbox.use_bubblewrap,
            "own_pid_namespace": sandbox.use_bubblewrap,
        }
        self._describe(identity, nproc)
        entry = [sys.executable, "-m", "benchgen_dagster.worker.sandbox_entry", json.dumps(spec)]
        if not sandbox.use_bubblewrap:
            return entry
        return self._bubblewrap(workspace, inside) + entry

    def _bubblewrap(self, workspace: Path, inside: Path) -> list[str]:
        limits, job = self._sandbox.limits, self.job
        argv = [bubblewrap_path() or "bwrap", *namespace_flags(), "--die-with-parent", "--new-session"]
        argv += ["--proc", "/proc", "--dev", "/dev"]
        argv += ["--perms", "1777", "--size", str(limits.tmp_mb * 1024 * 1024), "--tmpfs", "/tmp"]
        # Shared memory counts against the same quota as /tmp (joblib, say, wants a writable /dev/shm).
        argv += ["--perms", "1777", "--size", str(limits.tmp_mb * 1024 * 1024), "--tmpfs", "/dev/shm"]
        for link, target in (("/bin", "usr/bin"), ("/lib", "usr/lib"), ("/lib64", "usr/lib64"), ("/sbin", "usr/sbin")):
            if Path(link).is_symlink():
                argv += ["--symlink", target, link]
        read_only = [*read_only_binds(), *(p.resolve() for p in job.inputs if p.exists())]
        for folder in ancestors([*read_only, inside]):
            argv += ["--perms", "0755", "--dir", str(folder)]
        for path in read_only:
            argv += ["--ro-bind", str(path), str(path)]
        for hidden in (str(p.resolve()) for p in job.hidden):  # an empty, read-only folder in its place
            argv += ["--perms", "0555", "--size", "4096", "--tmpfs", hidden, "--remount-ro", hidden]
        if job.seeded:
            argv += ["--ro-bind", str(workspace), _SEED_MOUNT]
        argv += ["--perms", "0755", "--size", str(limits.workspace_mb * 1024 * 1024), "--tmpfs", str(inside)]
        for name in job.protected:
            if (workspace / name).is_dir() and not (workspace / name).is_symlink():
                argv += ["--ro-bind", str(workspace / name), str(inside / name)]
        argv += ["--remount-ro", "/", "--chdir", str(inside), "--clearenv"]
        if os.geteuid() == 0:
            argv += ["--cap-drop", "ALL", *[a for cap in _ENTRY_CAPS for a in ("--cap-add", cap)]]
        return argv

    def _describe(self, identity: tuple[int, int] | None, nproc: int) -> None:
        limits, controllers = self._sandbox.limits, self._cgroups.controllers
        who = f"uid {identity[0]}" if identity else f"uid {os.geteuid()}"
        root_unbound = identity is None and os.geteuid() == 0
        if "pids" in controllers:
            processes = f"pids cgroup ({limits.max_processes})"
        elif root_unbound:
            processes = "none: root without a pids cgroup, where RLIMIT_NPROC does not bind"
            self.warnings.append("the process limit is not enforced: " + processes)
        else:
            processes = f"RLIMIT_NPROC ({nproc} tasks of {who})"
        memory = f"RLIMIT_AS {limits.memory_mb} MB per process"
        if "memory" in controllers:
            memory += f", memory cgroup {limits.memory_mb} MB"
        if self._sandbox.use_bubblewrap:
            disk = f"workspace tmpfs {limits.workspace_mb} MB, /tmp tmpfs {limits.tmp_mb} MB"
        else:
            disk = f"none beyond RLIMIT_FSIZE {limits.file_size_mb} MB per file (unsandboxed)"
            self.warnings.append(UNSANDBOXED_WARNING)
        self.limits_applied = {
            "isolation": "bubblewrap" if self._sandbox.use_bubblewrap else "none (unsandboxed)",
            "user": who,
            "processes": processes,
            "memory": memory,
            "disk": disk,
            "cpu": f"RLIMIT_CPU {limits.cpu_seconds} s",
            "file_size": f"RLIMIT_FSIZE {limits.file_size_mb} MB",
            "cgroups": ", ".join(f"{c} cgroup" for c in controllers) or "none",
        }

    def _drain(self, read_fd: int) -> None:
        drain_export(read_fd, self._archive, self._sandbox.limits.workspace_mb, self._too_big)

    def wait(self) -> SandboxRun:
        timed_out = False
        try:
            returncode = self.process.wait(timeout=max(0.0, self.job.wall_timeout_s))
        except subprocess.TimeoutExpired:
            timed_out = True
            with suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            returncode = self.process.wait()
        self._cgroups.kill_all_and_remove()
        if self._uid:
            self._uid.release()
        for reader in self._readers:
            reader.join(timeout=60)
        problem = None
        if self._too_big.is_set():
            problem = f"the run's files exceeded the workspace quota of {self._sandbox.limits.workspace_mb} MB"
        elif self._sandbox.use_bubblewrap:
            try:
                apply_export(self._archive, self.job.workspace, self.job.protected, synced=self.job.seeded)
            except ExportError as error:
                problem = str(error)
        if not os.environ.get("BENCHGEN_DEBUG_KEEP_EXPORT"):
            with suppress(OSError):
                self._archive.unlink()
        # 128+n from the entry, or a negative code if the sandbox itself was killed.
        code = returncode if returncode >= 0 else 128 - returncode
        return SandboxRun(
            returncode=code,
            timed_out=timed_out,
            wall_s=time.perf_counter() - self._started,
            stdout_tail=tail(self.job.logs / "stdout.log"),
            stderr_tail=tail(self.job.logs / "stderr.log"),
            isolation=self.limits_applied["isolation"],
            limits=self.limits_applied,
            warnings=self.warnings,
            export_problem=problem,
        )


class Sandbox:
    """Runs commands under the limits. Raises SandboxUnavailable where bubblewrap cannot isolate them,
    unless the limits allow the weaker, unsandboxed mode."""

    def __init__(self, limits: SandboxLimits) -> None:
        self.limits = limits
        problem = bubblewrap_problem()
        if problem and not limits.allow_unsandboxed:
            raise SandboxUnavailable(
                f"untrusted code will not run: {problem}. To run it anyway with only rlimits (NOT isolated), "
                "set BENCHGEN_ALLOW_UNSANDBOXED=1"
            )
        self.use_bubblewrap = problem is None

    def identity(self) -> UidClaim | None:
        """The uid (and gid) the code runs as when we are root: one of its own per run, held until the run
        has ended, so RLIMIT_NPROC binds and concurrent runs do not share a process count or signal each
        other. None: it runs as us."""
        if os.geteuid() != 0 or not self.use_bubblewrap:
            return None
        return claim_uid(self.limits.uid_range)

    def describe(self) -> dict[str, object]:
        return {
            "isolation": "bubblewrap" if self.use_bubblewrap else "none (unsandboxed)",
            "memory_mb": self.limits.memory_mb,
            "cpu_seconds": self.limits.cpu_seconds,
            "file_size_mb": self.limits.file_size_mb,
            "max_processes": self.limits.max_processes,
            "workspace_mb": self.limits.workspace_mb,
            "tmp_mb": self.limits.tmp_mb,
        }

    def start(self, job: SandboxJob) -> RunningSandbox:
        job.logs.mkdir(parents=True, exist_ok=True)
        job.workspace.mkdir(parents=True, exist_ok=True)
        return RunningSandbox(self, job)

    def run(self, job: SandboxJob) -> SandboxRun:
        return self.start(job).wait()
