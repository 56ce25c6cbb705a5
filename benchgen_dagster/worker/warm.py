"""The host's side of the warm sandboxes (`worker.zygote`): a warm builder and a warm judge per machine.

A cold sandbox pays its interpreter and imports (build123d's about 5 s of CPU, the judge's mujoco and
trimesh about 2 s) for every run; a warm one pays them once, in a sandboxed process that never does a
job itself and forks each job into a sandbox of its own (its own mount namespace, tmpfs and uid; see
`worker.zygote`). A job gives back what a cold run does: its files as a bounded tar, its logs, its exit
status, as a `SandboxRun`. Where they cannot run (not root, no working bubblewrap) the checker runs cold.
Every process of a batch (the command, each queued run) shares the same two: the first to need one
starts it, and it stops once it has been idle a while (`WarmSandbox`).

The warm builder takes a script; the warm judge the build it is to judge, as a tar the host makes of
the files it validated. The judge's decomposition cache is bound read-only into the warm judge, so
there is one warm judge for each cache folder. The determinism rebuild never comes here: it must
start a fresh interpreter.
"""

import hashlib
import io
import json
import os
import socket
import stat
import struct
import subprocess
import sys
import tarfile
import threading
import time
from contextlib import suppress
from pathlib import Path
from typing import BinaryIO, ClassVar, cast

from benchgen_dagster.models.settings import SandboxLimits
from benchgen_dagster.worker import safe_files
from benchgen_dagster.worker.bubblewrap import (
    ancestors,
    bubblewrap_path,
    bubblewrap_problem,
    namespace_flags,
    read_only_binds,
)
from benchgen_dagster.worker.cgroups import RunCgroups, remove_unused
from benchgen_dagster.worker.commands import AGENT_WORKSPACE
from benchgen_dagster.worker.job_uids import claim_uid
from benchgen_dagster.worker.sandbox import sandbox_env
from benchgen_dagster.worker.sandbox_entry import export_tar
from benchgen_dagster.worker.versions import judge_version
from benchgen_dagster.worker.warm_run import BUILDER, JUDGE, WarmRun

__all__ = ["BUILDER", "JUDGE", "WarmRun", "WarmSandbox", "WarmSandboxUnavailable", "prewarm"]
# Under the cache folder: the decompositions the judge made (bound read-only into the warm judge).
JUDGE_CACHE = "judge-decompositions"
# What the zygote keeps of root's powers: a mount namespace and tmpfs per job, the drop to its uid, and
# reading what the job wrote.
_ZYGOTE_CAPS = ("CAP_SYS_ADMIN", "CAP_SETUID", "CAP_SETGID", "CAP_CHOWN", "CAP_KILL", "CAP_DAC_READ_SEARCH")
_START_TIMEOUT_S = 300.0
# A warm sandbox's own cgroup caps all its jobs together (each job also has its rlimits).
_CONCURRENT_JOBS = 4
_CONNECT_TRIES = 3
_UCRED = struct.Struct("3i")  # pid, uid, gid
IDLE_ENV, _DEFAULT_IDLE_S = "BENCHGEN_WARM_IDLE_S", 60


class WarmSandboxUnavailable(RuntimeError):
    pass


