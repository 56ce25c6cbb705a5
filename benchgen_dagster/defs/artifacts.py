"""The artifact store: where renders and promoted benchmarks are published, local folders by default and
S3 when a bucket is set (a Dagster ConfigurableResource, picked by `definitions.py`).

With a bucket it is also how steps on different hosts hand each other folders: a candidate's workspace
and checked files, and the judge's verdicts, travel as one object each (`push_bundle`, `pull_bundle`,
defs/bundles.py); the skills and the journals, which readers take file by file, as mirrors (`push`,
`pull`: only what changed travels). Without one, every step runs on this host and all are no-ops."""

import functools
import hashlib
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import dagster as dg
import tenacity

from benchgen_dagster.defs import bundles
from benchgen_dagster.defs.bundles import BundleError
from benchgen_dagster.paths import MANIFEST
from benchgen_dagster.worker import safe_files

# Where the hosts share the judge's verdicts (worker/verdicts.SharedEntries): a bundle `<kind>/<key>.tar.gz`
# under it.
SHARED_VERDICTS = "work/verdicts"
BUNDLE_SUFFIX = ".tar.gz"
SHARED_RETRY_WINDOW_S = 15.0


log = logging.getLogger(__name__)
T = TypeVar("T")


@functools.lru_cache(maxsize=8)
def _s3_client(pid: int, endpoint_url: str, region_name: str, key_id: str, secret: str) -> Any:
    """One client per process and configuration: making one costs a few tenths of a second, and every step
    pulls and pushes several folders. boto3's clients are thread-safe, not fork-safe: hence the pid.

    botocore's own retries are off (one attempt per call): `ArtifactStoreResource._retrying` is the one
    retry policy, and it says in the log what it is waiting for."""
    import boto3
    from botocore.config import Config

    return boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint_url or None,
        region_name=region_name,
        aws_access_key_id=key_id or None,
        aws_secret_access_key=secret or None,
        config=Config(retries={"mode": "standard", "total_max_attempts": 1}, connect_timeout=10, read_timeout=120),
    )


# Error codes botocore's standard retry mode also takes for transient (throttling, timeouts).
_TRANSIENT_CODES = {
    "SlowDown",
    "Throttling",
    "ThrottlingException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "RequestTimeout",
    "RequestTimeoutException",
    "PriorRequestNotComplete",
}


class ArtifactStoreUnavailable(ConnectionError):
    """The bucket could not be reached for the whole of the store's retry window."""


def _transient(error: BaseException) -> bool:
    """What waiting may cure: the server unreachable, a dropped connection, throttling or a 5xx."""
    from botocore.exceptions import ClientError, HTTPClientError, IncompleteReadError
    from botocore.exceptions import ConnectionError as BotoConnectionError

    if isinstance(error, BotoConnectionError | HTTPClientError | IncompleteReadError):
        return True
    if isinstance(error, ClientError):
        status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        return status >= 500 or status == 429 or error.response.get("Error", {}).get("Code") in _TRANSIENT_CODES
    return False


def _missing(error: BaseException) -> bool:
    """The object is not there (S3 answers 404, NoSuchKey)."""
    from botocore.exceptions import ClientError

    if not isinstance(error, ClientError):
        return False
    status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    return status == 404 or error.response.get("Error", {}).get("Code") in {"NoSuchKey", "404"}


def _md5(data: bytes) -> str:
    # What S3 reports as the ETag of an object put in one part: a changed file is told by its content.
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


