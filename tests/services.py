"""The real services the integration tests use, on loopback: PostgreSQL (the machine's, started if it
is installed but not running, or a private cluster on a port of its own for a test that restarts it), an
S3 API server (moto's server mode, started by the test), and a TCP proxy that takes a server off the
network for a while."""

import glob
import logging
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
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
    bin_dir, as_postgres = _postgres_bin()
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


def _postgres_bin() -> tuple[Path, list[str]]:
    pg_ctl = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if not pg_ctl:
        raise RuntimeError("PostgreSQL is not installed (apt-get install postgresql)")
    return Path(pg_ctl[-1]).parent, (["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else [])


@dataclass
class PrivateCluster:
    """A PostgreSQL cluster of the test's own, on its own port: one a test may restart (never 5432)."""

    data: Path
    port: int
    bin_dir: Path
    as_postgres: list[str] = field(default_factory=list)

    def pg_ctl(self, *args: str) -> None:
        subprocess.run(
            [*self.as_postgres, str(self.bin_dir / "pg_ctl"), "-D", str(self.data), *args],
            check=True,
            capture_output=True,
            timeout=120,
        )

    def stop(self) -> None:
        """A fast shutdown: every connection is dropped and new ones are refused."""
        self.pg_ctl("-m", "fast", "-w", "stop")

    def start(self) -> None:
        """Started, and ready; a start that fails (once seen under load, its log gone with the cluster) is tried
        again, and a second failure says what the server logged."""
        log = self.data.parent / "server.log"
        for attempt in range(3):
            try:
                self.pg_ctl("-l", str(log), "-w", "start")
                return
            except subprocess.CalledProcessError as error:
                if attempt == 2:
                    said = log.read_text(errors="replace")[-2000:] if log.is_file() else "(no server log)"
                    raise RuntimeError(f"the private cluster did not start: {error.stderr!r}\n{said}") from error
                time.sleep(1.0)

    def restart(self, down_s: float = 0.0) -> None:
        """Stopped (every connection dropped), `down_s` seconds of no server, and started again."""
        self.stop()
        time.sleep(down_s)
        self.start()

    def started_at(self) -> float:
        with psycopg2.connect(host=PG_HOST, port=self.port, user=PG_USER, dbname="postgres") as db, db.cursor() as c:
            c.execute("SELECT extract(epoch FROM pg_postmaster_start_time())")
            return float(c.fetchone()[0])  # type: ignore[index]


@contextmanager
def private_postgres() -> Iterator[PrivateCluster]:
    """A fresh cluster (trust auth, user postgres, no fsync) on a free loopback port; removed afterwards."""
    bin_dir, as_postgres = _postgres_bin()
    root = Path(tempfile.mkdtemp(prefix="benchgen-pg-"))
    if as_postgres:
        shutil.chown(root, "postgres", "postgres")
    cluster = PrivateCluster(data=root / "data", port=free_port(), bin_dir=bin_dir, as_postgres=as_postgres)
    subprocess.run(
        [*as_postgres, str(bin_dir / "initdb"), "-D", str(cluster.data), "-U", PG_USER, "--auth=trust", "--no-sync"],
        check=True,
        capture_output=True,
        timeout=120,
    )
    settings = {"listen_addresses": f"'{PG_HOST}'", "port": str(cluster.port), "unix_socket_directories": f"'{root}'"}
    with (cluster.data / "postgresql.conf").open("a") as conf:  # kept across a stop and a start
        conf.writelines(f"{name} = {value}\n" for name, value in {**settings, "fsync": "off"}.items())
    cluster.start()
    try:
        yield cluster
    finally:
        with suppress(subprocess.SubprocessError):
            cluster.pg_ctl("-m", "immediate", "stop")
        shutil.rmtree(root, ignore_errors=True)


class TcpProxy:
    """Forwards a loopback port to `upstream`; `outage(seconds)` takes it off the network meanwhile: open
    connections are cut and new ones refused, as when a server's host goes away and comes back."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.port = free_port()
        self._connections: list[socket.socket] = []
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._down = False
        self.outages = 0
        self._listen()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _listen(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # closed: the outage began
            try:
                server = socket.create_connection(self.upstream, timeout=10)
            except OSError:
                client.close()
                continue
            with self._lock:
                if self._down:  # accepted just as the outage began
                    client.close()
                    server.close()
                    return
                self._connections += [client, server]
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        with suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        for end in (source, sink):
            with suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)

    def outage(self, seconds: float) -> None:
        self.down()
        time.sleep(seconds)
        self.up()

    def down(self) -> None:
        self.outages += 1
        with self._lock:
            self._down = True
            if self._listener is not None:
                with suppress(OSError):  # wakes the accept() blocked in the other thread
                    self._listener.shutdown(socket.SHUT_RDWR)
                self._listener.close()
                self._listener = None
            cut, self._connections = self._connections, []
        for connection in cut:
            with suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
            connection.close()

    def up(self) -> None:
        with self._lock:
            self._down = False
        if self._listener is None:
            self._listen()

    def close(self) -> None:
        self.down()


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
