"""A valid benchmark that turns hostile for some seeds; which attack each seed makes is set in ATTACKS.

The tests copy this file with ATTACKS (seed -> attack) and the constants replaced; the other seeds
build normally, so a test sees both that each attack is contained and that the other seeds are
unaffected, several attacks in one sandbox run.
"""

import os
import signal
import socket
import sys
import time

from build123d import Box, Pos

from benchgen_dagster.scene import Part, Scene, Zone, sampler

ATTACKS: dict[int, str] = {}
AT_IMPORT = ""
OUTSIDE_PATH = "/tmp/benchgen-sandbox-escape.txt"
LISTENER_PORT = 5432
MAX_FORKS = 10_000


def fork_until_refused() -> None:
    """Fork children that sleep until the kernel refuses, then report how many there were."""
    children = 0
    try:
        while children < MAX_FORKS:
            if os.fork() == 0:
                time.sleep(30)
                os._exit(0)
            children += 1
    except OSError as error:
        raise RuntimeError(f"forked {children} processes, then {error}") from None
    raise RuntimeError(f"forked {children} processes and was never refused")


def fill_the_disk() -> None:
    chunk = b"x" * (1 << 20)
    for n in range(100_000):
        with open(f"filler-{n}.bin", "wb") as handle:
            for _ in range(16):
                handle.write(chunk)


def attack(action: str, seed: int) -> None:
    if action == "network":
        socket.create_connection(("127.0.0.1", LISTENER_PORT), timeout=2).close()
    elif action == "write_outside":
        with open(OUTSIDE_PATH, "w") as handle:
            handle.write("escaped")
    elif action == "secret":
        key = os.environ["BENCHGEN_TEST_API_KEY"]
        raise RuntimeError(f"stole {key}")
    elif action == "fork_bomb":
        fork_until_refused()
    elif action == "memory":
        hoard = []
        while True:
            hoard.append(bytearray(512 * 1024 * 1024))
    elif action == "infinite_loop":
        while True:
            pass
    elif action == "print_gigabytes":
        chunk = "x" * (1024 * 1024)
        while True:
            sys.stdout.write(chunk)
    elif action == "fill_disk":
        fill_the_disk()
    elif action == "os_exit":
        os._exit(3)
    elif action == "raise":
        raise ValueError("wall too tall")
    elif action == "kill_parent":
        os.kill(os.getppid(), signal.SIGKILL)
        time.sleep(5)
    elif action == "escape_group":
        # Leave our own process group for the runner's, hoping a group kill misses us.
        os.setpgid(0, os.getpgid(os.getppid()))
        while True:
            pass
    elif action in ("plant_fifo", "plant_symlink"):
        # Replace our build record with something that could hang or leak the parent, then take the runner down.
        record = f"seeds/{seed}/build.json"
        if action == "plant_fifo":
            os.mkfifo(record)
        else:
            os.symlink("/etc/passwd", record)
        os.kill(os.getppid(), signal.SIGKILL)
        time.sleep(5)
    elif action == "kill_all":
        os.kill(-1, signal.SIGKILL)
        time.sleep(5)


if AT_IMPORT:
    attack(AT_IMPORT, -1)


def build(seed: int, scale: float = 1.0) -> Scene:
    if seed in ATTACKS:
        attack(ATTACKS[seed], seed)
    p = sampler(seed)
    size = p.param("box_size", nominal=60, spread=0.4)
    s = Scene(workspace=Zone((-400, -300, 0), (800, 300, 400)), scale=scale, params=p)
    s.add(Part("box", Pos(-200, 0, size / 2 + 0.3) * Box(size, size, size), role="free", material="wood"))
    s.objectives(moved="box", goal=Zone((300, -60, 0), (420, 60, 150)), build=Zone((-380, -200, 0), (100, 200, 300)))
    return s
