"""The first process inside every sandbox: trusted, standard library only.

`python -m benchgen_dagster.worker.sandbox_entry SPEC_JSON`, started by `worker.sandbox`. It
- copies the host folder it was given into the size-limited workspace (an agent's files, say),
- starts the untrusted command as the sandbox's unprivileged user, with its rlimits,
- waits for it, then kills every process the command left behind,
- and streams the workspace's regular files and folders back to the host as one tar on the export
  fd (links, FIFOs and devices never leave).
The untrusted command never holds the export fd. As root (a host that runs us as root), the command
runs as another uid and cannot signal or trace this process; without root it can, and then all it can
do is lose its own output.
"""

import contextlib
import json
import os
import resource
import signal
import stat
import sys
import tarfile
from pathlib import Path
from typing import Any, BinaryIO

_RLIMITS = {
    "AS": resource.RLIMIT_AS,
    "CPU": resource.RLIMIT_CPU,
    "FSIZE": resource.RLIMIT_FSIZE,
    "CORE": resource.RLIMIT_CORE,
    "NPROC": resource.RLIMIT_NPROC,
}


def apply_rlimits(limits: dict[str, int]) -> None:
    """Set each named limit (AS, CPU, FSIZE, CORE, NPROC), soft and hard alike, for this process."""
    for name, value in limits.items():
        resource.setrlimit(_RLIMITS[name], (value, value))


def _copy_tree(source: Path, dest: Path, skip: set[str], uid: int | None, gid: int | None, top: bool = True) -> None:
    for entry in os.scandir(source):
        if top and entry.name in skip:
            continue
        target = dest / entry.name
        if entry.is_dir(follow_symlinks=False):
            target.mkdir(exist_ok=True)
            _copy_tree(Path(entry.path), target, skip, uid, gid, top=False)
        elif entry.is_file(follow_symlinks=False):
            fd = os.open(entry.path, os.O_RDONLY | os.O_NOFOLLOW)
            with os.fdopen(fd, "rb") as src, open(target, "wb") as out:
                while chunk := src.read(1 << 20):
                    out.write(chunk)
        else:
            continue
        if uid is not None and gid is not None:
            os.chown(target, uid, gid)


def _start(spec: dict[str, Any], export_fd: int) -> int:
    pid = os.fork()
    if pid:
        return pid
    try:
        os.setsid()
        os.close(export_fd)
        if spec.get("uid") is not None:
            os.setgroups([])
            os.setgid(spec["gid"])
            os.setuid(spec["uid"])
        apply_rlimits(spec.get("rlimits", {}))
        os.chdir(spec["cwd"])
        command = spec["command"]
        os.execve(command[0], command, spec["env"])
    except BaseException as error:  # nothing may return into the entry's own code from the child
        os.write(2, f"sandbox: cannot start {spec['command'][0]}: {error}\n".encode())
    os._exit(127)


def _wait(pid: int) -> int:
    while True:
        try:
            _, status = os.waitpid(pid, 0)
            return status
        except InterruptedError:
            continue


def _kill_leftovers(pid: int, own_pid_namespace: bool) -> None:
    if own_pid_namespace:
        # Alone in bubblewrap's PID namespace: -1 reaches every process but its init and this one.
        for _ in range(50):
            try:
                os.kill(-1, signal.SIGKILL)
            except ProcessLookupError:
                break
            try:
                while os.waitpid(-1, os.WNOHANG)[0]:
                    pass
            except ChildProcessError:
                pass
    else:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)


def export_tar(workspace: Path, skip: set[str], out: BinaryIO) -> None:
    """Stream the regular files and folders under `workspace` as a tar (links, FIFOs, devices left out)."""
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as archive:

        def visit(folder: Path, prefix: str) -> None:
            for entry in sorted(os.scandir(folder), key=lambda e: e.name):
                if not prefix and entry.name in skip:
                    continue
                name = f"{prefix}{entry.name}"
                found = entry.stat(follow_symlinks=False)
                if stat.S_ISDIR(found.st_mode):
                    info = tarfile.TarInfo(name)
                    info.type, info.mode = tarfile.DIRTYPE, 0o755
                    archive.addfile(info)
                    visit(Path(entry.path), name + "/")
                elif stat.S_ISREG(found.st_mode):
                    fd = os.open(entry.path, os.O_RDONLY | os.O_NOFOLLOW)
                    with os.fdopen(fd, "rb") as handle:
                        info = tarfile.TarInfo(name)
                        info.size, info.mode = os.fstat(fd).st_size, 0o644
                        archive.addfile(info, handle)

        visit(workspace, "")


def main(argv: list[str]) -> int:
    spec = json.loads(argv[0])
    workspace = Path(spec["workspace"])
    skip = set(spec.get("skip", []))
    uid, gid = spec.get("uid"), spec.get("gid")
    export_fd = spec["export_fd"]
    if spec.get("seed_from"):
        _copy_tree(Path(spec["seed_from"]), workspace, skip, uid, gid)
    if uid is not None:
        os.chown(workspace, uid, gid)
    pid = _start(spec, export_fd)
    status = _wait(pid)
    _kill_leftovers(pid, bool(spec.get("own_pid_namespace")))
    if spec.get("export"):
        try:
            with os.fdopen(export_fd, "wb") as out:
                export_tar(workspace, skip, out)
        except (BrokenPipeError, OSError) as error:
            # The host stopped reading (the export outgrew its bound): the run has failed already.
            os.write(2, f"sandbox: export stopped: {error}\n".encode())
    else:
        os.close(export_fd)
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
