"""The host's side of the warm builder (`worker.zygote`): one per process, started on first use.

A cold builder pays its interpreter and build123d's imports (about 5 s of CPU) for every script; the
warm builder pays them once, in a sandboxed process that never runs a script itself and forks each
job into a sandbox of its own (its own mount namespace, tmpfs and uid; see `worker.zygote`). A job
gives back what a cold builder run does: its files as a bounded tar, its logs, its exit status, as a
`SandboxRun`. Where it cannot run (not root, no working bubblewrap) the checker builds cold.

The determinism rebuild never comes here: it must start a fresh interpreter.
"""

import json
import os
import random
import socket
import subprocess
import sys
import threading
import time
import uuid
from contextlib import suppress
from pathlib import Path
from typing import ClassVar

from benchgen_dagster.models.settings import SandboxLimits
from benchgen_dagster.worker.bubblewrap import (
    ancestors,
    bubblewrap_path,
    bubblewrap_problem,
    namespace_flags,
    read_only_binds,
)
from benchgen_dagster.worker.builder import BuildJob
from benchgen_dagster.worker.cgroups import RunCgroups, tasks_of_user
from benchgen_dagster.worker.sandbox import KILL_ALL_SAFE, SandboxRun, _keep_log, _tail, sandbox_env
from benchgen_dagster.worker.sandbox_export import ExportError, apply_export

# What the zygote keeps of root's powers: a mount namespace and tmpfs per job, the drop to its uid, and
# reading what the job wrote.
_ZYGOTE_CAPS = ("CAP_SYS_ADMIN", "CAP_SETUID", "CAP_SETGID", "CAP_CHOWN", "CAP_KILL", "CAP_DAC_READ_SEARCH")
_START_TIMEOUT_S = 300.0
# The warm builder's own cgroup caps all its jobs together (each job also has its rlimits).
_CONCURRENT_JOBS = 4


class WarmBuilderUnavailable(RuntimeError):
    pass


