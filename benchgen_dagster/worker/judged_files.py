"""What the parent takes from a judge run: its new convex decompositions and its compiled seeds.

The judge is trusted code, but it parsed untrusted files, so what it leaves is still read through the
safe-file module (bounded, no links) and checked for what it must be.
"""

import io
import re
import shutil
import zipfile
from pathlib import Path

import numpy as np

from benchgen_dagster.models.reports import SeedOutcome
from benchgen_dagster.worker import safe_files

MAX_FILE_BYTES = 20 * 1024 * 1024
_CACHE_NAME_LENGTH = 64
_MESH_NAME = re.compile(r"[A-Za-z0-9_.-]{1,120}\.stl")


def adopt_cache(new: Path, cache_dir: Path) -> int:
    """Move the judge's new convex decompositions into the shared cache, checking they hold only arrays."""
    adopted = 0
    if not safe_files.is_dir(new.parent, new.name):
        return 0
    cache_dir.mkdir(parents=True, exist_ok=True)
    for name in safe_files.list_files(new.parent, new.name, suffix=".npz"):
        stem = name.removesuffix(".npz")
        if len(stem) != _CACHE_NAME_LENGTH or any(c not in "0123456789abcdef" for c in stem):
            continue
        if (cache_dir / name).exists():
            continue
        try:
            data = safe_files.read_bytes(new, name, MAX_FILE_BYTES)
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                # A small archive may inflate to gigabytes; judge it by what it declares first.
                if sum(info.file_size for info in archive.infolist()) > MAX_FILE_BYTES:
                    continue
            with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
                if not all(arrays[key].dtype.kind in "fiu" for key in arrays.files):
                    continue
        except (safe_files.UnsafeFileError, ValueError, OSError, zipfile.BadZipFile):
            continue
        safe_files.write_bytes(cache_dir, name, data)
        adopted += 1
    return adopted


def collect_compiled(judge: Path, outcomes: list[SeedOutcome], dest: Path) -> None:
    """Copy each judged seed's scene.xml and meshes from the judge's folder into `dest/<seed>/`."""
    shutil.rmtree(dest, ignore_errors=True)
    for outcome in outcomes:
        if outcome.mjcf_path is None:
            continue
        source = judge / "seeds" / str(outcome.seed)
        target = dest / str(outcome.seed)
        try:
            safe_files.copy_out(source, "scene.xml", target / "scene.xml", MAX_FILE_BYTES)
            for name in safe_files.list_files(source, "meshes", suffix=".stl"):
                if _MESH_NAME.fullmatch(name):
                    safe_files.copy_out(source / "meshes", name, target / "meshes" / name, MAX_FILE_BYTES)
        except safe_files.UnsafeFileError:
            shutil.rmtree(target, ignore_errors=True)
