"""One job in a warm sandbox (`worker.warm`), from the host's side: what it was sent, its logs and the files
it gives back, as the SandboxRun a cold run would give."""

import json
import os
import threading
import time
import uuid
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING

from benchgen_dagster.models.settings import SandboxLimits
from benchgen_dagster.worker.cgroups import tasks_of_user
from benchgen_dagster.worker.commands import AGENT_PATH
from benchgen_dagster.worker.job_uids import UidClaim
from benchgen_dagster.worker.sandbox import KILL_ALL_SAFE, SandboxRun, drain_export, keep_log, sandbox_env, tail
from benchgen_dagster.worker.sandbox_export import ExportError, apply_export

if TYPE_CHECKING:
    from benchgen_dagster.worker.warm import WarmSandbox

BUILDER, JUDGE = "builder", "judge"


class WarmRun:
    """One job in a warm sandbox: `wait()` gives the same SandboxRun a cold run would."""

    def __init__(
        self,
        builder: "WarmSandbox",
        limits: SandboxLimits,
        claim: UidClaim,
        job_json: str,
        source: int,
        workspace: Path,
        logs: Path,
        wall_timeout_s: float,
        protected: list[str] | None = None,
    ) -> None:
        # The uid is this job's until it has ended: no other run on the machine is given it meanwhile.
        self.builder, self.name, self.job_limits = builder, uuid.uuid4().hex, limits
        self._uid_claim, self.uid = claim, claim.uid
        uid = claim.uid
        # An agent's program on a copy of its workspace: what it changed is synced back, but for these.
        self.protected = protected
        self.workspace, self.logs, self.wall_timeout_s = workspace, logs, wall_timeout_s
        self.done = threading.Event()
        self.status: int | None = None
        # True when the warm sandbox itself went away with this job in flight (not the job's doing).
        self.builder_died = False
        self.started = time.perf_counter()
        self.archive = logs / "export.tar"
        self.too_big = threading.Event()
        result_r, result_w = os.pipe()
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        nproc = limits.max_processes + tasks_of_user(uid)
        request = {
            "name": self.name,
            "uid": uid,
            # The real uid of the zygote's killer of this job's processes: below the range, no job's.
            "killer": max(1, limits.uid_range[0] - 1),
            "kind": "execute" if protected is not None else "build" if builder.role == BUILDER else "judge",
            "protected": protected or [],
            "job": job_json,
            "input_bytes": os.fstat(source).st_size,
            "workspace_bytes": limits.workspace_mb * 1024 * 1024,
            "tmp_bytes": limits.tmp_mb * 1024 * 1024,
            # An agent's program finds the interpreter benchgen runs on as `python`, as a cold execute does.
            "env": {
                **sandbox_env({"PATH": AGENT_PATH} if protected is not None else None),
                KILL_ALL_SAFE: "1",
                "TMPDIR": "/job/tmp",
                "HOME": "/job/tmp",
            },
            "rlimits": {
                "AS": limits.memory_mb * 1024 * 1024,
                "CPU": limits.cpu_seconds,
                "FSIZE": limits.file_size_mb * 1024 * 1024,
                "CORE": 0,
                "NPROC": nproc,
            },
        }
        self.limits = {
            "isolation": f"bubblewrap, warm {builder.role} (a mount namespace, tmpfs and uid of its own)",
            "user": f"uid {uid}",
            "processes": f"RLIMIT_NPROC ({nproc} tasks of uid {uid})",
            "memory": f"RLIMIT_AS {limits.memory_mb} MB per process"
            + (
                f", the warm {builder.role}'s memory cgroup {builder.memory_mb} MB"
                if "memory" in builder.controllers
                else ""
            ),
            "disk": f"workspace tmpfs {limits.workspace_mb} MB, TMPDIR tmpfs {limits.tmp_mb} MB (/tmp read-only)",
            "cpu": f"RLIMIT_CPU {limits.cpu_seconds} s",
            "file_size": f"RLIMIT_FSIZE {limits.file_size_mb} MB",
            "cgroups": ", ".join(f"the warm {builder.role}'s {c} cgroup" for c in builder.controllers) or "none",
        }
        builder.register(self)
        try:
            builder.send(json.dumps(request).encode(), [source, result_w, out_w, err_w])
        except OSError:
            builder.alive = False
            self.finished(-9, builder_died=True)
        finally:
            for fd in (result_w, out_w, err_w):
                os.close(fd)
        log_limit = limits.log_mb * 1024 * 1024
        self.readers = [
            threading.Thread(target=self._drain, args=(result_r,), daemon=True),
            threading.Thread(
                target=keep_log, args=(os.fdopen(out_r, "rb"), logs / "stdout.log", log_limit), daemon=True
            ),
            threading.Thread(
                target=keep_log, args=(os.fdopen(err_r, "rb"), logs / "stderr.log", log_limit), daemon=True
            ),
        ]
        for reader in self.readers:
            reader.start()

    def _drain(self, read_fd: int) -> None:
        drain_export(read_fd, self.archive, self.job_limits.workspace_mb, self.too_big)

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
        self._uid_claim.release()
        problem = None
        if self.too_big.is_set():
            problem = f"the run's files exceeded the workspace quota of {self.job_limits.workspace_mb} MB"
        else:
            try:
                synced = self.protected is not None
                apply_export(self.archive, self.workspace, self.protected or [], synced=synced)
            except ExportError as error:
                problem = str(error)
        with suppress(OSError):
            self.archive.unlink()
        status = self.status if self.status is not None else -9
        return SandboxRun(
            returncode=status if status >= 0 else 128 - status,
            timed_out=timed_out,
            wall_s=time.perf_counter() - self.started,
            stdout_tail=tail(self.logs / "stdout.log"),
            stderr_tail=tail(self.logs / "stderr.log"),
            isolation=self.limits["isolation"],
            limits=self.limits,
            export_problem=problem,
            builder_died=self.builder_died,
        )
