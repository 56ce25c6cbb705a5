"""The warm sandbox: one sandboxed process that has paid its imports and never does a job itself.

`python -m benchgen_dagster.worker.zygote LISTEN_FD ROLE IDLE_S CONTROLLERS`, started by `worker.warm`
inside bubblewrap, as root (no user namespace) with only the capabilities it needs to make each job a
sandbox of its own. ROLE is what it imported for: `builder` (build123d; its jobs run untrusted
scripts) or `judge` (mujoco and the judge's code; its jobs parse the builders' untrusted data). For
every job it is sent (a message and four fds: the job's input, its result, stdout and stderr) it
forks a child that
- unshares its mount namespace and mounts fresh size-limited tmpfs at /job, /job/tmp and /dev/shm,
  so it sees no other job's files and nothing an earlier job left;
- writes its input read-only under /job/input: a builder's script, or the build a judge is to judge;
- forks the job's process, which drops to the job's uid and builds every seed as the cold builder
  does (a fresh forked process per seed, its own CPU limit), or judges every seed as the cold judge
  does, only without paying the imports;
- and, when it is done and what it left is killed, streams /job/work back as a tar on the result fd.
Different jobs run as different uids, so one cannot signal, trace or read another, nor the zygote,
nor its own root process that exports its files.
The zygote serves every host process that connects (a batch's command and its runs), reports each
job's exit status to the one that sent it, and stops once it has had no job for IDLE_S seconds;
everything a job sends back is untrusted, and the host reads it with the same bounds as a cold
sandbox's export.
"""

import builtins
import ctypes
import json
import os
import runpy
import select
import signal
import socket
import struct
import sys
import tarfile
import time
import traceback
from contextlib import suppress
from pathlib import Path
from typing import Any, NoReturn

from benchgen_dagster.worker.commands import AGENT_WORKSPACE
from benchgen_dagster.worker.sandbox_entry import apply_rlimits, export_tar

CLONE_NEWNS = 0x00020000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 0x1, 0x2, 0x4, 0x20, 0x1000, 0x4000, 0x40000
PR_SET_NO_NEW_PRIVS = 38
JOB_ROOT = Path("/job")
_KILL_TIMEOUT_S = 2.0
_libc = ctypes.CDLL(None, use_errno=True)


def _call(result: int, what: str) -> None:
    if result != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"{what}: {os.strerror(error)}")


def _mount_tmpfs(target: Path, size_bytes: int, mode: str) -> None:
    options = f"size={size_bytes},mode={mode}".encode()
    _call(_libc.mount(b"tmpfs", str(target).encode(), b"tmpfs", MS_NOSUID | MS_NODEV, options), f"mount {target}")


def _isolate(job: dict[str, Any], source: int) -> Path:
    """A mount namespace of the job's own: a fresh tmpfs for its files and its temporary files (TMPDIR),
    a fresh /dev/shm, its input read-only, and the zygote's /tmp read-only (the interpreter and the
    virtualenv may be bound beneath it, so it cannot simply be replaced)."""
    _call(_libc.unshare(CLONE_NEWNS), "unshare")
    _call(_libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None), "make mounts private")
    _mount_tmpfs(JOB_ROOT, job["workspace_bytes"], "0755")
    for folder, mode in (("tmp", "1777"), ("input", "0755")):
        (JOB_ROOT / folder).mkdir()
        # The input's tmpfs holds a build that fit the builder's workspace quota, with room for tmpfs's
        # page per small file (a tar packs them in 512-byte blocks).
        size = job["tmp_bytes"] if folder == "tmp" else 2 * max(job["input_bytes"], job["workspace_bytes"])
        _mount_tmpfs(JOB_ROOT / folder, size, mode)
    _call(_libc.mount(b"none", b"/tmp", None, MS_REMOUNT | MS_BIND | MS_RDONLY, None), "/tmp read-only")
    _mount_tmpfs(Path("/dev/shm"), job["tmp_bytes"], "1777")
    if job["kind"] == "execute":
        _mount_tmpfs(Path(AGENT_WORKSPACE), job["workspace_bytes"], "0700")
        return _agent_workspace(job, source, Path(AGENT_WORKSPACE))
    work = JOB_ROOT / "work"
    work.mkdir(mode=0o700)
    with os.fdopen(source, "rb") as handle:
        if job["kind"] == "build":
            script = JOB_ROOT / "input" / "script.py"
            script.write_bytes(handle.read(job["input_bytes"] + 1)[: job["input_bytes"]])
            script.chmod(0o644)
        else:
            # The host's tar of the build it validated; extracted as plain files and folders only.
            with tarfile.open(fileobj=handle, mode="r|") as archive:
                archive.extractall(JOB_ROOT / "input" / "build", filter="data")
    _call(
        _libc.mount(
            b"none", str(JOB_ROOT / "input").encode(), None, MS_REMOUNT | MS_NOSUID | MS_NODEV | MS_RDONLY, None
        ),
        "/job/input read-only",
    )
    os.chown(work, job["uid"], job["uid"])
    return work


