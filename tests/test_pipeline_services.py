"""The pipeline against real services on loopback: the Dagster instance and the registry on
PostgreSQL, the artifact store on an S3 API server (moto), and the webserver's GraphQL API."""

import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import boto3
import psycopg2
import pytest

from tests.conftest import benchgen
from tests.services import PG_HOST, PG_PORT, PG_USER, free_port, graphql, postgres_database, s3_server

REPO = Path(__file__).resolve().parent.parent
BUCKET = "benchgen-artifacts"

pytestmark = [
    pytest.mark.services,
    pytest.mark.enable_socket,
    pytest.mark.allow_hosts(["127.0.0.1"]),
]


def _start_webserver(env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "dagster_webserver", "-w", str(REPO / "workspace.yaml")]
    with log.open("wb") as output:
        server = subprocess.Popen(
            [*command, "-h", "127.0.0.1", "-p", str(port)], cwd=REPO, env=env, stdout=output, stderr=subprocess.STDOUT
        )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=2):
                return server
        except OSError:
            assert server.poll() is None, log.read_text()[-2000:]
            time.sleep(1)
    server.kill()
    raise AssertionError("the webserver did not answer within 120 s: " + log.read_text()[-2000:])


@pytest.mark.sandbox
@pytest.mark.usefixtures("require_bubblewrap")
def test_postgres_s3_and_the_webserver(_benchgen_home: Path, tmp_path: Path) -> None:
    dagster_home = tmp_path / "dagster_home"
    dagster_home.mkdir()
    shutil.copyfile(REPO / "deploy" / "dagster.yaml", dagster_home / "dagster.yaml")
    with postgres_database() as database, s3_server(BUCKET) as endpoint:
        url = f"postgresql+psycopg2://{PG_USER}@{PG_HOST}:{PG_PORT}/{database}"
        env = {
            **os.environ,
            "DAGSTER_HOME": str(dagster_home),
            "DAGSTER_PG_HOST": PG_HOST,
            "DAGSTER_PG_PORT": str(PG_PORT),
            "DAGSTER_PG_USER": PG_USER,
            "DAGSTER_PG_PASSWORD": "",
            "DAGSTER_PG_DB": database,
            "BENCHGEN_REGISTRY_URL": url,
            "BENCHGEN_S3_BUCKET": BUCKET,
            "BENCHGEN_S3_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
        }
        generated = benchgen("generate", "a box must pass under a low bar", "--tier", "1", env=env)
        assert generated.returncode == 0, generated.stdout + generated.stderr
        assert "1 promoted" in generated.stdout

        with psycopg2.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname=database) as db, db.cursor() as cur:
            cur.execute("SELECT count(*) FROM runs")  # dagster-postgres run storage
            assert cur.fetchone()[0] >= 2  # type: ignore[index]
            cur.execute("SELECT benchmark_id, location, tier FROM benchgen_dataset")
            ((benchmark_id, location, tier),) = cur.fetchall()
            cur.execute("SELECT status FROM benchgen_candidates")
            assert cur.fetchall() == [("promoted",)]
        assert tier == 1 and location == f"s3://{BUCKET}/benchgen/dataset/{benchmark_id}/"
        assert not list((dagster_home).glob("**/*.db")), "the instance must not fall back to SQLite"

        s3 = boto3.client(
            "s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test"
        )
        keys = {o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="benchgen/")["Contents"]}
        prefix = f"benchgen/dataset/{benchmark_id}/"
        assert {prefix + "benchmark.yaml", prefix + "script.py", prefix + "seeds/0/scene.xml"} <= keys
        assert sum(k.startswith(prefix + "renders/view_") for k in keys) == 24
        assert sum(k.startswith(prefix + "renders/solution/view_") for k in keys) == 24
        assert "benchgen/gallery/index.html" in keys

        port = free_port()
        server = _start_webserver(env, port, tmp_path / "webserver.log")
        try:
            nodes = graphql(
                port,
                "{ assetNodes { assetKey { path } isPartitioned "
                "assetChecksOrError { ... on AssetChecks { checks { name blocking } } } } }",
            )["assetNodes"]
            assets = {"/".join(n["assetKey"]["path"]): n for n in nodes}
            assert len(assets) == 16 and assets["cad_script"]["isPartitioned"]
            assert assets["solver_evaluations"]["isPartitioned"] and not assets["solver_leaderboard"]["isPartitioned"]
            assert not assets["dataset_quality"]["isPartitioned"] and not assets["dataset_audit"]["isPartitioned"]
            assert not assets["agent_journals"]["isPartitioned"] and not assets["learned_skills"]["isPartitioned"]
            checks = {c["name"]: c["blocking"] for n in nodes for c in n["assetChecksOrError"].get("checks", [])}
            assert checks == {
                **dict.fromkeys(
                    ("geometry", "randomization_coverage", "stability", "non_triviality", "solvability"), True
                ),
                "review_approved": True,
                "audit_passed": False,
            }
            (repository,) = graphql(
                port,
                "{ repositoriesOrError { ... on RepositoryConnection { "
                "nodes { sensors { name } schedules { name } } } } }",
            )["repositoriesOrError"]["nodes"]
            assert {"request_files_sensor", "skill_learning_sensor"} <= {s["name"] for s in repository["sensors"]}
            schedules = sorted(s["name"] for s in repository["schedules"])
            assert schedules == ["daily_batch_schedule", "weekly_dataset_audit", "weekly_skill_learning"]
            asset = graphql(
                port,
                '{ assetOrError(assetKey: {path: ["promoted_benchmark"]}) { ... on Asset { assetMaterializations('
                "limit: 1) { partition metadataEntries { label ... on TextMetadataEntry { text } } } } } }",
            )["assetOrError"]
            (materialization,) = asset["assetMaterializations"]
            entries = {e["label"]: e.get("text") for e in materialization["metadataEntries"]}
            assert materialization["partition"].endswith("-v1")
            assert entries["benchmark_id"] == benchmark_id and entries["model"] == "offline"
            assert {"prompt", "plan_sha256", "skill_versions", "code_version", "manifest"} <= set(entries)
        finally:
            server.terminate()
            server.wait(timeout=30)


def test_an_unreachable_bucket_is_one_line_and_exit_1() -> None:
    env = {
        **os.environ,
        "BENCHGEN_S3_BUCKET": BUCKET,
        "BENCHGEN_S3_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}",
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_MAX_ATTEMPTS": "1",
    }
    result = benchgen("generate", "a ball into a bin", env=env)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "cannot be reached" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
