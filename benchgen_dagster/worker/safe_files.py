"""The one way host code touches a folder that untrusted code can write: an agent workspace, or what a
sandbox run left behind.

Every path is relative to a root folder the host chose and is opened one component at a time with
`O_NOFOLLOW`, so no symlink is followed anywhere on the way (a planted `renders -> /etc` fails as
surely as a planted `journal.md -> /etc/passwd`). Only regular files are read, every read is
bounded, and every write is atomic: a new file beside the target, fsync, one rename over it (which
replaces a planted link instead of writing through it), fsync of the folder.
"""

import os
import re
import stat
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path, PurePosixPath

DEFAULT_LIMIT = 2 * 1024 * 1024
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# O_NONBLOCK: opening a planted FIFO must not hang the host; the fstat check then refuses it.
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_LINK_ERRORS = {getattr(os, "ELOOP", 40), getattr(os, "ENOTDIR", 20)}
_PARTIAL = re.compile(r"\..+\.[0-9a-f]{8}\.partial")


class UnsafeFileError(ValueError):
    """The path is a link (anywhere on the way), not a regular file, too big, or not there."""


def _parts(relative: str | PurePosixPath) -> list[str]:
    """The components of a workspace-relative path ("/plan.md" and "plan.md" are the same file)."""
    parts = [p for p in PurePosixPath(str(relative)).parts if p not in ("/", ".")]
    if not parts or any(p == ".." or "\0" in p for p in parts):
        raise UnsafeFileError(f"{relative!r} is not a path inside the folder")
    return parts


def _refusal(relative: str | PurePosixPath, error: OSError) -> UnsafeFileError:
    if error.errno in _LINK_ERRORS:
        return UnsafeFileError(f"{relative}: a link or a non-folder is in the way (links are never followed)")
    return UnsafeFileError(f"{relative}: {error.strerror or error}")


@contextmanager
def _folder(root: Path, parts: list[str], relative: str | PurePosixPath, create: bool) -> Iterator[int]:
    """An fd of the folder `root/parts...`, opened component by component without following links."""
    try:
        fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as error:
        raise UnsafeFileError(f"{relative}: its folder {root} is not there ({error.strerror})") from None
    try:
        for name in parts:
            try:
                child = os.open(name, _DIR_FLAGS, dir_fd=fd)
            except FileNotFoundError:
                if not create:
                    raise UnsafeFileError(f"{relative}: {name} does not exist") from None
                with suppress(FileExistsError):
                    os.mkdir(name, 0o755, dir_fd=fd)
                child = os.open(name, _DIR_FLAGS, dir_fd=fd)
            except OSError as error:
                raise _refusal(relative, error) from None
            os.close(fd)
            fd = child
        yield fd
    finally:
        os.close(fd)


def _read_fd(fd: int, name: str, limit: int) -> bytes:
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        raise UnsafeFileError(f"{name} is not a regular file")
    chunks, size = [], 0
    while chunk := os.read(fd, 1 << 20):
        size += len(chunk)
        if size > limit:
            raise UnsafeFileError(f"{name} is larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def read_bytes(root: Path, relative: str | PurePosixPath, limit: int = DEFAULT_LIMIT) -> bytes:
    """The bytes of `root/relative`: a regular file reached without links, at most `limit` bytes."""
    *folders, name = _parts(relative)
    with _folder(root, folders, relative, create=False) as parent:
        try:
            fd = os.open(name, _READ_FLAGS, dir_fd=parent)
        except FileNotFoundError:
            raise UnsafeFileError(f"{relative} does not exist") from None
        except OSError as error:
            raise _refusal(relative, error) from None
        try:
            return _read_fd(fd, str(relative), limit)
        finally:
            os.close(fd)


def read_text(root: Path, relative: str | PurePosixPath, limit: int = DEFAULT_LIMIT) -> str:
    try:
        return read_bytes(root, relative, limit).decode()
    except UnicodeDecodeError:
        raise UnsafeFileError(f"{relative} is not UTF-8 text") from None


def read_file(path: Path, limit: int = DEFAULT_LIMIT) -> bytes:
    """One file whose folder the host owns but whose name untrusted code could have replaced."""
    return read_bytes(path.parent, path.name, limit)


def write_bytes(
    root: Path, relative: str | PurePosixPath, data: bytes, mode: int = 0o644, durable: bool = True
) -> None:
    """Write `root/relative` atomically, creating its folders (never through a link); `durable`, fsynced
    too (a copy that is made again after a crash needs no fsync, which costs milliseconds a file)."""
    *folders, name = _parts(relative)
    with _folder(root, folders, relative, create=True) as parent:
        partial = f".{name[:100]}.{uuid.uuid4().hex[:8]}.partial"
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode, dir_fd=parent)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            if durable:
                os.fsync(fd)
        except BaseException:
            os.close(fd)
            os.unlink(partial, dir_fd=parent)
            raise
        os.close(fd)
        try:
            os.rename(partial, name, src_dir_fd=parent, dst_dir_fd=parent)
        except OSError as error:
            os.unlink(partial, dir_fd=parent)
            raise _refusal(relative, error) from None
        if durable:
            os.fsync(parent)