def _agent_workspace(job: dict[str, Any], source: int, work: Path) -> Path:
    """A copy of the agent's workspace as the program's working folder, its own uid's, with the folders
    it may read but not change (the tools', the skills) bound read-only over themselves, as a cold
    `execute` has them."""
    with os.fdopen(source, "rb") as handle, tarfile.open(fileobj=handle, mode="r|") as archive:
        archive.extractall(work, filter="data")
    for folder, _, files in os.walk(work):
        os.chown(folder, job["uid"], job["uid"])
        for name in files:
            os.chown(os.path.join(folder, name), job["uid"], job["uid"])
    for name in job["protected"]:
        folder = work / name
        if folder.is_dir() and not folder.is_symlink():
            target = str(folder).encode()
            _call(_libc.mount(target, target, None, MS_BIND, None), f"bind {name}")
            _call(_libc.mount(b"none", target, None, MS_REMOUNT | MS_BIND | MS_RDONLY, None), f"{name} read-only")
    return work


def _drop(job: dict[str, Any]) -> None:
    """Become the job's uid: no capabilities are left, and none can be gained again."""
    os.setgroups([])
    os.setgid(job["uid"])
    os.setuid(job["uid"])
    _call(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no new privileges")
    apply_rlimits(job["rlimits"])


def _job_process(job: dict[str, Any], fds: list[int], sockets: list[socket.socket]) -> NoReturn:
    """The forked child of one job, root in a mount namespace of its own; it never returns into the loop.

    Like the cold sandbox's entry it stays root and runs no job itself: it starts the job's process as
    the job's uid, kills what that uid left, and exports the files, so a job that kills every process it
    can still gives back what it made."""
    code = 1
    try:
        for other in sockets:
            other.close()
        source, result, stdout, stderr = fds
        os.dup2(stdout, 1)
        os.dup2(stderr, 2)
        low, high = sorted((source, result))
        os.closerange(3, low)
        os.closerange(low + 1, high)
        os.closerange(high + 1, 4096)
        os.setsid()
        os.umask(0o022)  # the input extracted world-readable whatever the host's umask: the job's uid reads it
        work = _isolate(job, source)
        runner = os.fork()
        if runner == 0:
            _run_as_job(job, work, result)
        _, status = os.waitpid(runner, 0)
        _kill_uid(job["uid"], job["killer"])
        with os.fdopen(result, "wb") as out:
            # The folders a program may read but not change never come back (the host ignores them too).
            export_tar(work, set(job.get("protected", [])), out)
        code = os.waitstatus_to_exitcode(status)
    except BaseException as error:  # the job's failure is the job's: report it, never return into the loop
        os.write(2, f"warm sandbox: the job failed: {type(error).__name__}: {error}\n".encode())
    os._exit(code if code >= 0 else 128 - code)


def _run_as_job(job: dict[str, Any], work: Path, result: int) -> NoReturn:
    """The job's process: the job's uid, its rlimits, its environment; its seeds fork from here."""
    code = 1
    try:
        os.close(result)
        _drop(job)
        os.chdir(work)
        os.environ.clear()
        os.environ.update(job["env"])
        if job["kind"] == "execute":
            os._exit(_execute(json.loads(job["job"])))
        if job["kind"] == "build":
            from benchgen_dagster.worker.builder import BuildJob, build_all

            build = BuildJob.model_validate_json(job["job"])
            build_all(build.model_copy(update={"script": str(JOB_ROOT / "input" / "script.py")}))
        else:
            from benchgen_dagster.worker.judge import SUMMARY_NAME, JudgeJob, judge

            request = JudgeJob.model_validate_json(job["job"])
            summary = judge(request.model_copy(update={"build_dir": str(JOB_ROOT / "input" / "build")}))
            Path(SUMMARY_NAME).write_text(summary.model_dump_json())
        code = 0
    except BaseException as error:
        os.write(2, f"warm sandbox: the {job['kind']} failed: {type(error).__name__}: {error}\n".encode())
    os._exit(code)


def _execute(program: dict[str, Any]) -> int:
    """An agent's `python -c CODE` or `python FILE.py` (the commands worker/commands.py lets run here;
    every other command runs under /bin/sh in a cold sandbox), in this interpreter, whose imports are
    paid, as its uid. Its exit status is what the shell would give."""
    argv = [str(a) for a in program.get("argv", [])]
    try:
        if "script" in program:
            sys.argv = [program["script"], *argv]
            sys.path[0] = os.path.dirname(os.path.abspath(program["script"]))
            runpy.run_path(program["script"], run_name="__main__")
        else:
            sys.argv = ["-c", *argv]
            sys.path[0] = ""  # the working folder first, as `python -c` has it
            exec(compile(program["code"], "<string>", "exec"), {"__name__": "__main__", "__builtins__": builtins})
        code = 0
    except SystemExit as leaving:
        if leaving.code is None or isinstance(leaving.code, int):
            code = leaving.code or 0
        else:
            print(leaving.code, file=sys.stderr)
            code = 1
    except BaseException:
        traceback.print_exc()
        code = 1
    for stream in (sys.stdout, sys.stderr):
        with suppress(Exception):
            stream.flush()
    return code


def _kill_uid(uid: int, killer: int) -> None:
    """Kill every process of `uid` here: a short-lived killer whose effective uid is the job's (so its
    kill(-1) reaches them all and spares itself) while its real and saved uids are `killer`, one no job
    runs as, so none of them can signal it back (a SIGSTOP would freeze it, and this process with it)."""
    for _ in range(3):
        try:
            pid = os.fork()
        except OSError:  # out of processes for a moment: the jobs' limits are, not ours
            time.sleep(0.05)
            continue
        if pid == 0:
            try:
                os.setresgid(killer, uid, killer)
                os.setresuid(killer, uid, killer)
                os.kill(-1, signal.SIGKILL)
            except OSError:
                pass
            os._exit(0)
        deadline = time.monotonic() + _KILL_TIMEOUT_S
        while (reaped := os.waitpid(pid, os.WNOHANG)) == (0, 0):
            if time.monotonic() > deadline:  # stopped or starved all the same: end it, and try again
                os.kill(pid, signal.SIGKILL)
                reaped = os.waitpid(pid, 0)
                break
            time.sleep(0.001)
        # Done only when it got to its kill(-1) (another job's killer may have killed it first).
        if os.waitstatus_to_exitcode(reaped[1]) == 0:
            return


class _Client:
    """A host process's connection, known by a number of its own (its fd's number is reused once closed)."""

    def __init__(self, number: int, connection: socket.socket) -> None:
        self.number, self.connection = number, connection

    def fileno(self) -> int:
        return self.connection.fileno()


def serve(listener: socket.socket, idle_s: float, ready: bytes) -> None:
    """Serve the host's processes that connect, until no job has run for `idle_s` seconds.

    Each connection sends jobs (and kills of its own jobs by name) and hears when they end; a job whose
    connection goes away is killed, as the process that asked for it has."""
    clients: dict[int, _Client] = {}
    jobs: dict[int, tuple[str, int, int, int]] = {}  # pid: name, uid, killer uid, the client's number
    numbers = iter(range(1, 1 << 62))
    idle_since = time.monotonic()
    while jobs or time.monotonic() - idle_since < idle_s:
        ready_ones, _, _ = select.select([listener, *clients.values()], [], [], 0.05)
        for ready_one in ready_ones:
            # Any sign of a client keeps it from stopping under that client's first job.
            idle_since = time.monotonic()
            if ready_one is listener:
                _accept(listener, clients, next(numbers), ready)
                continue
            client = clients[ready_one.number]  # type: ignore[attr-defined]
            try:
                message, fds, _, _ = socket.recv_fds(client.connection, 1 << 16, 4)
            except OSError:
                message, fds = b"", []
            if not message:
                _drop_client(client, clients, jobs)
                continue
            request = json.loads(message)
            if "kill" in request:
                _kill_jobs(jobs, client.number, request["kill"])
                continue
            try:
                pid = os.fork()
            except OSError as error:  # out of processes or memory: this job is refused, the others go on
                _report(client, {"done": request["name"], "status": -9, "refused": str(error)})
                pid = -1
            if pid == 0:
                _job_process(request, fds, [listener, *(c.connection for c in clients.values())])
            for fd in fds:
                os.close(fd)
            if pid > 0:
                jobs[pid] = (request["name"], request["uid"], request["killer"], client.number)
        while jobs:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            if pid in jobs:
                name, uid, killer, number = jobs.pop(pid)
                # Whatever the job left running dies with it.
                _kill_uid(uid, killer)
                if number in clients:
                    _report(clients[number], {"done": name, "status": os.waitstatus_to_exitcode(status)})
        if jobs:
            idle_since = time.monotonic()
    listener.close()  # no one joins a sandbox that is going


def _report(client: _Client, report: dict[str, object]) -> None:
    with suppress(OSError):
        client.connection.send(json.dumps(report).encode())


def _accept(listener: socket.socket, clients: dict[int, _Client], number: int, ready: bytes) -> None:
    try:
        connection, _ = listener.accept()
    except OSError:
        return
    # Only root, as the zygote is: a host process of ours (no job can reach the socket).
    _, uid, _ = struct.unpack("3i", connection.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))
    if uid != os.getuid():
        connection.close()
        return
    clients[number] = _Client(number, connection)
    with suppress(OSError):
        connection.send(ready)


