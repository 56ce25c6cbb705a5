"""What steps on different hosts hand each other through the artifact store: folders mirrored to and from
the bucket (moto's S3 server on loopback) or sent as one object each, and the skills, published by
learners on two hosts at once."""

import io
import json
import logging
import os
import subprocess
import sys
import tarfile
import threading
from pathlib import Path
from typing import Any

import boto3
import pytest

from benchgen_dagster.defs import bundles
from benchgen_dagster.defs.artifacts import SHARED_VERDICTS, ArtifactStoreResource, ArtifactStoreUnavailable
from benchgen_dagster.defs.bundles import BundleError
from benchgen_dagster.models.settings import CheckSettings
from benchgen_dagster.worker.check import Checker
from benchgen_dagster.worker.verdicts import VerdictCache
from tests.conftest import SCRIPTS
from tests.services import PG_HOST, PG_PORT, PG_USER, TcpProxy, postgres_database, s3_server

BUCKET = "benchgen-handoff"

pytestmark = [pytest.mark.services, pytest.mark.enable_socket, pytest.mark.allow_hosts(["127.0.0.1"])]


@pytest.fixture(scope="module")
def endpoint() -> object:
    with s3_server(BUCKET) as url:
        yield url


def _store(endpoint: str, prefix: str) -> ArtifactStoreResource:
    return ArtifactStoreResource(
        bucket=BUCKET, prefix=prefix, endpoint_url=endpoint, aws_access_key_id="test", aws_secret_access_key="test"
    )


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_a_pushed_folder_is_pulled_elsewhere_as_it_is_and_only_what_changed_travels(
    endpoint: str, tmp_path: Path
) -> None:
    store = _store(endpoint, "mirror")
    host_a, host_b = tmp_path / "a", tmp_path / "b"
    (host_a / "workspace" / "renders").mkdir(parents=True)
    (host_a / "workspace" / "plan.md").write_text("# Plan\n")
    (host_a / "workspace" / "renders" / "view_0.png").write_bytes(b"\x89PNG" + bytes(range(256)) * 40)
    (host_a / "compiled_report.json").write_text("{}")
    # A link an agent planted is not followed: its target never reaches the bucket.
    (tmp_path / "secret").write_text("host secret")
    (host_a / "workspace" / "leak.txt").symlink_to(tmp_path / "secret")
    assert store.push(host_a, "work/candidates/c-1") == 3
    (host_b / "stale.txt").parent.mkdir(parents=True)
    (host_b / "stale.txt").write_text("left by an earlier step on this host")
    assert store.pull("work/candidates/c-1", host_b) == 3
    expected = {k: v for k, v in _files(host_a).items() if k != "workspace/leak.txt"}
    assert _files(host_b) == expected

    (host_b / "workspace" / "plan.md").write_text("# Plan, revised\n")
    (host_b / "compiled_report.json").unlink()
    assert store.push(host_b, "work/candidates/c-1") == 1  # one file changed; the render stays as it was
    assert store.pull("work/candidates/c-1", host_a) == 1
    assert _files(host_a) | {"workspace/leak.txt": b"host secret"} == _files(host_b) | {
        "workspace/leak.txt": b"host secret"
    }
    assert not (host_a / "compiled_report.json").exists()


