"""A valid benchmark that turns hostile for one seed; which attack is chosen by HOSTILE_ACTION below.

The tests copy this file with HOSTILE_ACTION replaced; seeds other than HOSTILE_SEED build normally,
so a test sees both that the attack is contained and that the other seeds are unaffected.
"""

import os
import signal
import socket
import sys
import time

from build123d import Box, Pos

from benchgen_dagster.scene import Part, Scene, Zone, sampler

HOSTILE_ACTION = "none"
HOSTILE_SEED = 1
AT_IMPORT = False
OUTSIDE_PATH = "/tmp/benchgen-sandbox-escape.txt"


def attack() -> None:
    if HOSTILE_ACTION == "network":
        socket.create_connection(("127.0.0.1", 5432), timeout=2).close()
    elif HOSTILE_ACTION == "write_outside":
        with open(OUTSIDE_PATH, "w") as handle:
            handle.write("escaped")
    elif HOSTILE_ACTION == "secret":
        key = os.environ["BENCHGEN_TEST_API_KEY"]
        raise RuntimeError(f"stole {key}")
    elif HOSTILE_ACTION == "fork_bomb":
        while True:
            os.fork()
    elif HOSTILE_ACTION == "memory":
        hoard = []
        while True:
            hoard.append(bytearray(512 * 1024 * 1024))
    elif HOSTILE_ACTION == "infinite_loop":
        while True:
            pass
    elif HOSTILE_ACTION == "print_gigabytes":
        chunk = "x" * (1024 * 1024)
        while True:
            sys.stdout.write(chunk)
    elif HOSTILE_ACTION == "os_exit":
        os._exit(3)
    elif HOSTILE_ACTION == "kill_parent":
        os.kill(os.getppid(), signal.SIGKILL)
        time.sleep(5)
    elif HOSTILE_ACTION == "escape_group":
        # Leave our own process group for the runner's, hoping a group kill misses us.
        os.setpgid(0, os.getpgid(os.getppid()))
        while True:
            pass
    elif HOSTILE_ACTION in ("plant_fifo", "plant_symlink"):
        # Replace our verdict with something that could hang or leak the parent, then take the runner down.
        verdict = f"seeds/{HOSTILE_SEED}/outcome.json"
        if HOSTILE_ACTION == "plant_fifo":
            os.mkfifo(verdict)
        else:
            os.symlink("/etc/passwd", verdict)
        os.kill(os.getppid(), signal.SIGKILL)
        time.sleep(5)
    elif HOSTILE_ACTION == "kill_all":
        os.kill(-1, signal.SIGKILL)
        time.sleep(5)


if AT_IMPORT:
    attack()


def build(seed: int, scale: float = 1.0) -> Scene:
    if seed == HOSTILE_SEED:
        attack()
    p = sampler(seed)
    size = p.param("box_size", nominal=60, spread=0.4)
    s = Scene(workspace=Zone((-400, -300, 0), (800, 300, 400)), scale=scale, params=p)
    s.add(Part("box", Pos(-200, 0, size / 2 + 0.3) * Box(size, size, size), role="free", material="wood"))
    s.objectives(moved="box", goal=Zone((300, -60, 0), (420, 60, 150)), build=Zone((-380, -200, 0), (100, 200, 300)))
    return s
