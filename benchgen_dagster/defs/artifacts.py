"""The artifact store: where renders and promoted benchmarks are published, local folders by default and
S3 when a bucket is set (a Dagster ConfigurableResource, picked by `definitions.py`)."""

from pathlib import Path
from typing import Any

import dagster as dg

from benchgen_dagster.paths import MANIFEST


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

    @property
    def remote(self) -> bool:
        return bool(self.bucket)

    def _client(self) -> Any:
        from dagster_aws.s3 import S3Resource

        return S3Resource(
            endpoint_url=self.endpoint_url or None,
            region_name=self.region_name,
            aws_access_key_id=self.aws_access_key_id or None,
            aws_secret_access_key=self.aws_secret_access_key or None,
        ).get_client()

    def check_reachable(self) -> None:
        """Raise with one line when a configured bucket cannot be used."""
        if not self.remote:
            return
        try:
            self._client().head_bucket(Bucket=self.bucket)
        except Exception as error:
            raise ConnectionError(f"the artifact bucket s3://{self.bucket} cannot be reached: {error}") from None

    def _keys(self, client: Any, prefix: str) -> list[str]:
        keys: list[str] = []
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            keys += [item["Key"] for item in page.get("Contents", [])]
        return keys

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
        client = self._client()
        prefix = f"{self.prefix}/{name}/"
        files = sorted((p for p in folder.rglob("*") if p.is_file()), key=lambda p: p.name == complete_marker)
        uploaded = set()
        for path in files:
            key = prefix + path.relative_to(folder).as_posix()
            client.upload_file(str(path), self.bucket, key)
            uploaded.add(key)
        self._delete(client, [k for k in self._keys(client, prefix) if k not in uploaded])
        return f"s3://{self.bucket}/{prefix}"

    def withdraw(self, name: str) -> None:
        if not self.remote:
            return
        client = self._client()
        keys = self._keys(client, f"{self.prefix}/{name}/")
        # The manifest first: from then on no reader takes the rest for a benchmark.
        self._delete(client, sorted(keys, key=lambda k: not k.endswith(f"/{MANIFEST}")))
