"""The production deployment on this machine, as on several: `BENCHGEN_DEPLOYMENT=production` with
Dagster's storage and the registry on PostgreSQL (a private cluster on a port of its own, which the test
restarts), step outputs and artifacts on an S3 API server (moto, behind a proxy the test takes off the
network), and every step executed by one of two dagster-celery workers (RabbitMQ broker, Redis result
backend), each a process with a BENCHGEN_HOME and a DAGSTER_HOME of its own: two hosts that share only
the services. The batch's command runs from a third folder, the control host.

One deployment and one batch serve every assertion (a batch costs more than the checks): the steps on
both workers, and three faults in the middle of it, one after another: a worker killed in a step,
PostgreSQL restarted, and the S3 server unreachable for a while; then the dataset, index and gallery."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import psutil
import psycopg2
import pytest
import yaml
from dagster import EventLogEntry
from dagster._serdes import deserialize_value

from tests.conftest import benchgen
from tests.services import PG_HOST, PG_USER, PrivateCluster, TcpProxy, private_postgres, s3_server

REPO = Path(__file__).resolve().parent.parent
BUCKET = "benchgen-celery"
WORKERS = ("host-a", "host-b")

pytestmark = [
    pytest.mark.services,
    pytest.mark.sandbox,
    pytest.mark.usefixtures("require_bubblewrap"),
    pytest.mark.enable_socket,
    pytest.mark.allow_hosts(["127.0.0.1"]),
]


def _rabbitmq_vhost() -> Iterator[str]:
    """A virtual host of its own on the shared RabbitMQ, so no other worker takes this test's steps."""
    vhost = f"benchgen-test-{uuid.uuid4().hex[:8]}"
    subprocess.run(["rabbitmqctl", "-q", "add_vhost", vhost], check=True, capture_output=True, timeout=60)
    try:
        subprocess.run(
            ["rabbitmqctl", "-q", "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"],
            check=True,
            capture_output=True,
            timeout=60,
        )
        yield vhost
    finally:
        subprocess.run(["rabbitmqctl", "-q", "delete_vhost", vhost], capture_output=True, timeout=60, check=False)


