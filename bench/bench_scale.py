"""Scale-out: the same batch through the production deployment with 1 and with 2 Celery workers, each worker
pinned to one core (`taskset`) with the judge's parallelism set to match (one seed process per worker), the
in-process path on one core for the same work, and the batch four times as large.

Reports, in one run:
- speed-up: 1 worker's wall / 2 workers' (goal >= 1.7);
- overhead: 1 Celery worker's wall / the in-process path's on one core (goal <= 1.25);
- growth: the 4x batch's wall / the batch's, both with 2 workers (goal <= 4.4);
- the batch's own growth: the same two batches on the in-process path. They are not four times the same
  work: the larger batch asks each request for candidates 1 to 4, and the offline planner moves one of
  a candidate's nominals further for each (agent/offline/overrides.vary), so later candidates build and
  simulate more (measured: 30 % more of the sandbox's CPU a candidate at 40 than at 20). The Celery
  path's growth over this one is what the deployment adds as the batch grows (goal <= 1.1).

Needs PostgreSQL (127.0.0.1:5432, trust), RabbitMQ (127.0.0.1:5672, guest, and `rabbitmqctl` for a vhost
of its own) and Redis (127.0.0.1:6379), as `.ci/run` starts them; moto's S3 server is started here.
"""

import argparse
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import yaml

from bench.bench_pipeline import BATCH

REPO = Path(__file__).resolve().parent.parent
PG = "postgres@127.0.0.1:5432"


@contextmanager
def services() -> Iterator[dict[str, str]]:
    """A database, a RabbitMQ vhost and an S3 bucket of this run's own; the environment that names them."""
    import boto3
    import psycopg2
    from moto.server import ThreadedMotoServer

    name = f"benchgen_scale_{uuid.uuid4().hex[:8]}"
    admin = psycopg2.connect(host="127.0.0.1", port=5432, user="postgres", dbname="postgres")
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    subprocess.run(["rabbitmqctl", "-q", "add_vhost", name], check=True, capture_output=True)
    subprocess.run(["rabbitmqctl", "-q", "set_permissions", "-p", name, "guest", ".*", ".*", ".*"], check=True)
    # The bucket stands in for a remote service: its log of every request would only take this machine's cores.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    keys = {"aws_access_key_id": "test", "aws_secret_access_key": "test", "region_name": "us-east-1"}
    # A bucket of this run's own: moto keeps its buckets in the process, so a configuration that reused the
    # name would find the verdicts the one before it shared, and judge nothing anew.
    bucket = f"scale-{uuid.uuid4().hex[:8]}"
    boto3.client("s3", endpoint_url=endpoint, **keys).create_bucket(Bucket=bucket)
    try:
        yield {
            "BENCHGEN_DEPLOYMENT": "production",
            "DAGSTER_PG_HOST": "127.0.0.1",
            "DAGSTER_PG_PORT": "5432",
            "DAGSTER_PG_USER": "postgres",
            "DAGSTER_PG_PASSWORD": "",
            "DAGSTER_PG_DB": name,
            "BENCHGEN_REGISTRY_URL": f"postgresql+psycopg2://{PG}/{name}",
            "BENCHGEN_S3_BUCKET": bucket,
            "BENCHGEN_S3_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "BENCHGEN_CELERY_BROKER": f"pyamqp://guest:guest@127.0.0.1:5672/{name}",
            "BENCHGEN_CELERY_BACKEND": "redis://127.0.0.1:6379/0",
        }
    finally:
        server.stop()
        subprocess.run(["rabbitmqctl", "-q", "delete_vhost", name], capture_output=True, check=False)
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def _host(root: Path, name: str, env: dict[str, str], runs_at_once: int | None = None) -> dict[str, str]:
    """A host's environment, with production's instance config (deploy/dagster.yaml); `runs_at_once` sets
    its run queue's limit (the control host's is the one that counts)."""
    dagster_home = root / name / "dagster_home"
    dagster_home.mkdir(parents=True, exist_ok=True)
    config = yaml.safe_load((REPO / "deploy" / "dagster.yaml").read_text())
    if runs_at_once is not None:
        config["run_coordinator"]["config"]["max_concurrent_runs"] = runs_at_once
    (dagster_home / "dagster.yaml").write_text(yaml.safe_dump(config))
    return {**env, "BENCHGEN_HOME": str(root / name / "benchgen"), "DAGSTER_HOME": str(dagster_home)}


def _batch_file(root: Path, candidates: int) -> Path:
    requests = [{"prompt": p, "tier": t} for p, t in BATCH]
    per_request, extra = divmod(candidates, len(requests))
    batch = [{**r, "count": per_request + (n < extra)} for n, r in enumerate(requests) if per_request + (n < extra)]
    path = root / f"batch-{candidates}.yaml"
    path.write_text(yaml.safe_dump(batch))
    return path


