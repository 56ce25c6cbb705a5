"""The warm sandbox's own defences, tested on its parts: the kill that ends a job, a job it cannot start,
and the uids that keep runs apart. (Its jobs' isolation is tested through the checker in test_sandbox.)"""

import errno
import json
import os
import signal
import socket
import subprocess
import threading
import time

import pytest

from benchgen_dagster.worker import zygote
from benchgen_dagster.worker.job_uids import claim_uid

# Outside the default range, so no other test's runs hold these; the freezing job's are its own, as the
# tests may run at the same time.
_TEST_UIDS = (61_000, 61_003)
_FREEZER_UIDS = (61_010, 61_013)
_KILLER = 60_999


@pytest.fixture(autouse=True)
def _as_root() -> None:
    # The warm sandbox runs only as root (it drops each job to a uid of its own): these must fail, not skip.
    assert os.geteuid() == 0, "the warm sandbox's tests need root, as the sandbox does"


def _kill_everything_of(uid: int) -> None:
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid == uid:
                    os.kill(int(entry), signal.SIGKILL)
            except OSError:
                pass


def test_a_job_cannot_freeze_the_kill_that_ends_it(monkeypatch: pytest.MonkeyPatch) -> None:
    # No backstop: the killer must be out of the job's reach, not rescued after it was frozen.
    monkeypatch.setattr(zygote, "_KILL_TIMEOUT_S", 3600.0)
    real_kill = os.kill

    def kill_after_a_while(pid: int, sig: int) -> None:
        if pid == -1:  # the killer, as the job's uid: the job has all the time it wants to stop it first
            time.sleep(0.3)
        real_kill(pid, sig)

    monkeypatch.setattr(zygote.os, "kill", kill_after_a_while)
    # (A shell: the interpreter's own folder is root's alone.)
    stop_everything = ["/bin/sh", "-c", "while :; do kill -s STOP -- -1 2>/dev/null; done"]
    for _ in range(3):
        claim = claim_uid(_FREEZER_UIDS)
        stopper = subprocess.Popen(stop_everything, user=claim.uid, group=claim.uid)
        try:
            time.sleep(0.15)  # it stops everything of its uid it can reach, as fast as it can
            killing = threading.Thread(target=zygote._kill_uid, args=(claim.uid, _KILLER), daemon=True)
            killing.start()
            killing.join(timeout=20)
            assert not killing.is_alive(), "the job froze the process that was to kill it"
            assert stopper.wait(timeout=10) == -signal.SIGKILL
        finally:
            _kill_everything_of(claim.uid)
            stopper.wait()
            claim.release()


def test_the_zygote_refuses_a_job_it_cannot_fork_and_serves_on(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_more_processes() -> int:
        raise OSError(errno.EAGAIN, "Resource temporarily unavailable")

    monkeypatch.setattr(zygote.os, "fork", no_more_processes)
    name = f"benchgen-test-zygote-{os.getpid()}"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    listener.bind("\0" + name)
    listener.listen(4)
    serving = threading.Thread(target=zygote.serve, args=(listener, 1.0, b'{"ready": true}'), daemon=True)
    serving.start()
    client = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    client.settimeout(10)
    client.connect("\0" + name)
    assert json.loads(client.recv(1 << 16)) == {"ready": True}
    for job in ("first", "second"):
        pipes = [os.pipe() for _ in range(4)]
        request = {"name": job, "uid": _TEST_UIDS[0], "killer": _KILLER}
        socket.send_fds(client, [json.dumps(request).encode()], [r for r, _ in pipes])
        for read, write in pipes:
            os.close(read)
            os.close(write)
        report = json.loads(client.recv(1 << 16))
        # Refused, so the host runs it elsewhere; the zygote is still there for the next one.
        assert report["done"] == job and report["status"] == -9 and "temporarily unavailable" in report["refused"]
    client.close()
    serving.join(timeout=20)
    assert not serving.is_alive(), "the zygote should stop once idle"


def test_no_two_runs_hold_the_same_uid_and_a_uid_with_live_processes_is_skipped() -> None:
    low, high = _TEST_UIDS
    held = [claim_uid(_TEST_UIDS) for _ in range(high - low)]
    assert sorted(c.uid for c in held) == list(range(low, high))
    with pytest.raises(RuntimeError, match="no free uid"):
        claim_uid(_TEST_UIDS)
    survivor = held.pop(0)
    survivor.release()
    # A process an earlier run of that uid left behind: the uid is not given out again while it lives.
    left = subprocess.Popen(["/bin/sleep", "60"], user=survivor.uid)
    try:
        with pytest.raises(RuntimeError, match="no free uid"):
            claim_uid(_TEST_UIDS)
    finally:
        left.kill()
        left.wait()
    again = claim_uid(_TEST_UIDS)
    assert again.uid == survivor.uid
    for claim in [*held, again]:
        claim.release()


def test_a_stopped_warm_sandbox_leaves_no_cgroup_behind() -> None:
    from benchgen_dagster.worker.cgroups import RunCgroups, remove_unused
    from benchgen_dagster.worker.warm import _served

    prefix = f"benchgen-warm-test{os.getpid()}-"
    stopped = RunCgroups(8, 1 << 26, name=prefix + "stopped")
    serving = RunCgroups(8, 1 << 26, name=prefix + "serving")
    assert stopped.paths and serving.paths, "this machine lets root make cgroups"
    bound = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    bound.bind("\0" + prefix + "serving")  # as a warm sandbox's name is, while it serves
    try:
        removed = remove_unused(prefix, _served)
        assert set(removed) == {prefix + "stopped"}
        assert not any(path.exists() for path in stopped.paths)
        assert all(path.is_dir() for path in serving.paths)
    finally:
        bound.close()
        serving.kill_all_and_remove()
        stopped.kill_all_and_remove()
