"""Folders of temporary files that a later run removes once their owner is gone, even after SIGKILL.

A folder ``.promptfmt-parts.<pid>-<random>.tmp`` holds a file ``lock`` on which the process that made
it holds an exclusive ``flock``; forked workers inherit the open file and so hold the lock too. The
kernel drops the lock when the last of them ends, however it ends, so "the lock can be taken" proves
the folder stale (a reused pid or a slow clock cannot fool it; the pid in the name is for people).
`sweep` removes such folders. A folder with no lock file receives no files: it is removed only when
empty (its owner died before locking it, or is about to lock it and then starts over with a new one).
Folders of other names, older promptfmt's included, are never touched: their staleness cannot be proven.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import stat
import tempfile

__all__ = ["LOCK", "ScratchFolder", "sweep"]

PREFIX = ".promptfmt-parts."
SUFFIX = ".tmp"
LOCK = "lock"
_NAME = re.compile(r"\.promptfmt-parts\.\d+-[a-z0-9_]+\.tmp\Z")


class ScratchFolder:
    """A locked folder of temporary files in ``parent`` (default: the system's temporary folder)."""

    def __init__(self, parent: str | None = None) -> None:
        self.owner = os.getpid()
        self.path, self._lock = _create(parent)

    def remove(self) -> None:
        """Remove the folder and everything in it, then release the lock."""
        shutil.rmtree(self.path, ignore_errors=True)
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None

    def remove_if_orphaned(self) -> None:
        """In a forked worker: remove the folder when the process that made it is gone (nobody else will)."""
        if os.getppid() != self.owner:
            shutil.rmtree(self.path, ignore_errors=True)

    def __enter__(self) -> ScratchFolder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()


def _create(parent: str | None) -> tuple[str, int | None]:
    """A new folder and its held lock. A sweep may remove the folder before it is locked: start over."""
    while True:
        path = tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-", suffix=SUFFIX, dir=parent)
        lock = os.path.join(path, LOCK)
        try:
            handle = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        except FileNotFoundError:
            continue
        try:
            fcntl.flock(handle, fcntl.LOCK_EX)  # blocks only while a sweep that took it removes the folder
        except OSError:  # a file system without locks: sweeps cannot lock it either, and leave it alone
            return path, handle
        if _same_file(lock, handle):
            return path, handle
        os.close(handle)


def sweep(parent: str | None = None) -> list[str]:
    """Remove the stale scratch folders of ``parent`` (default: the system's temporary folder); their paths."""
    folder = parent if parent is not None else tempfile.gettempdir()
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    removed = []
    for name in names:
        path = os.path.join(folder, name)
        if _NAME.match(name) and _remove_if_stale(path):
            removed.append(path)
    return removed


def _remove_if_stale(path: str) -> bool:
    try:
        if not stat.S_ISDIR(os.lstat(path).st_mode):
            return False
        handle = os.open(os.path.join(path, LOCK), os.O_RDWR | os.O_NOFOLLOW)
    except FileNotFoundError:
        return _remove_if_empty(path)
    except OSError:  # another user's, or unreadable: not ours to judge
        return False
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # held: its owner or one of its workers is alive (or locks are not supported)
            return False
        if not _same_file(os.path.join(path, LOCK), handle):  # removed meanwhile by another sweep
            return False
        shutil.rmtree(path, ignore_errors=True)
        return not os.path.lexists(path)
    finally:
        os.close(handle)


def _remove_if_empty(path: str) -> bool:
    try:
        os.rmdir(path)
    except OSError:
        return False
    return True


def _same_file(path: str, handle: int) -> bool:
    try:
        return os.path.samestat(os.stat(path, follow_symlinks=False), os.fstat(handle))
    except OSError:
        return False