class WarmRun:
    """One job in the warm builder: `wait()` gives the same SandboxRun a cold builder run would."""

    def __init__(
        self,
        builder: "WarmBuilder",
        limits: SandboxLimits,
        uid: int,
        job: BuildJob,
        script: bytes,
        workspace: Path,
        logs: Path,
        wall_timeout_s: float,
    ) -> None:
        self.builder, self.name, self.uid, self.job_limits = builder, uuid.uuid4().hex, uid, limits
        self.workspace, self.logs, self.wall_timeout_s = workspace, logs, wall_timeout_s
        self.done = threading.Event()
        self.status: int | None = None
        # True when the warm builder itself went away with this job in flight (not the job's doing).
        self.builder_died = False
        self.started = time.perf_counter()
        self.archive = logs / "export.tar"
        self.too_big = threading.Event()
        source = os.memfd_create("script")
        os.write(source, script)
        os.lseek(source, 0, os.SEEK_SET)
        result_r, result_w = os.pipe()
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        nproc = limits.max_processes + tasks_of_user(uid)
        request = {
            "name": self.name,
            "uid": uid,
            "build": job.model_dump_json(),
            "script_bytes": len(script),
            "workspace_bytes": limits.workspace_mb * 1024 * 1024,
            "tmp_bytes": limits.tmp_mb * 1024 * 1024,
            "env": {**sandbox_env(), KILL_ALL_SAFE: "1", "TMPDIR": "/job/tmp", "HOME": "/job/tmp"},
            "rlimits": {
                "AS": limits.memory_mb * 1024 * 1024,
                "CPU": limits.cpu_seconds,
                "FSIZE": limits.file_size_mb * 1024 * 1024,
                "CORE": 0,
                "NPROC": nproc,
            },
        }
        self.limits = {
            "isolation": "bubblewrap, warm builder (a mount namespace, tmpfs and uid of its own)",
            "user": f"uid {uid}",
            "processes": f"RLIMIT_NPROC ({nproc} tasks of uid {uid})",
            "memory": f"RLIMIT_AS {limits.memory_mb} MB per process"
            + (f", the warm builder's memory cgroup {builder.memory_mb} MB" if "memory" in builder.controllers else ""),
            "disk": f"workspace tmpfs {limits.workspace_mb} MB, TMPDIR tmpfs {limits.tmp_mb} MB (/tmp read-only)",
            "cpu": f"RLIMIT_CPU {limits.cpu_seconds} s",
            "file_size": f"RLIMIT_FSIZE {limits.file_size_mb} MB",
            "cgroups": ", ".join(f"the warm builder's {c} cgroup" for c in builder.controllers) or "none",
        }
        builder.register(self)
        try:
            builder.send(json.dumps(request).encode(), [source, result_w, out_w, err_w])
        except OSError:
            builder.alive = False
            self.finished(-9, builder_died=True)
        finally:
            for fd in (source, result_w, out_w, err_w):
                os.close(fd)
        log_limit = limits.log_mb * 1024 * 1024
        self.readers = [
            threading.Thread(target=self._drain, args=(result_r,), daemon=True),
            threading.Thread(
                target=_keep_log, args=(os.fdopen(out_r, "rb"), logs / "stdout.log", log_limit), daemon=True
            ),
            threading.Thread(
                target=_keep_log, args=(os.fdopen(err_r, "rb"), logs / "stderr.log", log_limit), daemon=True
            ),
        ]
        for reader in self.readers:
            reader.start()

    def _drain(self, read_fd: int) -> None:
        bound = (self.job_limits.workspace_mb + 64) * 1024 * 1024
        written = 0
        with os.fdopen(read_fd, "rb") as source, self.archive.open("wb") as out:
            while chunk := source.read(1 << 20):
                written += len(chunk)
                if written > bound:
                    self.too_big.set()
                    return
                out.write(chunk)

    def finished(self, status: int, builder_died: bool = False) -> None:
        self.status = status
        self.builder_died = builder_died
        self.done.set()

    def wait(self) -> SandboxRun:
        timed_out = not self.done.wait(self.wall_timeout_s)
        if timed_out:
            self.builder.kill(self.name)
            self.done.wait(30)
        for reader in self.readers:
            reader.join(timeout=60)
        problem = None
        if self.too_big.is_set():
            problem = f"the run's files exceeded the workspace quota of {self.job_limits.workspace_mb} MB"
        else:
            try:
                apply_export(self.archive, self.workspace, [], synced=False)
            except ExportError as error:
                problem = str(error)
        with suppress(OSError):
            self.archive.unlink()
        status = self.status if self.status is not None else -9
        return SandboxRun(
            returncode=status if status >= 0 else 128 - status,
            timed_out=timed_out,
            wall_s=time.perf_counter() - self.started,
            stdout_tail=_tail(self.logs / "stdout.log"),
            stderr_tail=_tail(self.logs / "stderr.log"),
            isolation=self.limits["isolation"],
            limits=self.limits,
            export_problem=problem,
            builder_died=self.builder_died,
        )


