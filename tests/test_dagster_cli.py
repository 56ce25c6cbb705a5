"""Dagster's own CLI, tried as a new user would: from a fresh checkout's root, with nothing set.

Dagster then reads the root `dagster.yaml` as the instance's configuration; it must give a working
local instance (the one `benchgen` keeps in ./.benchgen/dagster), not demand PostgreSQL settings.
"""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.services import free_port, graphql

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
SELECTION = ("--select", "benchmark_dataset,dataset_gallery")

pytestmark = [pytest.mark.enable_socket, pytest.mark.allow_hosts(["127.0.0.1"])]


def _fresh_checkout(folder: Path) -> Path:
    """The repository's files as a clone has them (tracked and new, nothing ignored, no state)."""
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO, check=True, capture_output=True
    ).stdout.split(b"\0")
    for name in filter(None, (entry.decode() for entry in listed)):
        if (REPO / name).is_file():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, folder / name)
    return folder


def _clean_env(home: Path) -> dict[str, str]:
    """Only what a login shell would have: no DAGSTER_HOME, no BENCHGEN_*, no DAGSTER_PG_*."""
    return {"PATH": f"{BIN}:/usr/bin:/bin", "HOME": str(home), "LANG": "C.UTF-8"}


def test_dagster_materialize_and_dev_work_from_a_fresh_checkout_with_nothing_set(tmp_path: Path) -> None:
    checkout = _fresh_checkout(tmp_path / "checkout")
    env = _clean_env(tmp_path / "user")
    materialized = subprocess.run(
        [BIN / "dagster", "asset", "materialize", "-m", "benchgen_dagster.definitions", *SELECTION],
        check=False,
        cwd=checkout,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert materialized.returncode == 0, materialized.stderr[-3000:]
    assert "RUN_SUCCESS" in materialized.stderr
    # The run went into the local instance benchgen itself uses, not a temporary one.
    assert (checkout / ".benchgen" / "dagster" / "history" / "runs.db").is_file()
    assert (checkout / ".benchgen" / "gallery" / "index.html").is_file()

    port = free_port()
    log = tmp_path / "dagster-dev.log"
    with log.open("wb") as output:
        server = subprocess.Popen(
            [BIN / "dagster", "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
            cwd=checkout,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 180
        while True:
            assert server.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, "dagster dev did not answer in 180 s: " + log.read_text()[-3000:]
            try:
                found = graphql(
                    port,
                    '{ assetOrError(assetKey: {path: ["benchmark_dataset"]}) '
                    "{ ... on Asset { assetMaterializations(limit: 1) { runId } } } }",
                )
            except OSError:
                time.sleep(1)
                continue
            break
        # The UI shows the materialization the CLI made: one instance for both.
        assert found["assetOrError"]["assetMaterializations"], found
    finally:
        os.killpg(server.pid, signal.SIGINT)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