class WarmSandbox:
    """This process's connection to a warm sandbox of a role; `shared()` gives it, or None.

    A warm sandbox serves every process on this machine that asks for the same one: its role, the
    limits it starts with, this code (`judge_version`) and, for the judge, its cache folder. It listens
    on an abstract unix socket named after those (only root may connect; no job can, from its network
    namespace of its own). The first process to ask starts it; it stops once it has had no job for
    `BENCHGEN_WARM_IDLE_S` seconds (60 by default), and the next to ask starts a new one."""

    # One connection a process, for each service name; one lock for each, so starting a builder keeps no
    # one from starting or using the judge.
    _shared: ClassVar[dict[str, "WarmSandbox"]] = {}
    _locks: ClassVar[dict[str, threading.Lock]] = {}
    _lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, limits: SandboxLimits, role: str = BUILDER, cache: Path | None = None) -> None:
        self.limits, self.role, self.cache = limits, role, cache
        self.runs: dict[str, WarmRun] = {}
        self.alive = True
        self._send_lock = threading.Lock()
        self.memory_mb = limits.memory_mb * _CONCURRENT_JOBS
        self.name = service_name(limits, role, cache)
        self.controllers: list[str] = []
        self.process: subprocess.Popen[bytes] | None = None
        self._pid = 0
        for _ in range(_CONNECT_TRIES):
            self.control = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            ready = self._start_or_join()
            if ready.get("ready") is True:
                break
            self.control.close()
            if self.process is not None:  # ours, and it never became ready
                self._kill_ours()
                raise WarmSandboxUnavailable(f"the warm {role} did not start")
            time.sleep(0.2)  # one that was stopping as we joined it: start or join the next
        else:
            raise WarmSandboxUnavailable(f"no warm {role} could be joined")
        self.controllers = [str(c) for c in cast(list[object], ready.get("controllers", []))]
        threading.Thread(target=self._listen, daemon=True).start()

    def _start_or_join(self) -> dict[str, object]:
        """Bind the service's name (then no one else serves it: start it) or join the one that has it."""
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            listener.bind("\0" + self.name)
        except OSError:
            listener.close()
        else:
            listener.listen(64)
            self._start(listener)
            listener.close()
        self.control.settimeout(_START_TIMEOUT_S)
        # The kernel adds the sender's credentials to what it says when it is ready: its pid, as seen here.
        self.control.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        message = b""
        try:
            self.control.connect("\0" + self.name)
            message, ancillary, _, _ = self.control.recvmsg(1 << 16, socket.CMSG_SPACE(_UCRED.size))
        except OSError:
            ancillary = []
        for level, kind, data in ancillary:
            if (level, kind) == (socket.SOL_SOCKET, socket.SCM_CREDENTIALS):
                self._pid = int(_UCRED.unpack(data[: _UCRED.size])[0])
        self.control.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 0)
        self.control.settimeout(None)
        return dict(json.loads(message or b"{}"))

    def _start(self, listener: socket.socket) -> None:
        # What warm sandboxes that have stopped left (ours is made again just below).
        remove_unused("benchgen-warm-", _served)
        limits = self.limits
        cgroups = RunCgroups(
            limits.max_processes * _CONCURRENT_JOBS, self.memory_mb * 1024 * 1024, limits.cgroups, name=self.name
        )
        command = [sys.executable, "-m", "benchgen_dagster.worker.zygote", str(listener.fileno()), self.role]
        command += [str(_idle_seconds()), ",".join(cgroups.controllers)]
        self._cgroups = cgroups
        self.process = subprocess.Popen(
            cgroups.wrap(self._bubblewrap() + command),
            cwd="/",
            env=sandbox_env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            pass_fds=(listener.fileno(),),
            # It outlives this process (the next run of the batch joins it), in a session of its own.
            start_new_session=True,
        )

    def _kill_ours(self) -> None:
        if self.process is None:
            return
        with suppress(ProcessLookupError):
            os.killpg(self.process.pid, 9)
        self.process.wait()
        self._cgroups.kill_all_and_remove()

    @property
    def pid(self) -> int:
        """The warm sandbox's own process (whoever started it)."""
        return self._pid

    def _bubblewrap(self) -> list[str]:
        limits = self.limits
        # No --die-with-parent: it serves the processes that come after the one that started it.
        argv = [bubblewrap_path() or "bwrap", *namespace_flags(), "--new-session"]
        argv += ["--proc", "/proc", "--dev", "/dev"]
        argv += ["--perms", "1777", "--size", str(limits.tmp_mb * 1024 * 1024), "--tmpfs", "/tmp"]
        for link, target in (("/bin", "usr/bin"), ("/lib", "usr/lib"), ("/lib64", "usr/lib64"), ("/sbin", "usr/sbin")):
            if Path(link).is_symlink():
                argv += ["--symlink", target, link]
        read_only = read_only_binds() + ([self.cache] if self.cache else [])
        for folder in ancestors(read_only):
            argv += ["--perms", "0755", "--dir", str(folder)]
        for path in read_only:
            argv += ["--ro-bind", str(path), str(path)]
        argv += ["--perms", "0755", "--dir", "/job", "--dir", AGENT_WORKSPACE, "--remount-ro", "/", "--chdir", "/"]
        argv += ["--clearenv"]
        for key, value in sorted(sandbox_env().items()):
            argv += ["--setenv", key, value]
        return [*argv, "--cap-drop", "ALL", *[a for cap in _ZYGOTE_CAPS for a in ("--cap-add", cap)]]

    @classmethod
    def shared(cls, limits: SandboxLimits, role: str = BUILDER, cache: Path | None = None) -> "WarmSandbox | None":
        """A connection to the warm sandbox of `role` (joined, started, or started again after it stopped or
        crashed), or None where it cannot run."""
        wanted = limits.warm_builder if role == BUILDER else limits.warm_judge
        if os.geteuid() != 0 or bubblewrap_problem() is not None or not wanted:
            return None
        name = service_name(limits, role, cache)
        with cls._lock:
            lock = cls._locks.setdefault(name, threading.Lock())
        with lock:
            current = cls._shared.get(name)
            if current is None or not current.running:
                try:
                    if cache is not None:
                        cache.mkdir(parents=True, exist_ok=True)
                    cls._shared[name] = current = cls(limits, role, cache)
                except (WarmSandboxUnavailable, OSError):
                    cls._shared.pop(name, None)
                    return None
            return current

    @property
    def running(self) -> bool:
        return self.alive

    def register(self, run: WarmRun) -> None:
        self.runs[run.name] = run

    def send(self, message: bytes, fds: list[int]) -> None:
        with self._send_lock:
            socket.send_fds(self.control, [message], fds)

    def kill(self, name: str) -> None:
        with suppress(OSError):
            self.send(json.dumps({"kill": name}).encode(), [])

    def start(
        self,
        limits: SandboxLimits,
        job_json: str,
        payload: Path | bytes,
        workspace: Path,
        logs: Path,
        wall_timeout_s: float,
        protected: list[str] | None = None,
    ) -> WarmRun:
        """Run a job under `limits` (the job's own: the warm sandbox's are only its start-up's). `payload`
        is the builder's script, or the build folder the judge is to judge. With `protected` (the top-level
        folders a program may read but not change), the job is a program run on a copy of the agent's
        `workspace` (`payload`), whose changes are synced back after, as a cold `execute` does."""
        logs.mkdir(parents=True, exist_ok=True)
        workspace.mkdir(parents=True, exist_ok=True)
        uid = claim_uid(limits.uid_range)
        source = os.memfd_create(self.role)
        try:
            if isinstance(payload, bytes):
                os.write(source, payload)
            else:
                with os.fdopen(os.dup(source), "wb") as out:
                    if protected is None:
                        export_tar(payload, set(), out)
                    else:
                        workspace_tar(payload, out, limits.workspace_mb * 1024 * 1024)
            os.lseek(source, 0, os.SEEK_SET)
            return WarmRun(self, limits, uid, job_json, source, workspace, logs, wall_timeout_s, protected)
        finally:
            os.close(source)

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
            if run is not None:  # a job it could not start ("refused") is worth a try elsewhere
                run.finished(int(report["status"]), builder_died=bool(report.get("refused")))
        # The warm sandbox is gone (idle, or crashed): every job in flight has failed; the next job
        # starts or joins a new one.
        self.alive = False
        with suppress(OSError):
            self.control.close()
        for run in list(self.runs.values()):
            run.finished(-9, builder_died=True)
        self.runs.clear()
        if self.process is not None:  # ours: reap it
            with suppress(subprocess.TimeoutExpired):
                self.process.wait(30)


