"""`AtomicWriter`: the one way promptfmt writes a file, all of it or nothing.

A regular file is written as an unnamed temporary file in the target's folder (``O_TMPFILE``, so
that nothing is left behind whatever ends the process, ``kill -9`` included) and linked into place
when everything was written; where the file system has no unnamed files, a named temporary file
(``.NAME.XXXX.tmp``) is removed on every exit Python sees. An existing target keeps its mode (and,
for root, its owner); a symbolic link is followed, so the file it names is replaced, not the link.
A target that exists and is not a regular file (``/dev/full``, a FIFO) is written to directly:
replacing a device node or a pipe with a regular file would never be what the user meant.

Every OS error while writing is a `WriteError` naming the target and how much was written.
"""

from __future__ import annotations

import errno
import os
import re
import stat
import tempfile
from pathlib import Path
from typing import IO

from ..errors import OutputError, WriteError, os_reason

_UNNAMED = getattr(os, "O_TMPFILE", 0)


class AtomicWriter:
    """A binary file that appears at ``path`` on `commit`, and not at all on `abort`."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.name = os.fspath(path)
        descriptor = _descriptor(self.name)
        self.target, existing = (self.name, None) if descriptor is not None else _target(self.name)
        self.direct = descriptor is not None or existing is not None and not stat.S_ISREG(existing.st_mode)
        self._existing = existing
        self._tmp: str | None = None  # the temporary name, when the file has one
        self._named = False
        self._fd = -1
        try:
            if descriptor is not None:  # /dev/stdout: the open descriptor itself, as the shell set it up
                self.file: IO[bytes] = os.fdopen(os.dup(descriptor), "wb")
            elif self.direct:
                self.file = open(self.name, "wb")  # noqa: SIM115 (closed by commit or abort)
            else:
                self.file = os.fdopen(self._create(), "wb")
        except OSError as exc:
            raise OutputError(f"{path}: cannot be written: {os_reason(exc)}.") from None

    def _create(self) -> int:
        folder = os.path.dirname(self.target) or "."
        if _UNNAMED:
            try:
                return os.open(folder, os.O_WRONLY | _UNNAMED, 0o666)
            except OSError as exc:  # a file system without unnamed files: a named one instead
                if exc.errno not in (errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL, errno.ENOENT):
                    raise
        self._named = True
        handle, self._tmp = tempfile.mkstemp(prefix=f".{os.path.basename(self.target)}.", suffix=".tmp", dir=folder)
        return handle

    def write(self, data: bytes) -> None:
        try:
            self.file.write(data)
        except OSError as exc:
            raise self.failure(exc) from None

    def failure(self, exc: OSError) -> WriteError:
        """The `WriteError` of ``exc``, with the bytes written so far."""
        return WriteError(self.name, os_reason(exc), self.size(), atomic=not self.direct)

    def size(self) -> int | None:
        try:
            return os.fstat(self.file.fileno()).st_size if not self.file.closed else None
        except (OSError, ValueError):
            return None

    def close(self) -> None:
        """Flush and close the file (where a full disk shows up last); `WriteError` when that fails."""
        if self.file.closed:
            return
        written = self.size()
        if not (self.direct or self._named):  # kept open, so that the unnamed file can be linked
            self._fd = os.dup(self.file.fileno())
        try:
            self.file.close()
        except OSError as exc:
            error = WriteError(self.name, os_reason(exc), written, atomic=not self.direct)
            self.abort()
            raise error from None

    def publish(self) -> None:
        """Give the closed file its mode and put it in place of the target."""
        if self.direct:
            return
        try:
            self._place()
        except OSError as exc:
            self.abort()
            raise WriteError(self.name, os_reason(exc), atomic=True) from None
        finally:
            self._release()
        self._tmp = None

    def _place(self) -> None:
        if self._tmp is None:  # unnamed: linked under a temporary name, then renamed over the target
            self._tmp = _link_name(self.target)
            _link_unnamed(self._fd, self._tmp)
        existing = self._existing
        if existing is not None:
            os.chmod(self._tmp, stat.S_IMODE(existing.st_mode))
            if os.geteuid() == 0 and (existing.st_uid, existing.st_gid) != (0, 0):
                os.chown(self._tmp, existing.st_uid, existing.st_gid)
        elif self._named:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(self._tmp, 0o666 & ~umask)  # mkstemp makes it private: the mode a plain open gives
        os.replace(self._tmp, self.target)

    def commit(self) -> None:
        """Close, then put in place: the target changes only when everything was written."""
        self.close()
        self.publish()

    def _release(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def abort(self) -> None:
        """Drop what was written: the target is left as it was."""
        try:
            self.file.close()
        except OSError:
            pass
        self._release()
        if self._tmp is not None:
            try:
                os.unlink(self._tmp)
            except FileNotFoundError:
                pass
            self._tmp = None

    def __enter__(self) -> AtomicWriter:
        return self

    def __exit__(self, exc_type: object, *rest: object) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()


_DESCRIPTOR = re.compile(r"/(?:dev/fd|proc/self/fd)/(\d+)")
_STANDARD = {"/dev/stdin": 0, "/dev/stdout": 1, "/dev/stderr": 2}


def _descriptor(path: str) -> int | None:
    """The descriptor a path such as ``/dev/stdout`` or ``/dev/fd/3`` stands for: written through,
    never reopened (that would truncate a file opened with ``>>``) nor replaced."""
    if path in _STANDARD:
        return _STANDARD[path]
    match = _DESCRIPTOR.fullmatch(path)
    return int(match.group(1)) if match else None


def _target(path: str) -> tuple[str, os.stat_result | None]:
    """The file to write (symbolic links followed) and its status when it exists."""
    try:
        existing = os.stat(path)
    except FileNotFoundError:
        return os.path.realpath(path), None
    except OSError as exc:
        hint = " (a symbolic link loop)" if exc.errno == errno.ELOOP else ""
        raise OutputError(f"{path}: cannot be written: {os_reason(exc)}{hint}.") from None
    if stat.S_ISDIR(existing.st_mode):
        raise OutputError(f"{path} is a folder; give a file name.")
    return os.path.realpath(path), existing


def _link_name(target: str) -> str:
    folder, name = os.path.split(target)
    return os.path.join(folder, f".{name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")


def _link_unnamed(fd: int, name: str) -> None:
    """Give the unnamed file open as ``fd`` the name ``name`` (linkat through ``/proc``, following the
    descriptor's link: a ``src_dir_fd`` makes Python call linkat with AT_SYMLINK_FOLLOW)."""
    try:
        folder = os.open("/proc/self/fd", os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        _copy_unnamed(fd, name)
        return
    try:
        os.link(str(fd), name, src_dir_fd=folder, follow_symlinks=True)
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EEXIST):
            raise
        _copy_unnamed(fd, name)
    finally:
        os.close(folder)


def _copy_unnamed(fd: int, name: str) -> None:
    """Where the unnamed file cannot be linked: its bytes copied into a new file ``name``."""
    out = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        offset = 0
        while chunk := os.pread(fd, 1 << 20, offset):
            os.write(out, chunk)
            offset += len(chunk)
    except BaseException:
        os.close(out)
        os.unlink(name)
        raise
    os.close(out)