@dataclass
class Deployment:
    root: Path
    env: dict[str, str]
    database: str
    endpoint: str
    postgres: PrivateCluster
    s3: TcpProxy
    workers: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def host_env(self, host: str) -> dict[str, str]:
        home = self.root / host
        dagster_home = home / "dagster_home"
        dagster_home.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(REPO / "deploy" / "dagster.yaml", dagster_home / "dagster.yaml")
        # A cache of its own too (not the test session's): verdicts reach another host through the bucket.
        return {
            **self.env,
            "BENCHGEN_HOME": str(home / "benchgen"),
            "DAGSTER_HOME": str(dagster_home),
            "BENCHGEN_CACHE_DIR": str(home / "cache"),
        }

    def log(self, host: str) -> Path:
        return self.root / f"{host}.log"

    def start_worker(self, *hosts: str) -> None:
        """Start the workers of `hosts` side by side, and wait until each is ready."""
        seen = {}
        for host in hosts:
            seen[host] = self.log(host).stat().st_size if self.log(host).exists() else 0
            with self.log(host).open("ab") as output:
                self.workers[host] = subprocess.Popen(
                    [
                        *(sys.executable, "-m", "benchgen_dagster.cli", "celery-worker"),
                        *("--name", host, "--concurrency", "1"),
                    ],
                    cwd=self.root,
                    env=self.host_env(host),
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # its own process group: kill -9 takes the worker and its pool
                )
        deadline = time.monotonic() + 120
        for host in hosts:
            while b" ready." not in self.log(host).read_bytes()[seen[host] :]:
                assert self.workers[host].poll() is None, self.log(host).read_text()[-3000:]
                assert time.monotonic() < deadline, "the worker was not ready in 120 s: " + self.log(host).read_text()
                time.sleep(0.5)

    def kill(self, host: str) -> None:
        os.killpg(self.workers[host].pid, signal.SIGKILL)
        self.workers[host].wait(timeout=30)

    def stop(self) -> None:
        for worker in self.workers.values():
            if worker.poll() is None:
                os.killpg(worker.pid, signal.SIGTERM)
        for worker in self.workers.values():
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)

    def generate(self, requests: list[dict[str, object]], name: str) -> subprocess.Popen[str]:
        batch = self.root / f"{name}.yaml"
        batch.write_text(yaml.safe_dump(requests))
        return subprocess.Popen(
            [sys.executable, "-m", "benchgen_dagster.cli", "generate", "--batch", str(batch)],
            cwd=self.root,
            env=self.host_env("control"),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def query(self, sql: str) -> list[tuple[object, ...]]:
        for attempt in range(60):  # the test's own reads wait out the restart too
            try:
                with (
                    psycopg2.connect(host=PG_HOST, port=self.postgres.port, user=PG_USER, dbname=self.database) as db,
                    db.cursor() as cursor,
                ):
                    cursor.execute(sql)
                    return cursor.fetchall()
            except psycopg2.OperationalError:
                if attempt == 59:
                    raise
                time.sleep(0.5)
        raise AssertionError("unreachable")

    def materializations(self, asset: str) -> list[dict[str, object]]:
        """The metadata of every materialization of `asset`, from Dagster's event log."""
        events = "SELECT event FROM event_logs WHERE dagster_event_type = 'ASSET_MATERIALIZATION' ORDER BY id"
        found = []
        for (event,) in self.query(events):
            materialization = deserialize_value(str(event), EventLogEntry).asset_materialization
            if materialization is not None and materialization.asset_key.path == [asset]:
                found.append({name: value.value for name, value in materialization.metadata.items()})
        return found

    def started_run_worker(self) -> tuple[str, int] | None:
        """(run id, pid) of the orchestrating process of a started run, on the control host."""
        started = {str(r) for (r,) in self.query("SELECT run_id FROM runs WHERE status = 'STARTED'")}
        events = "SELECT run_id, event FROM event_logs WHERE dagster_event_type = 'ENGINE_EVENT' ORDER BY id"
        for run_id, event in self.query(events):
            entry = deserialize_value(str(event), EventLogEntry)
            data = entry.dagster_event.event_specific_data if entry.dagster_event else None
            pid = getattr(data, "metadata", {}).get("pid")
            if run_id not in started or pid is None:
                continue
            with suppress(psutil.Error):  # a run that has just ended
                # The process that reported itself, not one that has its pid since.
                if psutil.Process(int(pid.value)).create_time() <= entry.timestamp + 1.0:
                    return str(run_id), int(pid.value)
        return None

    def retries_of(self, run_id: str) -> list[tuple[str, str]]:
        """(run id, status) of the runs that re-executed `run_id`, and their own retries (Dagster's run
        retries), oldest first."""
        sql = (
            "SELECT runs.run_id, runs.status FROM runs JOIN run_tags ON run_tags.run_id = runs.run_id "
            f"WHERE run_tags.key = 'dagster/root_run_id' AND run_tags.value = '{run_id}' ORDER BY runs.id"
        )
        return [(str(r), str(s)) for r, s in self.query(sql)]

    def step_hosts(self) -> list[tuple[str, str, str]]:
        """(run, step key, Celery worker) for every step a worker took, in order, from Dagster's event log."""
        taken = []
        events = "SELECT event FROM event_logs WHERE dagster_event_type = 'ENGINE_EVENT' ORDER BY id"
        try:
            found = self.query(events)
        except psycopg2.errors.UndefinedTable:  # the batch has not made Dagster's tables yet
            return []
        for (event,) in found:
            entry = deserialize_value(str(event), EventLogEntry)
            data = entry.dagster_event.event_specific_data if entry.dagster_event else None
            worker = getattr(data, "metadata", {}).get("Celery worker")
            if worker is not None:
                taken.append((entry.run_id, str(entry.step_key), str(worker.value)))
        return taken


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    root = tmp_path_factory.mktemp("celery")
    vhosts = _rabbitmq_vhost()
    vhost = next(vhosts)
    try:
        with private_postgres() as postgres, s3_server(BUCKET) as endpoint:
            s3 = TcpProxy(("127.0.0.1", int(endpoint.rsplit(":", 1)[1])))
            database = "postgres"
            env = {
                **os.environ,
                "BENCHGEN_DEPLOYMENT": "production",
                "DAGSTER_PG_HOST": PG_HOST,
                "DAGSTER_PG_PORT": str(postgres.port),
                "DAGSTER_PG_USER": PG_USER,
                "DAGSTER_PG_PASSWORD": "",
                "DAGSTER_PG_DB": database,
                "BENCHGEN_REGISTRY_URL": f"postgresql+psycopg2://{PG_USER}@{PG_HOST}:{postgres.port}/{database}",
                "BENCHGEN_S3_BUCKET": BUCKET,
                "BENCHGEN_S3_ENDPOINT_URL": s3.url,
                "AWS_ACCESS_KEY_ID": "test",
                "AWS_SECRET_ACCESS_KEY": "test",
                "BENCHGEN_CELERY_BROKER": f"pyamqp://guest:guest@127.0.0.1:5672/{vhost}",
                "BENCHGEN_CELERY_BACKEND": "redis://127.0.0.1:6379/0",
                # Each worker one step at a time on one core's share of the judge.
                "BENCHGEN_CANDIDATES_AT_ONCE": "2",
                "BENCHGEN_LEARN_AFTER": "100",
                # Five seeds, not eight: the fewest the randomization gate passes on (five distinct mesh sets).
                "BENCHGEN_SEEDS": "5",
            }
            env.pop("BENCHGEN_HOME", None)
            built = Deployment(root=root, env=env, database=database, endpoint=s3.url, postgres=postgres, s3=s3)
            try:
                built.start_worker(*WORKERS)
                yield built
            finally:
                built.stop()
                s3.close()
    finally:
        next(vhosts, None)


BATCH = [
    {"prompt": "a box must pass under a low bar", "tier": 1},
    {"prompt": "a block must go through a window in a wall", "tier": 1},
    {"prompt": "a ball must get over a wall into a bin", "tier": 1},
    {"prompt": "a drawer that must be pulled open", "tier": 2},
]


def _statuses(deployment: Deployment) -> dict[str, tuple[str, str]]:
    rows = deployment.query("SELECT key, status, reason FROM benchgen_candidates")
    return {str(key): (str(status), str(reason or "")) for key, status, reason in rows}


def _partition(deployment: Deployment, run_id: str) -> str:
    sql = f"SELECT value FROM run_tags WHERE run_id = '{run_id}' AND key = 'dagster/partition'"
    ((key,),) = deployment.query(sql)
    return str(key)


def _wait_for(what: str, found: Callable[[], object], batch: subprocess.Popen[str], timeout_s: float = 300) -> object:
    deadline = time.monotonic() + timeout_s
    while not (value := found()):
        assert batch.poll() is None, f"the batch ended before {what}: " + (batch.communicate()[0] or "")
        assert time.monotonic() < deadline, f"no {what} in {timeout_s:g} s"
        time.sleep(0.2)
    return value


def test_a_batch_on_two_workers_survives_a_killed_worker_a_killed_run_a_database_restart_and_an_s3_outage(
    deployment: Deployment,
) -> None:
    batch = deployment.generate(BATCH, "batch")

    # host-a is killed (with its pool: kill -9 of its process group) in the middle of the first step it takes.
    def taken_by_a() -> tuple[str, str] | None:
        return next(((r, s) for r, s, w in deployment.step_hosts() if w.startswith("host-a@")), None)

    killed = _wait_for("step on host-a", taken_by_a, batch)
    deployment.kill("host-a")

    # Its task was never acknowledged: the broker delivers it again, to host-b. Then host-a comes back.
    def redelivered() -> bool:
        return any((r, s) == killed and w.startswith("host-b@") for r, s, w in deployment.step_hosts())

    _wait_for(f"redelivery of {killed} to host-b", redelivered, batch)
    deployment.start_worker("host-a")

    # A run's orchestrating process killed on the control host: run monitoring fails the run, and run
    # retries (deploy/dagster.yaml) re-execute it from its failure; the batch follows the retry.
    orphaned, pid = _wait_for("a started run's process", deployment.started_run_worker, batch)  # type: ignore[misc]
    os.kill(pid, signal.SIGKILL)

    # PostgreSQL restarted, with 2 s of no server, while a step runs: Dagster's runs and events, the
    # registry and its locks are all there.
    taken = len(deployment.step_hosts())
    _wait_for("a step after host-a's return", lambda: len(deployment.step_hosts()) > taken, batch)
    restarted_at = time.time()
    deployment.postgres.restart(down_s=2.0)
    # The S3 server off the network for 5 s, a little later: every step pulls and pushes through it, and
    # the step outputs go there.
    taken = len(deployment.step_hosts())
    _wait_for("a step after the restart", lambda: len(deployment.step_hosts()) > taken, batch)
    deployment.s3.outage(5.0)

    out, _ = batch.communicate(timeout=900)
    assert batch.returncode == 0, out + "\n".join(deployment.log(h).read_text()[-3000:] for h in WORKERS)
    statuses = _statuses(deployment)
    assert len(statuses) == 4, statuses
    # Every candidate ended: promoted, or rejected with a stated reason; none is left running.
    assert all(s == "promoted" or (s in ("rejected", "failed") and why) for s, why in statuses.values()), statuses
    promoted = [k for k, (s, _) in statuses.items() if s == "promoted"]
    assert len(promoted) >= 2, statuses

    hosts = deployment.step_hosts()
    assert [w.split("@")[0] for r, s, w in hosts if (r, s) == killed] == ["host-a", "host-b"], hosts
    # host-a, back, took steps again.
    again = next(i for i, (r, s, w) in enumerate(hosts) if (r, s) == killed and w.startswith("host-b@"))
    assert any(w.startswith("host-a@") for _, _, w in hosts[again + 1 :]), hosts
    assert {step for _, step, _ in hosts} >= {"benchmark_plan", "cad_script", "compiled_scenes", "promoted_benchmark"}

    # The restart happened in the middle of the batch, and nothing was lost or promoted twice.
    assert deployment.postgres.started_at() >= restarted_at - 1
    rows = deployment.query("SELECT benchmark_id, candidate, location FROM benchgen_dataset")
    assert sorted(str(c) for _, c, _ in rows) == sorted(promoted)
    assert len({b for b, _, _ in rows}) == len(rows)
    assert deployment.s3.outages == 1
    (status,) = deployment.query(f"SELECT status FROM runs WHERE run_id = '{orphaned}'")
    assert status == ("FAILURE",)
    # Re-executed (again, if the retry itself met the restart), to an end: the candidate's, checked above.
    retries = deployment.retries_of(orphaned)
    assert retries and all(s in ("SUCCESS", "FAILURE") for _, s in retries), retries
    assert retries[-1][1] == "SUCCESS" or statuses[_partition(deployment, orphaned)][0] != "running", retries
    s3 = boto3.client(
        "s3",
        endpoint_url=deployment.endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    keys = {o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET) for o in page["Contents"]}
    gallery = s3.get_object(Bucket=BUCKET, Key="benchgen/gallery/index.html")["Body"].read().decode()
    for benchmark_id, _, location in rows:
        assert location == f"s3://{BUCKET}/benchgen/dataset/{benchmark_id}/"
        assert f"benchgen/dataset/{benchmark_id}/benchmark.yaml" in keys
        assert str(benchmark_id) in gallery
    # Step outputs went through the S3 IO manager, and no host kept Dagster storage of its own.
    assert any(k.startswith("benchgen/io/") for k in keys)
    assert not list(deployment.root.glob("*/dagster_home/storage/**/promoted_benchmark*"))
    # The coder's gate judged each script, on whichever host: compiled_scenes, on either, reused the verdict
    # (the hosts share the judge's verdicts through the bucket).
    compiled = deployment.materializations("compiled_scenes")
    assert compiled and all(m["verdict_reused"] for m in compiled), compiled
    assert any(k.startswith("benchgen/work/verdicts/") for k in keys)
    # The control host lists them all: the registry's table, whichever host promoted.
    listed = benchgen("list", "--json", env=deployment.host_env("control"))
    assert sorted(c["key"] for c in json.loads(listed.stdout) if c["status"] == "promoted") == sorted(promoted)