def write_file_atomically(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Write a file the host owns whole or not at all, as `write_bytes` does (fsync, one rename, fsync
    of the folder): concurrent writers never mix, and a crash leaves the old file or the new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_bytes(path.parent, path.name, data, mode)


def write_text(root: Path, relative: str | PurePosixPath, text: str) -> None:
    write_bytes(root, relative, text.encode())


def make_dirs(root: Path, relative: str | PurePosixPath) -> None:
    with _folder(root, _parts(relative), relative, create=True):
        pass


def _lstat(root: Path, relative: str | PurePosixPath) -> os.stat_result | None:
    *folders, name = _parts(relative)
    try:
        with _folder(root, folders, relative, create=False) as parent:
            return os.stat(name, dir_fd=parent, follow_symlinks=False)
    except (UnsafeFileError, FileNotFoundError):
        return None


def is_file(root: Path, relative: str | PurePosixPath) -> bool:
    """A regular file (not a link to one), reached without links."""
    found = _lstat(root, relative)
    return found is not None and stat.S_ISREG(found.st_mode)


def is_dir(root: Path, relative: str | PurePosixPath) -> bool:
    found = _lstat(root, relative)
    return found is not None and stat.S_ISDIR(found.st_mode)


def remove(root: Path, relative: str | PurePosixPath) -> None:
    """Remove the entry itself (a link is removed, never its target); a missing one is fine."""
    *folders, name = _parts(relative)
    try:
        with _folder(root, folders, relative, create=False) as parent:
            found = os.stat(name, dir_fd=parent, follow_symlinks=False)
            if stat.S_ISDIR(found.st_mode):
                _remove_tree(parent, name)
            else:
                os.unlink(name, dir_fd=parent)
    except (UnsafeFileError, FileNotFoundError):
        return


def _remove_tree(parent: int, name: str) -> None:
    fd = os.open(name, _DIR_FLAGS, dir_fd=parent)
    try:
        for entry in os.listdir(fd):
            if stat.S_ISDIR(os.stat(entry, dir_fd=fd, follow_symlinks=False).st_mode):
                _remove_tree(fd, entry)
            else:
                os.unlink(entry, dir_fd=fd)
    finally:
        os.close(fd)
    os.rmdir(name, dir_fd=parent)


def list_files(root: Path, relative: str | PurePosixPath = "", suffix: str = "") -> list[str]:
    """The names of the regular files in a folder (links and other entries left out), sorted."""
    parts = _parts(relative) if str(relative) not in ("", "/", ".") else []
    try:
        with _folder(root, parts, relative or ".", create=False) as fd:
            names = []
            for name in os.listdir(fd):
                found = os.stat(name, dir_fd=fd, follow_symlinks=False)
                if stat.S_ISREG(found.st_mode) and name.endswith(suffix) and not _PARTIAL.fullmatch(name):
                    names.append(name)
            return sorted(names)
    except (UnsafeFileError, FileNotFoundError, NotADirectoryError):
        return []


def list_dirs(root: Path, relative: str | PurePosixPath = "") -> list[str]:
    """The names of the folders in a folder (links to folders left out), sorted."""
    parts = _parts(relative) if str(relative) not in ("", "/", ".") else []
    try:
        with _folder(root, parts, relative or ".", create=False) as fd:
            return sorted(
                name for name in os.listdir(fd) if stat.S_ISDIR(os.stat(name, dir_fd=fd, follow_symlinks=False).st_mode)
            )
    except (UnsafeFileError, FileNotFoundError, NotADirectoryError):
        return []


def walk_files(
    root: Path, limit_files: int = 10_000, with_folders: bool = False
) -> Iterator[tuple[str, os.stat_result]]:
    """Every regular file under `root` as (relative posix path, stat), links and other entries skipped;
    `with_folders` gives each folder too, before what it holds."""
    seen = 0

    def visit(fd: int, prefix: str) -> Iterator[tuple[str, os.stat_result]]:
        nonlocal seen
        for name in sorted(os.listdir(fd)):
            found = os.stat(name, dir_fd=fd, follow_symlinks=False)
            if stat.S_ISDIR(found.st_mode):
                if with_folders:
                    yield f"{prefix}{name}", found
                child = os.open(name, _DIR_FLAGS, dir_fd=fd)
                try:
                    yield from visit(child, f"{prefix}{name}/")
                finally:
                    os.close(child)
            elif stat.S_ISREG(found.st_mode) and not _PARTIAL.fullmatch(name):
                seen += 1
                if seen > limit_files:
                    raise UnsafeFileError(f"more than {limit_files} files under the folder")
                yield f"{prefix}{name}", found

    top = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        yield from visit(top, "")
    finally:
        os.close(top)


def copy_out(root: Path, relative: str | PurePosixPath, dest: Path, limit: int = DEFAULT_LIMIT) -> None:
    """Copy one untrusted file to a host path (bounded, no links on either side)."""
    data = read_bytes(root, relative, limit)
    dest.parent.mkdir(parents=True, exist_ok=True)
    write_bytes(dest.parent, dest.name, data)