def _generate(root: Path, env: dict[str, str], candidates: int, pin: list[str]) -> tuple[float, dict[str, int]]:
    started = time.perf_counter()
    ran = subprocess.run(
        [*pin, sys.executable, "-m", "benchgen_dagster.cli", "generate", "--batch", str(_batch_file(root, candidates))],
        env=env,
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - started
    listed = subprocess.run(
        [sys.executable, "-m", "benchgen_dagster.cli", "list", "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    statuses: dict[str, int] = {}
    for candidate in json.loads(listed.stdout or "[]"):
        statuses[candidate["status"]] = statuses.get(candidate["status"], 0) + 1
    if sum(statuses.values()) != candidates:
        raise SystemExit(f"the batch did not end as expected ({statuses}):\n{ran.stdout[-2000:]}{ran.stderr[-2000:]}")
    return wall, statuses


def celery(candidates: int, workers: int, base: dict[str, str]) -> tuple[float, dict[str, int]]:
    """The batch through `workers` Celery workers, worker i pinned to core i."""
    root = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    with services() as deployment:
        env = {**base, **deployment, "BENCHGEN_CANDIDATES_AT_ONCE": "1"}  # one seed process per worker's core
        started = []
        for core in range(workers):
            log = (root / f"worker-{core}.log").open("wb")
            command = [sys.executable, "-m", "benchgen_dagster.cli", "celery-worker", "--name", f"w{core}"]
            started.append(
                subprocess.Popen(
                    ["taskset", "-c", str(core), *command],
                    env=_host(root, f"w{core}", env),
                    cwd=root,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
        for core in range(workers):
            while b" ready." not in (root / f"worker-{core}.log").read_bytes():
                time.sleep(0.5)
        try:
            # Twice the workers' slots, as docs/deploy.md advises: a run's launch and the hand-over between
            # its steps then overlap another run's step, and no worker waits.
            return _generate(root, _host(root, "control", env, runs_at_once=2 * workers), candidates, [])
        finally:
            for worker in started:
                os.killpg(worker.pid, signal.SIGTERM)
                worker.wait(timeout=60)
            shutil.rmtree(root, ignore_errors=True)


def in_process(candidates: int, base: dict[str, str]) -> tuple[float, dict[str, int]]:
    """The same batch on the local deployment, the whole command pinned to one core."""
    root = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    env = {**base, "BENCHGEN_HOME": str(root / "home"), "BENCHGEN_CANDIDATES_AT_ONCE": "1"}
    for name in ("DAGSTER_HOME", "BENCHGEN_DEPLOYMENT", "BENCHGEN_REGISTRY_URL", "BENCHGEN_S3_BUCKET"):
        env.pop(name, None)
    try:
        return _generate(root, env, candidates, ["taskset", "-c", "0"])
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", type=int, default=10)
    parser.add_argument("--growth", type=int, default=4, help="the larger batch, in multiples of --candidates")
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument(
        "--skip-own-growth",
        action="store_true",
        help="leave out the in-process path's larger batch (about 17 minutes): no growth over the batch's own",
    )
    args = parser.parse_args()
    if len(os.sched_getaffinity(0)) < 2:
        raise SystemExit("bench-scale needs two cores (one per worker)")
    base = {**os.environ, "BENCHGEN_SEEDS": str(args.seeds), "BENCHGEN_LEARN_AFTER": "100000"}
    # Each host's cache under its own home, cold for every configuration: a run reuses only its own verdicts.
    base.pop("BENCHGEN_CACHE_DIR", None)
    n = args.candidates
    local, local_status = in_process(n, base)
    local_big, local_big_status = in_process(n * args.growth, base) if not args.skip_own_growth else (0.0, {})
    one, one_status = celery(n, 1, base)
    two, two_status = celery(n, 2, base)
    big, big_status = celery(n * args.growth, 2, base)
    print(f"candidates: {n} (and {n * args.growth}), seeds: {args.seeds}")
    print(f"in-process, 1 core:   {local:7.1f} s  {local_status}")
    if local_big:
        print(f"in-process, 1 core, {n * args.growth} candidates: {local_big:7.1f} s  {local_big_status}")
    print(f"celery, 1 worker:     {one:7.1f} s  {one_status}")
    print(f"celery, 2 workers:    {two:7.1f} s  {two_status}")
    print(f"celery, 2 workers, {n * args.growth} candidates: {big:7.1f} s  {big_status}")
    print(f"speed-up 1 -> 2 workers:        {one / two:.2f}  (goal >= 1.7)")
    print(f"Celery overhead vs in-process:  {one / local:.2f}  (goal <= 1.25)")
    print(f"growth {args.growth}x candidates:         {big / two:.2f}  (goal <= {1.1 * args.growth:.1f})")
    if local_big:
        print(f"the batch's own growth (in-process): {local_big / local:.2f}")
        print(f"growth over the batch's own:    {(big / two) / (local_big / local):.2f}  (goal <= 1.1)")


if __name__ == "__main__":
    main()
