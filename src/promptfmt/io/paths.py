"""Paths given on the command line or to the services: inputs that must be readable files, outputs
that must never be the input. Every command checks them here, so the same problem gives the same
message everywhere."""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from ..errors import InputPathError, OutputError
from .hub import HubName, hub_folder, is_hub_name
from .items import STDIN

STDOUT = "-"
DATASET_FOLDER_FILES = ("state.json", "dataset_dict.json")  # what datasets.save_to_disk writes in a folder


def open_input(path: str) -> IO[bytes]:
    """``path`` opened for reading; `InputPathError` saying what is wrong otherwise."""
    try:
        return open(path, "rb")
    except FileNotFoundError:
        raise InputPathError(path, "no such file. Check the path.") from None
    except IsADirectoryError:
        raise InputPathError(path, "is a folder, not a file (nor a datasets.save_to_disk folder).") from None
    except PermissionError:
        raise InputPathError(path, "permission denied.") from None
    except OSError as exc:
        raise InputPathError(path, f"cannot be opened: {exc.strerror or exc}.") from None


def require_input(path: str) -> None:
    """Raise `InputPathError` unless ``path`` is ``-`` or a file that can be opened.

    A FIFO or a device (``/dev/stdin``) is not opened to check it: opening and closing a pipe
    would end the writer on the other side before the real reading starts.
    """
    if path == STDIN:
        return
    if is_hub_name(path):
        HubName.parse(path)  # the name is checked here; the Hub (or its folder) when it is read
        return
    if os.path.isdir(path) and any(os.path.isfile(os.path.join(path, name)) for name in DATASET_FOLDER_FILES):
        return  # a datasets.save_to_disk folder (promptfmt.io.tables says which)
    try:
        mode = os.stat(path).st_mode
    except OSError:
        mode = 0  # open_input says what is wrong
    if stat.S_ISFIFO(mode) or stat.S_ISCHR(mode) or stat.S_ISSOCK(mode):
        if not os.access(path, os.R_OK):
            raise InputPathError(path, "permission denied.")
        return
    open_input(path).close()



def same_file(a: str, b: str) -> bool:
    """Whether paths ``a`` and ``b`` name the same file (``-`` is never a file)."""
    if STDIN in (a, b):
        return False
    if is_hub_name(a) or is_hub_name(b):  # never a file; a local folder read as one holds the input's files
        name, other = (a, b) if is_hub_name(a) else (b, a)
        folder = hub_folder(name)
        return folder is not None and not is_hub_name(other) and _inside(other, folder)
    if os.path.realpath(a) == os.path.realpath(b):  # never raises, a symbolic link loop included
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (yet)
        return False


def refuse_overwrite(source: str, outputs: Sequence[tuple[str, str | None]], *, folders: bool = False) -> None:
    """Raise `OutputError` when an output (``(option name, path)``) is the input or another output;
    ``folders``: the outputs are folders (``save_to_disk``), so an existing folder is no error."""
    seen: list[tuple[str, str]] = []
    for option, path in outputs:
        if path is None or path == STDOUT:
            continue
        inside = folders and source != STDIN and not is_hub_name(source) and os.path.isdir(path) and _inside(source, path)
        if same_file(source, path) or inside:  # a folder output replaces all it holds
            what = "inside the input folder" if is_hub_name(source) else "the input file"
            what = "the folder that holds the input" if inside and not same_file(source, path) else what
            raise OutputError(f"{option} {path} is {what}: promptfmt never overwrites its input. Write elsewhere.")
        for other_option, other in seen:
            if same_file(other, path):
                raise OutputError(f"{option} and {other_option} are the same file ({path}); give them different names.")
        folder = Path(path).parent
        if not folder.is_dir():
            raise OutputError(f"{option} {path}: the folder {str(folder)!r} does not exist. Create it first.")
        if Path(path).is_dir() and not folders:
            raise OutputError(f"{option} {path} is a folder; give a file name.")
        seen.append((option, path))


def _inside(path: str, folder: str) -> bool:
    """Whether ``path`` is in ``folder`` or below it (symbolic links resolved)."""
    path, folder = os.path.realpath(path), os.path.realpath(folder)
    return os.path.commonpath([path, folder]) == folder