class ArtifactStoreResource(dg.ConfigurableResource):
    """Where renders and promoted benchmarks are published: local folders by default, S3 when a bucket is set.

    The dataset is always written under BENCHGEN_HOME first (atomically); with a bucket it is then uploaded,
    and the URLs in the manifest point there."""

    bucket: str = ""
    prefix: str = "benchgen"
    endpoint_url: str = ""
    region_name: str = "us-east-1"  # AWS_REGION / AWS_DEFAULT_REGION when set (definitions.py)
    aws_access_key_id: str = ""
    aws_secret_access_key: str = ""
    # How long a store operation waits out an unreachable bucket (retried with backoff, each try logged)
    # before it fails with one line.
    retry_window_s: float = 120.0

    @property
    def remote(self) -> bool:
        return bool(self.bucket)

    def _retrying(self, what: str, operation: Callable[[], T], window_s: float | None = None) -> T:
        """Run `operation` (idempotent: a mirror, a publish), again while the bucket is unreachable, for up
        to `window_s` (the store's `retry_window_s` unless given)."""
        window = self.retry_window_s if window_s is None else window_s

        def waiting(state: tenacity.RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome else None
            log.warning(
                "the artifact store s3://%s could not be reached to %s (try %d, %s); retrying in %.1f s",
                self.bucket,
                what,
                state.attempt_number,
                str(error).splitlines()[0] if error else "",
                state.upcoming_sleep,
            )

        try:
            return tenacity.Retrying(
                retry=tenacity.retry_if_exception(_transient),
                stop=tenacity.stop_after_delay(window),
                wait=tenacity.wait_exponential_jitter(initial=0.5, max=10.0),
                before_sleep=waiting,
                reraise=True,
            )(operation)
        except Exception as error:
            if not _transient(error):
                raise
            raise ArtifactStoreUnavailable(
                f"the artifact store s3://{self.bucket} could not be reached to {what} for {window:g} s: "
                f"{str(error).splitlines()[0]}"
            ) from None

    def _client(self) -> Any:
        return _s3_client(
            os.getpid(), self.endpoint_url, self.region_name, self.aws_access_key_id, self.aws_secret_access_key
        )

    def check_reachable(self) -> None:
        """Raise with one line when a configured bucket cannot be used."""
        if not self.remote:
            return
        try:
            self._client().head_bucket(Bucket=self.bucket)
        except Exception as error:
            raise ConnectionError(f"the artifact bucket s3://{self.bucket} cannot be reached: {error}") from None

    def _keys(self, client: Any, prefix: str) -> list[str]:
        return list(self._listing(client, prefix))

    def _listing(self, client: Any, prefix: str) -> dict[str, tuple[str, int]]:
        """Every key under `prefix` with its ETag and size."""
        found: dict[str, tuple[str, int]] = {}
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            found |= {item["Key"]: (item["ETag"].strip('"'), int(item["Size"])) for item in page.get("Contents", [])}
        return found

    def push(self, folder: Path, name: str) -> int:
        """Make `name` in the bucket a mirror of `folder`: upload the files whose content differs, remove
        the keys the folder no longer has. The folder may be an agent's workspace, so it is read through
        safe_files (no link followed, every file bounded). Returns how many files were uploaded."""
        if not self.remote or not folder.is_dir():
            return 0
        return self._retrying(f"push {name}", lambda: self._push(folder, name))

    def _push(self, folder: Path, name: str) -> int:
        client = self._client()
        prefix = f"{self.prefix}/{name}/"
        remote = self._listing(client, prefix)
        kept, uploaded = set(), 0
        for relative, data in bundles.files_of(folder, name):
            key = prefix + relative
            kept.add(key)
            if remote.get(key, ("", 0))[0] != _md5(data):
                client.put_object(Bucket=self.bucket, Key=key, Body=data)
                uploaded += 1
        self._delete(client, sorted(set(remote) - kept))
        return uploaded

    def pull(self, name: str, folder: Path) -> int:
        """Make `folder` a mirror of `name` in the bucket: download what differs, remove local files the
        bucket does not have. Keys are taken as paths inside `folder` only and every file is bounded,
        so whatever a bucket holds cannot write elsewhere. Returns how many files were downloaded."""
        if not self.remote:
            return 0
        return self._retrying(f"pull {name}", lambda: self._pull(name, folder))

    def _pull(self, name: str, folder: Path) -> int:
        client = self._client()
        prefix = f"{self.prefix}/{name}/"
        return self._mirror_into(client, name, prefix, self._listing(client, prefix), folder)

    def push_bundle(self, folder: Path, name: str) -> int:
        """Store `folder` as the one object `name` (defs/bundles.py), read through safe_files (it may be an
        agent's workspace); returns the bundle's size in bytes. A reader sees it whole or not at all."""
        if not self.remote or not folder.is_dir():
            return 0
        return self._put_bundle(folder, name, f"push {name}")

    def _put_bundle(self, folder: Path, name: str, what: str, window_s: float | None = None) -> int:
        bundle = bundles.pack(folder, name)
        key = f"{self.prefix}/{name}{BUNDLE_SUFFIX}"
        self._retrying(what, lambda: self._client().put_object(Bucket=self.bucket, Key=key, Body=bundle), window_s)
        return len(bundle)

    def pull_bundle(self, name: str, folder: Path) -> bool:
        """Make `folder` hold what the bundle `name` holds; False (the folder left as it is) when there is none."""
        if not self.remote:
            return False
        return self._retrying(f"pull {name}", lambda: self._pull_bundle(name, folder))

    def _pull_bundle(self, name: str, folder: Path) -> bool:
        key = f"{self.prefix}/{name}{BUNDLE_SUFFIX}"
        try:
            body = self._client().get_object(Bucket=self.bucket, Key=key)["Body"]
        except Exception as error:
            if _missing(error):
                return False
            raise
        data = body.read(bundles.MAX_TOTAL_BYTES + 1)
        if len(data) > bundles.MAX_TOTAL_BYTES:
            raise BundleError(f"{name} is over {bundles.MAX_TOTAL_BYTES} bytes")
        bundles.unpack(data, folder, name)
        return True

    def shared_entries(self) -> "ArtifactStoreResource | None":
        """The verdicts' store the hosts share (worker/verdicts.SharedEntries): the bucket, when there is one."""
        return self if self.remote else None

    # The shared verdicts wait out a short outage only: a miss costs a judge's run, and the verdict cache
    # leaves the store alone for a while after a failure (worker/verdicts.py).
    def fetch_entry(self, name: str, folder: Path) -> bool:
        """Fill `folder` with the shared entry `name`; False when there is none."""
        window = min(self.retry_window_s, SHARED_RETRY_WINDOW_S)
        return self._retrying(f"fetch {name}", lambda: self._pull_bundle(f"{SHARED_VERDICTS}/{name}", folder), window)

    def store_entry(self, name: str, folder: Path) -> None:
        """Store the entry `folder` as `name`, in one object: a reader never sees part of it."""
        window = min(self.retry_window_s, SHARED_RETRY_WINDOW_S)
        self._put_bundle(folder, f"{SHARED_VERDICTS}/{name}", f"store {name}", window)

    def _mirror_into(
        self, client: Any, name: str, prefix: str, listing: dict[str, tuple[str, int]], folder: Path
    ) -> int:
        remote = {bundles.check_path(key[len(prefix) :], prefix): stat for key, stat in listing.items()}
        if len(remote) > bundles.MAX_FILES or sum(size for _, size in remote.values()) > bundles.MAX_TOTAL_BYTES:
            raise BundleError(f"{name} holds {len(remote)} files, over the mirror's bounds")
        folder.mkdir(parents=True, exist_ok=True)
        local = {relative for relative, _ in safe_files.walk_files(folder, limit_files=bundles.MAX_FILES)}
        downloaded = 0
        limit = bundles.MAX_FILE_BYTES
        for relative, (etag, size) in sorted(remote.items()):
            if size > limit:
                raise BundleError(f"{name}/{relative} is {size} bytes, over {limit}")
            if relative in local and _md5(safe_files.read_bytes(folder, relative, limit)) == etag:
                continue
            body = client.get_object(Bucket=self.bucket, Key=prefix + relative)["Body"]
            data = body.read(limit + 1)
            if len(data) > limit:
                raise BundleError(f"{name}/{relative} is over {limit} bytes")
            safe_files.write_bytes(folder, relative, data)
            downloaded += 1
        for relative in sorted(local - set(remote)):
            safe_files.remove(folder, relative)
        return downloaded

    def _delete(self, client: Any, keys: list[str]) -> None:
        for start in range(0, len(keys), 1000):  # the S3 API's batch limit
            batch = [{"Key": k} for k in keys[start : start + 1000]]
            client.delete_objects(Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True})

    def publish(self, folder: Path, name: str, complete_marker: str = MANIFEST) -> str:
        """Publish `folder` as `name`; returns where it can be found (a local path or an s3:// URL).

        In the bucket, `complete_marker` (the manifest) is uploaded last, so a reader that sees it sees
        the whole benchmark; keys of an earlier version that this one no longer has are removed."""
        if not self.remote:
            return str(folder)
        return self._retrying(f"publish {name}", lambda: self._publish(folder, name, complete_marker))

    def _publish(self, folder: Path, name: str, complete_marker: str) -> str:
        client = self._client()
        prefix = f"{self.prefix}/{name}/"
        files = sorted((p for p in folder.rglob("*") if p.is_file()), key=lambda p: p.name == complete_marker)
        uploaded = set()
        for path in files:
            key = prefix + path.relative_to(folder).as_posix()
            # One part per object: its ETag is then its MD5, which `pull` compares against.
            with path.open("rb") as body:
                client.put_object(Bucket=self.bucket, Key=key, Body=body)
            uploaded.add(key)
        self._delete(client, [k for k in self._keys(client, prefix) if k not in uploaded])
        return f"s3://{self.bucket}/{prefix}"

    def withdraw(self, name: str) -> None:
        if not self.remote:
            return
        self._retrying(f"withdraw {name}", lambda: self._withdraw(name))

    def _withdraw(self, name: str) -> None:
        client = self._client()
        keys = self._keys(client, f"{self.prefix}/{name}/")
        # The manifest first: from then on no reader takes the rest for a benchmark.
        self._delete(client, sorted(keys, key=lambda k: not k.endswith(f"/{MANIFEST}")))