def _drop_client(client: _Client, clients: dict[int, _Client], jobs: dict[int, tuple[str, int, int, int]]) -> None:
    _kill_jobs(jobs, client.number)
    clients.pop(client.number, None)
    client.connection.close()


def _kill_jobs(jobs: dict[int, tuple[str, int, int, int]], client: int, name: str | None = None) -> None:
    """Kill a client's jobs: the one named, or all of them."""
    for pid, (job, uid, killer, asker) in list(jobs.items()):
        if asker == client and name in (None, job):
            _kill_uid(uid, killer)
            if _alive(pid):
                os.killpg(pid, signal.SIGKILL)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def main(argv: list[str]) -> int:
    """CONTROL_FD ROLE IDLE_S CONTROLLERS: the listening socket, the role, the idle time before it stops,
    and the cgroup controllers it was started in (for the jobs' descriptions of their limits)."""
    listener = socket.socket(fileno=int(argv[0]))
    if argv[1] == "judge":
        from benchgen_dagster.worker.judge import warm_up
    else:
        from benchgen_dagster.worker.builder import warm_up

    warm_up()
    controllers = [c for c in argv[3].split(",") if c] if len(argv) > 3 else []
    serve(listener, float(argv[2]), json.dumps({"ready": True, "controllers": controllers}).encode())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
