"""The real services the integration tests use, on loopback: PostgreSQL (started if it is installed
but not running) and an S3 API server (moto's server mode, started by the test)."""

import glob
import logging
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg2

PG_HOST, PG_PORT, PG_USER = "127.0.0.1", 5432, "postgres"
LOCAL_CLUSTER = Path("/tmp/benchgen-test-postgres")


def _reachable() -> bool:
    try:
        psycopg2.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres", connect_timeout=3).close()
    except psycopg2.OperationalError:
        return False
    return True


def ensure_postgres() -> None:
    """PostgreSQL on 127.0.0.1:5432 with trust auth: the machine's, or a cluster started here."""
    if _reachable():
        return
    pg_ctl = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if not pg_ctl:
        raise RuntimeError("PostgreSQL is not running on 127.0.0.1:5432 and not installed (apt-get install postgresql)")
    bin_dir = Path(pg_ctl[-1]).parent
    as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if not (LOCAL_CLUSTER / "PG_VERSION").exists():
        LOCAL_CLUSTER.mkdir(parents=True, exist_ok=True)
        if as_postgres:
            shutil.chown(LOCAL_CLUSTER, "postgres", "postgres")
        subprocess.run(
            [*as_postgres, str(bin_dir / "initdb"), "-D", str(LOCAL_CLUSTER), "-U", PG_USER, "--auth=trust"],
            check=True,
            capture_output=True,
        )
    subprocess.run(
        [
            *as_postgres,
            str(bin_dir / "pg_ctl"),
            "-D",
            str(LOCAL_CLUSTER),
            "-o",
            f"-h {PG_HOST} -p {PG_PORT}",
            "-l",
            str(LOCAL_CLUSTER / "server.log"),
            "-w",
            "start",
        ],
        check=True,
        capture_output=True,
    )
    if not _reachable():
        raise RuntimeError(f"started PostgreSQL in {LOCAL_CLUSTER} but cannot connect; see its server.log")


@contextmanager
def postgres_database() -> Iterator[str]:
    """A fresh database for one test; dropped afterwards. Yields its name."""
    ensure_postgres()
    name = f"benchgen_test_{uuid.uuid4().hex[:10]}"
    admin = psycopg2.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres")
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@contextmanager
def s3_server(bucket: str) -> Iterator[str]:
    """moto's S3 API server on a free loopback port, with `bucket` created. Yields the endpoint URL."""
    import boto3
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    try:
        client = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )
        client.create_bucket(Bucket=bucket)
        yield endpoint
    finally:
        server.stop()


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def graphql(port: int, query: str) -> dict[str, Any]:
    """One query to a Dagster webserver on loopback; its data (errors fail the test)."""
    import json
    import urllib.request

    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        answer = json.loads(response.read())
    assert "errors" not in answer, answer
    return answer["data"]  # type: ignore[no-any-return]