def test_a_pull_takes_keys_as_paths_inside_its_folder_and_bounds_every_file(
    endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = _store(endpoint, "hostile")
    client = boto3.client(
        "s3", endpoint_url=endpoint, aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1"
    )
    client.put_object(Bucket=BUCKET, Key="hostile/work/x/../../escaped.txt", Body=b"outside")
    with pytest.raises(BundleError, match="does not name a file inside"):
        store.pull("work/x", tmp_path / "x")
    assert not (tmp_path / "escaped.txt").exists()
    # A key PurePosixPath would collapse into another file's name is refused, not merged.
    client.put_object(Bucket=BUCKET, Key="hostile/work/y/a//b", Body=b"which b?")
    with pytest.raises(BundleError, match="does not name a file inside"):
        store.pull("work/y", tmp_path / "y")

    client.put_object(Bucket=BUCKET, Key="hostile/work/big/blob.bin", Body=b"0" * 2048)
    monkeypatch.setattr(bundles, "MAX_FILE_BYTES", 1024)
    with pytest.raises(BundleError, match="over 1024"):
        store.pull("work/big", tmp_path / "big")
    (tmp_path / "local").mkdir()
    (tmp_path / "local" / "blob.bin").write_bytes(b"1" * 2048)
    with pytest.raises(BundleError, match="over 1024"):
        store.push(tmp_path / "local", "work/local")


def test_without_a_bucket_nothing_moves(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("here")
    store = ArtifactStoreResource()
    assert store.push(tmp_path, "work/x") == 0 and store.pull("work/x", tmp_path / "elsewhere") == 0
    assert store.push_bundle(tmp_path, "work/x") == 0 and not store.pull_bundle("work/x", tmp_path / "elsewhere")
    assert not (tmp_path / "elsewhere").exists()


def _client(endpoint: str) -> Any:
    return boto3.client(
        "s3", endpoint_url=endpoint, aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1"
    )


def test_a_bundled_folder_is_one_object_pulled_elsewhere_as_it_is(endpoint: str, tmp_path: Path) -> None:
    store, client = _store(endpoint, "bundles"), _client(endpoint)
    host_a, host_b = tmp_path / "a", tmp_path / "b"
    (host_a / "workspace" / "renders").mkdir(parents=True)
    (host_a / "workspace" / "plan.md").write_text("# Plan\n")
    (host_a / "compiled" / "seed_0").mkdir(parents=True)
    (host_a / "compiled" / "seed_0" / "part.stl").write_bytes(b"solid part" * 500)
    (tmp_path / "secret").write_text("host secret")
    (host_a / "workspace" / "leak.txt").symlink_to(tmp_path / "secret")  # an agent's link: never followed
    assert not store.pull_bundle("work/candidates/c-1", host_b)  # nothing pushed yet
    assert store.push_bundle(host_a, "work/candidates/c-1") > 0
    keys = [o["Key"] for o in client.list_objects_v2(Bucket=BUCKET, Prefix="bundles/")["Contents"]]
    assert keys == ["bundles/work/candidates/c-1.tar.gz"]
    (host_b / "stale.txt").parent.mkdir(parents=True)
    (host_b / "stale.txt").write_text("left by an earlier step on this host")
    assert store.pull_bundle("work/candidates/c-1", host_b)
    assert _files(host_b) == {k: v for k, v in _files(host_a).items() if k != "workspace/leak.txt"}
    # The same files give the same object, byte for byte.
    first = client.head_object(Bucket=BUCKET, Key=keys[0])["ETag"]
    store.push_bundle(host_b, "work/candidates/c-1")
    assert client.head_object(Bucket=BUCKET, Key=keys[0])["ETag"] == first


def _bundle(*members: tuple[tarfile.TarInfo, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for info, data in members:
            info.size = len(data) if info.isfile() else 0
            tar.addfile(info, io.BytesIO(data) if info.isfile() else None)
    return buffer.getvalue()


def _member(name: str, kind: bytes = tarfile.REGTYPE, target: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info


@pytest.mark.parametrize(
    ("members", "refusal"),
    [
        ([(_member("../escaped.txt"), b"outside")], "does not name a file inside"),
        ([(_member("/etc/escaped.txt"), b"outside")], "does not name a file inside"),
        ([(_member("a//b"), b"which b?")], "does not name a file inside"),
        ([(_member("link", tarfile.SYMTYPE, "/etc/passwd"), b"")], "is not a regular file"),
        ([(_member("hard", tarfile.LNKTYPE, "ok.txt"), b"")], "is not a regular file"),
        ([(_member("ok.txt"), b"fine"), (_member("big.bin"), b"0" * 2048)], "over 1024"),
        ([(_member("a"), b"a file"), (_member("a/b"), b"and a folder")], "both a file and a folder"),
    ],
)
def test_a_bundle_from_the_bucket_is_taken_whole_within_its_folder_or_not_at_all(
    endpoint: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    members: list[tuple[tarfile.TarInfo, bytes]],
    refusal: str,
) -> None:
    store, client = _store(endpoint, "hostile-bundles"), _client(endpoint)
    monkeypatch.setattr(bundles, "MAX_FILE_BYTES", 1024)
    client.put_object(Bucket=BUCKET, Key="hostile-bundles/work/x.tar.gz", Body=_bundle(*members))
    folder = tmp_path / "deep" / "x"
    folder.mkdir(parents=True)
    (folder / "kept.txt").write_text("what the folder held")
    with pytest.raises(BundleError, match=refusal):
        store.pull_bundle("work/x", folder)
    assert _files(tmp_path) == {"deep/x/kept.txt": b"what the folder held"}  # nothing written, nothing removed
    # Cut short (an upload that stopped, a corrupted object): refused too.
    whole = _bundle((_member("ok.txt"), b"fine" * 100))
    client.put_object(Bucket=BUCKET, Key="hostile-bundles/work/x.tar.gz", Body=whole[: len(whole) // 2])
    with pytest.raises(BundleError, match="not a whole bundle"):
        store.pull_bundle("work/x", folder)
    assert _files(tmp_path) == {"deep/x/kept.txt": b"what the folder held"}


# One host's learner: its own BENCHGEN_HOME, the shared registry and bucket; it publishes `count` versions
# of one skill, each text its own, and prints the versions it was given.
_LEARNER = """
import json, os, sys
from benchgen_dagster.defs.artifacts import ArtifactStoreResource
from benchgen_dagster.defs.resources import RegistryResource
from benchgen_dagster.defs.skills import skill_store

host, count, url, endpoint, template = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
artifacts = ArtifactStoreResource(bucket=sys.argv[6], prefix="skills-test", endpoint_url=endpoint,
                                  aws_access_key_id="test", aws_secret_access_key="test")
store = skill_store(RegistryResource(url=url), artifacts)
given = []
for i in range(count):
    limit = f"{500 + (10 if host == 'b' else 0) + i / 100:.2f}"
    proposal = store.propose("ball-over-wall-limits", template.replace("562.5", limit), source=host)
    assert proposal.status in ("new", "updated"), proposal
    given.append(proposal.version)
print(json.dumps(given))
"""


def test_two_learners_on_two_hosts_publish_every_version_once(endpoint: str, tmp_path: Path) -> None:
    from benchgen_dagster.agent.skills import SkillStore
    from tests.test_skills import VALID

    count = 8
    with postgres_database() as database:
        url = f"postgresql+psycopg2://{PG_USER}@{PG_HOST}:{PG_PORT}/{database}"
        learners = []
        for host in ("a", "b"):
            env = {**os.environ, "BENCHGEN_HOME": str(tmp_path / host)}
            arguments = [host, str(count), url, endpoint, VALID, BUCKET]
            learners.append(
                subprocess.Popen(
                    [sys.executable, "-c", _LEARNER, *arguments], env=env, stdout=subprocess.PIPE, text=True
                )
            )
        given = []
        for learner in learners:
            out, _ = learner.communicate(timeout=300)
            assert learner.returncode == 0, out
            given += json.loads(out)
        # A curator's `benchgen skills list` on a third host, where no step has run: the bucket's skills.
        (tmp_path / "control").mkdir()
        listed = subprocess.run(
            [sys.executable, "-m", "benchgen_dagster.cli", "skills", "list", "--json"],
            env={
                **os.environ,
                "BENCHGEN_HOME": str(tmp_path / "control"),
                "BENCHGEN_DEPLOYMENT": "production",
                "BENCHGEN_REGISTRY_URL": url,
                "BENCHGEN_S3_BUCKET": BUCKET,
                "BENCHGEN_S3_ENDPOINT_URL": endpoint,
                "BENCHGEN_S3_PREFIX": "skills-test",
                "AWS_ACCESS_KEY_ID": "test",
                "AWS_SECRET_ACCESS_KEY": "test",
                "DAGSTER_HOME": str(tmp_path),
            },
            capture_output=True,
            text=True,
            check=False,
        )
        assert listed.returncode == 0, listed.stderr
        (skill,) = json.loads(listed.stdout)
        assert (skill["name"], skill["versions"]) == ("ball-over-wall-limits", 2 * count)
    # Every version number was given once, and the history a third host reads has all of them.
    assert sorted(given) == list(range(1, 2 * count + 1))
    reader = _store(endpoint, "skills-test")
    reader.pull("work/skill_history", tmp_path / "reader" / "skill_history")
    reader.pull("work/skills", tmp_path / "reader" / "skills")
    versions = SkillStore(tmp_path / "reader").versions("ball-over-wall-limits")
    assert [v.version for v in versions] == list(range(1, 2 * count + 1))
    assert len({v.sha256 for v in versions}) == 2 * count
    assert sorted({v.source for v in versions}) == ["a", "b"]
    assert (
        SkillStore(tmp_path / "reader").label("ball-over-wall-limits") == f"v{2 * count} ({versions[-1].sha256[:12]})"
    )


@pytest.mark.sandbox
@pytest.mark.usefixtures("require_bubblewrap")
def test_a_verdict_judged_on_one_host_is_reused_on_another(
    endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fast_settings: CheckSettings
) -> None:
    """Two hosts, each with its own home and cache, share the judge's verdicts through the bucket: a check
    one judged is the other's without building anything, and a seed one judged is the other's too."""
    shared = _store(endpoint, "verdicts").shared_entries()
    monkeypatch.delenv("BENCHGEN_CACHE_DIR")  # not the test session's: each host's under its own home
    hosts = {name: Checker(fast_settings, home=tmp_path / name, shared=shared) for name in ("a", "b")}
    source = (SCRIPTS / "good_box.py").read_text()
    script_a, script_b = tmp_path / "a.py", tmp_path / "b.py"
    script_a.write_text(source)
    script_b.write_text(source)
    first = hosts["a"].check(script_a, [0, 1], simulate=False, compiled_dest=tmp_path / "a" / "compiled")
    assert first.passed and not first.cached

    again = hosts["b"].check(script_b, [0, 1], simulate=False, compiled_dest=tmp_path / "b" / "compiled")
    assert again.cached and again.passed
    assert [r.model_dump() for r in again.results] == [r.model_dump() for r in first.results]
    assert _files(tmp_path / "b" / "compiled") == _files(tmp_path / "a" / "compiled") != {}
    assert not (tmp_path / "b" / "runs").exists()  # host b built nothing

    # Another script that builds the same bytes: built on host b, its seeds' verdicts come from host a's.
    other = tmp_path / "other.py"
    other.write_text(source + "\n# another script, the same scenes\n")
    seeds = hosts["b"].check(other, [0, 1], simulate=False)
    assert seeds.passed and not seeds.cached and seeds.sandbox["judge"] == "2 of 2 seeds reused"


class _Unreachable:
    def __init__(self) -> None:
        self.calls = 0

    def fetch_entry(self, name: str, folder: Path) -> bool:
        self.calls += 1
        raise ConnectionError("the bucket is down")

    def store_entry(self, name: str, folder: Path) -> None:
        self.calls += 1
        raise ConnectionError("the bucket is down")


def test_a_shared_store_that_cannot_be_reached_is_a_miss_and_the_verdict_is_kept_here(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    down = _Unreachable()
    cache = VerdictCache(tmp_path / "verdicts", shared=down)
    entry = cache.put("k1", {"report.json": b"{}"}, {})
    assert (entry / "report.json").read_bytes() == b"{}" and cache.get("k1") == entry
    assert "not shared (kept on this host)" in caplog.text
    # Another cache's miss: judged here; and the store is left alone for a while, not asked once a seed.
    other = VerdictCache(tmp_path / "other", shared=down)
    assert other.get("k2") is None and "not fetched (judged on this host instead)" in caplog.text
    calls = down.calls
    other.put("k2", {"report.json": b"{}"}, {})
    assert other.get("k3") is None and down.calls == calls
    assert not [p for p in (tmp_path / "verdicts").iterdir() if p.name.startswith(".")]  # nothing left half-made


def test_a_shared_entry_is_one_object_and_is_taken_only_when_whole(
    endpoint: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store, client = _store(endpoint, "partial"), _client(endpoint)
    seed = tmp_path / "seed"
    (seed / "meshes").mkdir(parents=True)
    (seed / "meshes" / "part.stl").write_bytes(b"solid part")
    VerdictCache(tmp_path / "host-a" / "verdicts", shared=store).put("k3", {"report.json": b'{"a": 1}'}, {"seed": seed})
    listed = client.list_objects_v2(Bucket=BUCKET, Prefix=f"partial/{SHARED_VERDICTS}/")
    keys = [o["Key"] for o in listed["Contents"]]
    assert keys == [f"partial/{SHARED_VERDICTS}/verdicts/k3.tar.gz"]
    # A cut-short entry, and one without the cache's marker: no host takes either.
    whole = client.get_object(Bucket=BUCKET, Key=keys[0])["Body"].read()
    client.put_object(Bucket=BUCKET, Key=f"partial/{SHARED_VERDICTS}/verdicts/k2.tar.gz", Body=whole[:-40])
    reader = VerdictCache(tmp_path / "verdicts", shared=store)
    assert reader.get("k2") is None
    assert "not taken (judged on this host instead)" in caplog.text
    # One bad entry is not an outage: the store is asked for the next one at once.
    assert reader.get("k3") is not None
    unmarked = _bundle((_member("report.json"), b"{}"))
    client.put_object(Bucket=BUCKET, Key=f"partial/{SHARED_VERDICTS}/verdicts/k4.tar.gz", Body=unmarked)
    assert VerdictCache(tmp_path / "verdicts-2", shared=store).get("k4") is None
    fetched = VerdictCache(tmp_path / "elsewhere" / "verdicts", shared=store).get("k3")
    assert fetched is not None and (fetched / "report.json").read_bytes() == b'{"a": 1}'
    assert (fetched / "seed" / "meshes" / "part.stl").read_bytes() == b"solid part"


def test_an_unreachable_bucket_is_waited_out_with_a_clear_retry_then_the_push_goes_through(
    endpoint: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    proxy = TcpProxy(_upstream(endpoint))
    try:
        store = _store(proxy.url, "outage")
        (tmp_path / "plan.md").write_text("# Plan\n")
        proxy.down()
        # Up again once the store has said it is waiting (a timer started first may fire before a loaded
        # machine gets to the push, which then never sees the outage).
        comes_back = _UpOnRetry(proxy)
        logging.getLogger("benchgen_dagster.defs.artifacts").addHandler(comes_back)
        try:
            assert store.push(tmp_path, "work/candidates/c-9") == 1
        finally:
            logging.getLogger("benchgen_dagster.defs.artifacts").removeHandler(comes_back)
        assert "could not be reached to push work/candidates/c-9 (try 1" in caplog.text and "retrying in" in caplog.text
        assert store.pull("work/candidates/c-9", tmp_path / "again") == 1
    finally:
        proxy.close()


def test_a_bucket_that_stays_unreachable_is_one_clear_failure(endpoint: str, tmp_path: Path) -> None:
    proxy = TcpProxy(_upstream(endpoint))
    proxy.down()
    store = _store(proxy.url, "outage").model_copy(update={"retry_window_s": 1.5})
    (tmp_path / "plan.md").write_text("# Plan\n")
    with pytest.raises(ArtifactStoreUnavailable) as raised:
        store.push(tmp_path, "work/candidates/c-10")
    message = str(raised.value)
    assert "\n" not in message and message.startswith(
        f"the artifact store s3://{BUCKET} could not be reached to push work/candidates/c-10 for 1.5 s: "
    ), message


class _UpOnRetry(logging.Handler):
    """Brings the proxy up a second after the first "retrying" the store logs."""

    def __init__(self, proxy: "TcpProxy") -> None:
        super().__init__()
        self.proxy = proxy

    def emit(self, record: logging.LogRecord) -> None:
        if "retrying in" in record.getMessage():
            threading.Timer(1.0, self.proxy.up).start()


def _upstream(endpoint: str) -> tuple[str, int]:
    host, port = endpoint.removeprefix("http://").split(":")
    return host, int(port)


def test_a_bundle_replaces_whatever_the_folder_held_in_its_way(tmp_path: Path) -> None:
    """A folder where the bundle has a file, and a file where it has a folder (an agent swapped them on
    another host): the folder ends as the bundle, whole, and nothing of the old one is left beside it."""
    source = tmp_path / "source"
    (source / "seeds").mkdir(parents=True)
    (source / "report.json").write_text("{}")
    (source / "seeds" / "part.stl").write_bytes(b"solid")
    bundle = bundles.pack(source, "c-1")
    folder = tmp_path / "candidates" / "c-1"
    (folder / "report.json").mkdir(parents=True)
    (folder / "report.json" / "inside.txt").write_text("a folder in the way")
    (folder / "seeds").write_text("a file in the way")
    assert bundles.unpack(bundle, folder, "c-1") == 2
    assert _files(folder) == {"report.json": b"{}", "seeds/part.stl": b"solid"}
    assert sorted(p.name for p in folder.parent.iterdir()) == ["c-1"]