class WarmBuilder:
    """The zygote process and its control socket. `shared()` gives this process's one, or None."""

    # One a process, for each cgroups setting (a job asked to run without a cgroup is never put in one).
    _shared: ClassVar[dict[bool, "WarmBuilder"]] = {}
    _lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, limits: SandboxLimits) -> None:
        self.limits = limits
        self.runs: dict[str, WarmRun] = {}
        self.alive = True
        self._send_lock = threading.Lock()
        self.memory_mb = limits.memory_mb * _CONCURRENT_JOBS
        self._cgroups = RunCgroups(
            limits.max_processes * _CONCURRENT_JOBS, self.memory_mb * 1024 * 1024, limits.cgroups
        )
        self.controllers = list(self._cgroups.controllers)
        self.control, remote = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        command = [sys.executable, "-m", "benchgen_dagster.worker.zygote", str(remote.fileno())]
        self.process = subprocess.Popen(
            self._cgroups.wrap(self._bubblewrap() + command),
            cwd="/",
            env=sandbox_env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            pass_fds=(remote.fileno(),),
            start_new_session=True,
        )
        remote.close()
        self.control.settimeout(_START_TIMEOUT_S)
        try:
            ready = self.control.recv(1 << 16)
        except OSError:
            ready = b""
        self.control.settimeout(None)
        if json.loads(ready or b"{}").get("ready") is not True:
            self.stop()
            raise WarmBuilderUnavailable("the warm builder did not start")
        threading.Thread(target=self._listen, daemon=True).start()

    def _bubblewrap(self) -> list[str]:
        limits = self.limits
        argv = [bubblewrap_path() or "bwrap", *namespace_flags(), "--die-with-parent", "--new-session"]
        argv += ["--proc", "/proc", "--dev", "/dev"]
        argv += ["--perms", "1777", "--size", str(limits.tmp_mb * 1024 * 1024), "--tmpfs", "/tmp"]
        for link, target in (("/bin", "usr/bin"), ("/lib", "usr/lib"), ("/lib64", "usr/lib64"), ("/sbin", "usr/sbin")):
            if Path(link).is_symlink():
                argv += ["--symlink", target, link]
        read_only = read_only_binds()
        for folder in ancestors(read_only):
            argv += ["--perms", "0755", "--dir", str(folder)]
        for path in read_only:
            argv += ["--ro-bind", str(path), str(path)]
        argv += ["--perms", "0755", "--dir", "/job", "--remount-ro", "/", "--chdir", "/", "--clearenv"]
        for key, value in sorted(sandbox_env().items()):
            argv += ["--setenv", key, value]
        return [*argv, "--cap-drop", "ALL", *[a for cap in _ZYGOTE_CAPS for a in ("--cap-add", cap)]]

    @classmethod
    def shared(cls, limits: SandboxLimits) -> "WarmBuilder | None":
        """This process's warm builder (started, or restarted after a crash), or None where it cannot run."""
        if os.geteuid() != 0 or bubblewrap_problem() is not None or not limits.warm_builder:
            return None
        with cls._lock:
            current = cls._shared.get(limits.cgroups)
            if current is None or not current.running:
                try:
                    cls._shared[limits.cgroups] = current = cls(limits)
                except (WarmBuilderUnavailable, OSError):
                    cls._shared.pop(limits.cgroups, None)
                    return None
            return current

    @property
    def running(self) -> bool:
        return self.alive and self.process.poll() is None

    def register(self, run: WarmRun) -> None:
        self.runs[run.name] = run

    def send(self, message: bytes, fds: list[int]) -> None:
        with self._send_lock:
            socket.send_fds(self.control, [message], fds)

    def kill(self, name: str) -> None:
        with suppress(OSError):
            self.send(json.dumps({"kill": name}).encode(), [])

    def start(
        self, limits: SandboxLimits, job: BuildJob, script: bytes, workspace: Path, logs: Path, wall_timeout_s: float
    ) -> WarmRun:
        """Build `job` under `limits` (the job's own: the warm builder's are only its start-up's)."""
        logs.mkdir(parents=True, exist_ok=True)
        workspace.mkdir(parents=True, exist_ok=True)
        low, high = limits.uid_range
        uid = random.SystemRandom().randrange(low, high)
        return WarmRun(self, limits, uid, job, script, workspace, logs, wall_timeout_s)

    def _listen(self) -> None:
        while True:
            try:
                message = self.control.recv(1 << 16)
            except OSError:
                message = b""
            if not message:
                break
            report = json.loads(message)
            run = self.runs.pop(report.get("done", ""), None)
            if run is not None:
                run.finished(int(report["status"]))
        # The zygote is gone: every job in flight has failed; the next check starts a new one.
        self.alive = False
        with suppress(OSError):
            self.control.close()
        with suppress(ProcessLookupError):
            os.killpg(self.process.pid, 9)
        self.process.wait()
        for run in list(self.runs.values()):
            run.finished(-9, builder_died=True)
        self.runs.clear()
        self._cgroups.kill_all_and_remove()

    def stop(self) -> None:
        self.alive = False
        with suppress(OSError):
            self.control.close()
        with suppress(ProcessLookupError):
            os.killpg(self.process.pid, 9)
        self.process.wait()
        self._cgroups.kill_all_and_remove()
