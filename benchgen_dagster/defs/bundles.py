"""A folder as one object of the artifact store: a gzipped tar made of what `safe_files` reads, unpacked
through `safe_files` only.

Why one object and not a mirror of the files: a candidate's folder holds about 150 files and a seed's
verdict about 40, and a request per file made the store most of a step's overhead (measured: 430
requests per candidate for the verdicts alone). One PUT is also atomic, so a reader sees the bundle
before or after a write, never a mix, and no marker is needed to tell a complete one.

What a bundle holds came from another host, so unpacking takes nothing on trust: only regular files and
folders, each name a canonical path inside the folder, every file, the count, the depth and the total
bounded, and every file written through `safe_files` (no link followed)."""

import gzip
import io
import os
import shutil
import tarfile
import uuid
from pathlib import Path

from benchgen_dagster.worker import safe_files

# The most one file may hold, either way (a workspace's files are bounded far below this).
MAX_FILE_BYTES = 256 * 1024 * 1024
MAX_FILES = 20_000
MAX_TOTAL_BYTES = 4 * 1024 * 1024 * 1024
MAX_DEPTH = 32
# Meshes shrink about 3.5 times at the fastest level, in 20 ms a megabyte; higher levels gain little.
_COMPRESSLEVEL = 1


class BundleError(ValueError):
    """A folder or a bundle that cannot be taken as it is (a name outside its folder, a file too large)."""


def check_path(relative: str, where: str) -> str:
    """`relative` if it is a canonical path inside a folder: no `..`, no empty or `.` part (`a//b`, `a/./b`,
    a trailing `/`, which PurePosixPath would quietly collapse into another file's name), no backslash, no
    leading `/`, and not too deep."""
    parts = relative.split("/")
    if not relative or any(p in ("..", ".", "") for p in parts) or "\\" in relative or "\0" in relative:
        raise BundleError(f"{where}: {relative!r} does not name a file inside the folder")
    if len(parts) > MAX_DEPTH:
        raise BundleError(f"{where}: {relative!r} is more than {MAX_DEPTH} folders deep")
    return relative


def files_of(folder: Path, where: str) -> list[tuple[str, bytes]]:
    """Every regular file under `folder` (links and other entries left out), read bounded."""
    files, total = [], 0
    for relative, found in safe_files.walk_files(folder, limit_files=MAX_FILES):
        if found.st_size > MAX_FILE_BYTES:
            raise BundleError(f"{where}/{relative} is {found.st_size} bytes, over {MAX_FILE_BYTES}")
        total += found.st_size
        if total > MAX_TOTAL_BYTES:
            raise BundleError(f"{where} holds over {MAX_TOTAL_BYTES} bytes")
        check_path(relative, where)
        files.append((relative, safe_files.read_bytes(folder, relative, MAX_FILE_BYTES)))
    return files


def pack(folder: Path, where: str) -> bytes:
    """The bundle of `folder`'s regular files (the same files give the same bytes)."""
    buffer = io.BytesIO()
    # mtime 0 and sorted names: a bundle's bytes, and so its ETag, depend on the content only.
    with (
        gzip.GzipFile(fileobj=buffer, mode="wb", compresslevel=_COMPRESSLEVEL, mtime=0) as zipped,
        tarfile.open(fileobj=zipped, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        for relative, data in files_of(folder, where):
            info = tarfile.TarInfo(relative)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def unpack(bundle: bytes, folder: Path, where: str) -> int:
    """Make `folder` (a host's own) hold exactly the bundle's files; returns their count. Raises
    BundleError, with `folder` as it was, for a bundle that is not whole or breaks a bound.

    The files are written into a new folder beside it, which then takes its place: a write that fails
    halfway (whatever the old folder held in the way) leaves the old one whole, never a mix."""
    files = _members(bundle, where)
    folder.parent.mkdir(parents=True, exist_ok=True)
    fresh = folder.parent / f".{folder.name}.{uuid.uuid4().hex[:8]}.unpacking"
    fresh.mkdir()
    try:
        for relative, data in files.items():
            # Not fsynced: a host that goes down mid-step loses the step, which then pulls the bundle again.
            safe_files.write_bytes(fresh, relative, data, durable=False)
        old = folder.parent / f".{folder.name}.{uuid.uuid4().hex[:8]}.replaced"
        if folder.exists():
            os.rename(folder, old)
        os.rename(fresh, folder)
    except BaseException:
        shutil.rmtree(fresh, ignore_errors=True)
        raise
    shutil.rmtree(old, ignore_errors=True)
    return len(files)


def _members(bundle: bytes, where: str) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    folders: set[str] = set()  # every folder the files so far lie in
    total = 0
    # Each member's header and padding: at most three blocks (a PAX header, its record, the member's).
    limit = MAX_TOTAL_BYTES + (MAX_FILES + 2) * 3 * tarfile.BLOCKSIZE
    try:
        # Read to the end first: gzip's trailer (the length and CRC of the whole) is then checked, so a
        # bundle cut short between two members is refused, not taken as the members before the cut.
        with gzip.GzipFile(fileobj=io.BytesIO(bundle), mode="rb") as zipped:
            archive = zipped.read(limit + 1)
        if len(archive) > limit:
            raise BundleError(f"{where} holds more than the bounds allow")
        with tarfile.open(fileobj=io.BytesIO(archive), mode="r:") as tar:
            for member in tar:
                if member.isdir():
                    continue
                if not member.isfile():  # a link, a device, a FIFO: never
                    raise BundleError(f"{where}: {member.name!r} is not a regular file")
                relative = check_path(member.name, where)
                parents = ["/".join(relative.split("/")[:depth]) for depth in range(1, relative.count("/") + 1)]
                if relative in folders or any(parent in files for parent in parents):
                    raise BundleError(f"{where}: {relative!r} is both a file and a folder in the bundle")
                folders.update(parents)
                if member.size > MAX_FILE_BYTES:
                    raise BundleError(f"{where}/{relative} is {member.size} bytes, over {MAX_FILE_BYTES}")
                total += member.size
                if total > MAX_TOTAL_BYTES or len(files) >= MAX_FILES:
                    raise BundleError(f"{where} holds more than the bounds allow")
                body = tar.extractfile(member)
                data = body.read(member.size) if body is not None else b""
                if len(data) != member.size:
                    raise BundleError(f"{where}/{relative} is cut short")
                files[relative] = data
    except (tarfile.TarError, OSError, EOFError, gzip.BadGzipFile) as error:
        raise BundleError(f"{where} is not a whole bundle: {error}") from None
    return files
