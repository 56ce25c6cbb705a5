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
"""

import hashlib
import json
import os
import shutil
import uuid
from contextlib import suppress
from pathlib import Path

from benchgen_dagster.models.settings import CheckSettings
from benchgen_dagster.worker.versions import judge_version

DONE = ".complete"
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


class VerdictCache:
    """Entries under `root/<key>/`: named files and folders, complete once the entry's name exists."""

    def __init__(self, root: Path, max_entries: int = MAX_ENTRIES) -> None:
        self.root, self.max_entries = root, max_entries

    def get(self, key: str) -> Path | None:
        folder = self.root / key
        return folder if (folder / DONE).is_file() else None

    def put(self, key: str, files: dict[str, bytes], folders: dict[str, Path]) -> Path:
        """Store an entry (replacing an older one of the same key), built aside and renamed into place."""
        self.root.mkdir(parents=True, exist_ok=True)
        building = self.root / f".building-{key}-{uuid.uuid4().hex[:8]}"
        building.mkdir()
        for name, data in files.items():
            (building / name).write_bytes(data)
        for name, folder in folders.items():
            if folder.is_dir():
                shutil.copytree(folder, building / name)
        (building / DONE).write_text("")
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
