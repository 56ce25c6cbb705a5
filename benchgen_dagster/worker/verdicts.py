"""Verdicts kept by content, so every stage that needs one reuses it instead of judging again.

Two levels. A seed's verdict is keyed by what the builder made for it (the digest of its record and
meshes), what was asked of the judge, every setting and the judge's version (a hash of its code): a
seed is judged once, whichever script built those bytes. A check is keyed by the script's bytes, the
seeds, the scale, whether it simulated, the settings and the judge's version, so a stage that asks for
the same check again skips the build too. A check entry holds the report and the judge's compiled
seeds; a seed entry its verdict, compiled files and renders; a view entry one seed's renders and its
outcome (a check that is asked for views of its first seed leaves those too, so the renders a review
and a promotion need cost no further run). Everything in it is the trusted judge's output, written
by the host; an entry is built aside and renamed into place whole.

Where several hosts work on one batch (the production deployment), a `SharedEntries` store behind the
local cache (the artifact store's bucket) makes a verdict judged on one host reused on every other: a
local miss is looked up there and fetched whole, and every entry stored here is also stored there.
The shared store is an optimisation: when it cannot be reached the verdict is judged here, never lost.
"""

import hashlib
import json
import logging
import os
import shutil
import time
import uuid
from contextlib import suppress
from pathlib import Path
from typing import Protocol

from benchgen_dagster.models.settings import CheckSettings
from benchgen_dagster.worker.versions import judge_version

DONE = ".complete"
log = logging.getLogger(__name__)
# After the shared store failed, a cache leaves it alone for a while: an outage then costs one wait, not
# one per seed.
SHARED_COOLDOWN_S = 60.0
# The newest entries kept; older ones are pruned as new ones come.
MAX_ENTRIES = 500


def check_key(script: bytes, seeds: list[int], scale: float, simulate: bool, settings: CheckSettings) -> str:
    document = {
        "script": hashlib.sha256(script).hexdigest(),
        "seeds": seeds,
        "scale": scale,
        "simulate": simulate,
        "settings": _verdict_settings(settings),
        "judge": judge_version(),
    }
    return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()[:32]


def render_key(
    script: bytes, seed: int, scale: float, view: tuple[int, int, bool, bool], settings: CheckSettings
) -> str:
    """The key of one seed's views: (width, height, video, with the reference solution)."""
    document = {
        "script": hashlib.sha256(script).hexdigest(),
        "seed": seed,
        "scale": scale,
        "view": list(view),
        "settings": _verdict_settings(settings),
        "judge": judge_version(),
    }
    return "r" + hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()[:31]


def seed_key(
    build_digest: str, simulate: bool, views: list[tuple[int, int, bool, bool]], settings: CheckSettings
) -> str:
    """The key of one seed's verdict: the digest of what the builder made for it (its record and meshes,
    so any script that builds the same bytes gets the same verdict), what was asked of the judge, the
    settings and the judge's version."""
    document = {
        "build": build_digest,
        "simulate": simulate,
        "views": sorted(list(v) for v in views),
        "settings": _verdict_settings(settings),
        "judge": judge_version(),
    }
    return "s" + hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()[:31]


def _verdict_settings(settings: CheckSettings) -> dict[str, object]:
    # Retention decides what is kept on disk, and the warm processes and worker counts how fast the
    # judge gets there: never a verdict.
    speed = {"warm_builder", "warm_judge", "judge_workers"}
    return settings.model_dump(mode="json", exclude={"retention": True, "sandbox": speed})


class SharedEntries(Protocol):
    """Entries that several hosts share, by name (`<kind>/<key>`): each a folder of files, stored and fetched
    whole (a reader never sees part of an entry)."""

    def fetch_entry(self, name: str, folder: Path) -> bool:
        """Fill `folder` with the entry `name`; False when there is none."""
        ...

    def store_entry(self, name: str, folder: Path) -> None:
        """Store `folder` as the entry `name`."""
        ...


class VerdictCache:
    """Entries under `root/<key>/`: named files and folders, complete once the entry's name exists; with
    `shared`, also kept there under `<kind>/<key>`."""

    def __init__(
        self, root: Path, max_entries: int = MAX_ENTRIES, shared: SharedEntries | None = None, kind: str = ""
    ) -> None:
        self.root, self.max_entries = root, max_entries
        self.shared, self.kind = shared, kind or root.name
        self._shared_failed_at = -SHARED_COOLDOWN_S

    def get(self, key: str) -> Path | None:
        folder = self.root / key
        if (folder / DONE).is_file():
            return folder
        return self._fetch(key) if self._shared_usable() else None

    def put(self, key: str, files: dict[str, bytes], folders: dict[str, Path], share: bool = True) -> Path:
        """Store an entry (replacing an older one of the same key), built aside and renamed into place; also
        in the shared store unless not `share`d (an entry no one will look up again)."""
        building = self._building(key)
        for name, data in files.items():
            (building / name).write_bytes(data)
        for name, folder in folders.items():
            if folder.is_dir():
                shutil.copytree(folder, building / name)
        (building / DONE).write_text("")
        target = self._install(building, key)
        if self.shared is not None and share and self._shared_usable():
            try:
                self.shared.store_entry(f"{self.kind}/{key}", target)
            except ValueError as error:  # this entry only (a file replaced as it was read): the store is fine
                log.warning("verdict %s/%s not shared (kept on this host): %s", self.kind, key, error)
            except Exception as error:  # any failure of the store: kept here, judged again there
                self._shared_failed_at = time.monotonic()
                log.warning("verdict %s/%s not shared (kept on this host): %s", self.kind, key, error)
        return target

    def _shared_usable(self) -> bool:
        return self.shared is not None and time.monotonic() - self._shared_failed_at >= SHARED_COOLDOWN_S

    def _fetch(self, key: str) -> Path | None:
        assert self.shared is not None
        building = self._building(key)
        try:
            found = self.shared.fetch_entry(f"{self.kind}/{key}", building)
        except ValueError as error:  # one entry that cannot be taken (malformed): a miss, the store is fine
            log.warning("shared verdict %s/%s not taken (judged on this host instead): %s", self.kind, key, error)
            found = False
        except Exception as error:  # any failure of the store is a miss: the judge runs here
            self._shared_failed_at = time.monotonic()
            log.warning("shared verdict %s/%s not fetched (judged on this host instead): %s", self.kind, key, error)
            found = False
        if not found or not (building / DONE).is_file():
            shutil.rmtree(building, ignore_errors=True)
            return None
        return self._install(building, key)

    def _building(self, key: str) -> Path:
        self.root.mkdir(parents=True, exist_ok=True)
        building = self.root / f".building-{key}-{uuid.uuid4().hex[:8]}"
        building.mkdir()
        return building

    def _install(self, building: Path, key: str) -> Path:
        target = self.root / key
        if target.exists():
            old = self.root / f".old-{key}-{uuid.uuid4().hex[:8]}"
            with suppress(OSError):  # another process may be replacing it too
                os.replace(target, old)
            shutil.rmtree(old, ignore_errors=True)
        try:
            os.replace(building, target)
        except OSError:
            # Another process stored the same key first: the same content, so theirs stands.
            shutil.rmtree(building, ignore_errors=True)
        self._prune()
        return target

    def _prune(self) -> None:
        entries = []
        for entry in self.root.iterdir():
            with suppress(OSError):  # pruned by another process meanwhile
                if not entry.name.startswith("."):
                    entries.append((entry.stat().st_mtime, entry))
        entries.sort(reverse=True)
        for _, old in entries[self.max_entries :]:
            shutil.rmtree(old, ignore_errors=True)
