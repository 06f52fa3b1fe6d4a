"""Declarative format files as plugins: one plugin per file, named ``file:PATH``.

The files come from ``--format-file PATH`` (``format_files=`` of `promptfmt.load_registry`) and from
every ``*.toml`` of the folder that ``PROMPTFMT_FORMATS_DIR`` names. A broken file is reported by
that name and the other formats still load; a formats folder that does not exist is reported as
plugin ``dir:FOLDER``. What a file may hold is `promptfmt.templating.declarative`'s business.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from ..errors import FormatDefinitionError
from ..format import Format
from ..templating.declarative import FILE_PLUGIN_PREFIX, load_format_file
from .hookspecs import hookimpl

FORMATS_DIR_ENV = "PROMPTFMT_FORMATS_DIR"


class FormatFilePlugin:
    """The plugin of one declarative format file: registers the format the file describes."""

    def __init__(self, fmt: Format, path: str) -> None:
        self.format = fmt
        self.path = path

    @classmethod
    def from_file(cls, path: str | Path) -> FormatFilePlugin:
        return cls(load_format_file(path), str(path))

    @hookimpl
    def promptfmt_register_formats(self, register: Callable[[Format], None]) -> None:
        register(self.format)

    def __repr__(self) -> str:
        return f"<FormatFilePlugin {self.path!r}>"


class _MissingFolder:
    """Stands for a formats folder that does not exist, so the failure is reported by name."""

    def __init__(self, folder: str) -> None:
        self.folder = folder

    def load(self) -> object:
        raise FormatDefinitionError(
            f"{self.folder}: {FORMATS_DIR_ENV} names a folder that does not exist; create it or unset the variable"
        )


def format_file_sources(
    format_files: Iterable[str | os.PathLike[str]] = (), formats_dir: str | os.PathLike[str] | None = None
) -> Iterator[tuple[str, Callable[[], object]]]:
    """``(plugin name, loader)`` for every format file: the folder's ``*.toml`` first, then ``format_files``.

    A file named twice (same resolved path) is loaded once. Loading happens when the loader is
    called, so that a broken file fails inside the plugin manager and is reported by name.
    """
    paths: list[Path] = []
    if formats_dir:
        folder = Path(formats_dir)
        if not folder.is_dir():
            yield f"dir:{folder}", _MissingFolder(str(folder)).load
        else:
            paths += sorted(folder.glob("*.toml"))
    paths += [Path(p) for p in format_files]
    seen: set[Path] = set()
    for path in paths:
        key = Path(os.path.realpath(path))  # never raises: a loop fails when the file is read, by name
        if key in seen:
            continue
        seen.add(key)
        yield f"{FILE_PLUGIN_PREFIX}{path}", functools.partial(FormatFilePlugin.from_file, path)
