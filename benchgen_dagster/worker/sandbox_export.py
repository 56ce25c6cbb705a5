"""Bring a sandbox run's files back to the host: the tar its trusted entry streamed out, applied
through the safe-file module.

Only regular files and folders arrive (the entry never packs links, FIFOs or devices, and anything
else in the archive is refused here), every name is checked, sizes are bounded, and a protected
folder (an agent's skills/, utils/, reports/, renders/) is never written. For an agent workspace the
export is a sync: files the program changed are written back, files it removed are removed.
"""

import tarfile
from pathlib import Path, PurePosixPath

from benchgen_dagster.worker import safe_files

_MAX_DEPTH = 16
_MAX_FILES = 20_000


class ExportError(ValueError):
    """The archive a sandbox run sent back is unusable; the run's files are not taken."""


def _member_parts(name: str) -> tuple[str, ...]:
    parts = PurePosixPath(name).parts
    if not parts or PurePosixPath(name).is_absolute() or any(p in ("..", ".", "") for p in parts):
        raise ExportError(f"the run sent back a path outside its workspace: {name[:120]!r}")
    if len(parts) > _MAX_DEPTH:
        raise ExportError(f"the run sent back a path nested deeper than {_MAX_DEPTH} folders")
    return parts


def apply_export(archive: Path, dest: Path, protected: list[str], synced: bool) -> None:
    """Write the archive's files under `dest`; with `synced`, also remove what the run removed."""
    if not archive.is_file() or archive.stat().st_size == 0:
        raise ExportError("the run sent nothing back (its entry process was killed before the export)")
    sent: set[str] = set()
    try:
        with tarfile.open(archive, mode="r:") as tar:
            for count, member in enumerate(tar):
                if count > _MAX_FILES:
                    raise ExportError(f"the run sent back more than {_MAX_FILES} files")
                parts = _member_parts(member.name)
                if parts[0] in protected:
                    continue
                relative = "/".join(parts)
                if member.isdir():
                    safe_files.make_dirs(dest, relative)
                elif member.isreg():
                    handle = tar.extractfile(member)
                    assert handle is not None
                    data = handle.read()
                    if not (synced and safe_files.is_file(dest, relative) and _same(dest, relative, data)):
                        safe_files.write_bytes(dest, relative, data)
                    sent.add(relative)
                else:
                    raise ExportError(f"the run sent back something that is not a file: {member.name[:120]!r}")
    except (tarfile.TarError, OSError, safe_files.UnsafeFileError) as error:
        raise ExportError(f"the run's files could not be taken back: {error}") from None
    if synced:
        for relative, _ in list(safe_files.walk_files(dest)):
            if relative.split("/")[0] not in protected and relative not in sent:
                safe_files.remove(dest, relative)


def _same(dest: Path, relative: str, data: bytes) -> bool:
    try:
        return safe_files.read_bytes(dest, relative, len(data) + 1) == data
    except safe_files.UnsafeFileError:
        return False