def prewarm_for(home: Path, limits: SandboxLimits) -> None:
    """`prewarm` with the judge's cache of `home`: what a check under that home will ask for."""
    from benchgen_dagster.paths import cache_dir

    prewarm(limits, cache_dir(home) / JUDGE_CACHE)


def prewarm(limits: SandboxLimits, judge_cache: Path) -> None:
    """Start (or join) the warm builder and judge in the background: a candidate's first check finds them
    warm, their imports paid on a core the planner leaves idle."""
    for role, cache in ((BUILDER, None), (JUDGE, judge_cache)):
        threading.Thread(target=WarmSandbox.shared, args=(limits, role, cache), daemon=True).start()


def workspace_tar(workspace: Path, out: BinaryIO, limit: int) -> None:
    """The agent's workspace as a tar of its regular files, read through the safe-file module (no link
    followed, no file over the workspace quota): what a cold `execute` copies in."""
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as archive:
        for relative, found in safe_files.walk_files(workspace, with_folders=True):
            info = tarfile.TarInfo(relative)
            if stat.S_ISDIR(found.st_mode):
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                archive.addfile(info)
                continue
            data = safe_files.read_bytes(workspace, relative, limit=limit)
            info.size, info.mode = len(data), 0o644
            archive.addfile(info, io.BytesIO(data))


def _served(name: str) -> bool:
    """Whether a warm sandbox of that name serves, or is starting: its name is bound."""
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        probe.bind("\0" + name)
    except OSError:
        return True
    finally:
        probe.close()
    return False


def _idle_seconds() -> int:
    try:
        return max(1, int(os.environ.get(IDLE_ENV) or _DEFAULT_IDLE_S))
    except ValueError:
        return _DEFAULT_IDLE_S


def service_name(limits: SandboxLimits, role: str, cache: Path | None) -> str:
    """The warm sandbox's name on this machine: what it starts with, and the code it runs."""
    shape = {
        "role": role,
        "cache": str(cache or ""),
        "limits": limits.model_dump(mode="json", include={"tmp_mb", "max_processes", "memory_mb", "cgroups"}),
        "python": sys.executable,
        "code": judge_version(),
    }
    return "benchgen-warm-" + hashlib.sha256(json.dumps(shape, sort_keys=True).encode()).hexdigest()[:16]
