"""Building the plugin manager: built-in plugins, entry-point plugins, blocking.

Built-in formats are ordinary plugin modules, registered by the same loop as third-party plugins
found in the ``promptfmt`` entry-point group. A plugin that fails to import (whatever it raises or
calls, `promptfmt.plugins.guard`) is reported by name (`PluginError`) and the others still load.

Environment:

* ``PROMPTFMT_DISABLE_ENTRY_POINTS=1`` skips entry-point discovery (built-ins still load).
* ``PROMPTFMT_BLOCK_PLUGINS=name,name`` blocks plugins by name: entry-point names for third-party
  plugins, module names (``promptfmt.formats.alpaca``) for built-ins, ``file:PATH`` for format files.
* ``PROMPTFMT_FORMATS_DIR=FOLDER`` loads every ``*.toml`` declarative format file in FOLDER.

Declarative format files (`promptfmt.plugins.sources`) are plugins too, one per file, named
``file:PATH``; they are registered after the built-ins and the entry-point plugins.
"""

from __future__ import annotations

import functools
import importlib
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib.metadata import entry_points as _entry_points

import pluggy

from ..errors import PluginError
from . import hookspecs
from .guard import PluginCode
from .sources import FORMATS_DIR_ENV, format_file_sources

ENTRY_POINT_GROUP = "promptfmt"
DISABLE_ENTRY_POINTS_ENV = "PROMPTFMT_DISABLE_ENTRY_POINTS"
BLOCK_PLUGINS_ENV = "PROMPTFMT_BLOCK_PLUGINS"

BUILTIN_PLUGINS: tuple[str, ...] = (
    "promptfmt.formats.alpaca",
    "promptfmt.formats.phi3",
    "promptfmt.formats.phi4",
    "promptfmt.formats.chatml",
    "promptfmt.formats.llama",
    "promptfmt.formats.mistral",
    "promptfmt.formats.zephyr",
    "promptfmt.formats.gemma",
    "promptfmt.formats.vicuna",
)


@dataclass
class PluginSet:
    """A plugin manager, the plugins that could not be loaded, and where each plugin came from."""

    manager: pluggy.PluginManager
    failures: list[PluginError] = field(default_factory=list)
    origins: dict[str, str] = field(default_factory=dict)  # plugin name -> "built-in", "package x 1.0", ...


def entry_points_disabled() -> bool:
    return os.environ.get(DISABLE_ENTRY_POINTS_ENV, "").strip().lower() not in ("", "0", "false", "no")


def blocked_from_env() -> tuple[str, ...]:
    raw = os.environ.get(BLOCK_PLUGINS_ENV, "")
    return tuple(name.strip() for name in raw.split(",") if name.strip())


def formats_dir_from_env() -> str | None:
    return os.environ.get(FORMATS_DIR_ENV, "").strip() or None


def make_plugin_manager(
    *,
    builtins: bool = True,
    entry_points: bool | None = None,
    blocked: Iterable[str] = (),
    plugins: Iterable[tuple[str, object]] = (),
    format_files: Iterable[str | os.PathLike[str]] = (),
    formats_dir: str | os.PathLike[str] | None = None,
) -> PluginSet:
    """A fresh plugin manager with the built-ins, the entry-point plugins, the format files and ``plugins``.

    ``entry_points=None`` follows ``PROMPTFMT_DISABLE_ENTRY_POINTS``; blocked names add to
    ``PROMPTFMT_BLOCK_PLUGINS``. ``format_files`` are declarative TOML files; ``formats_dir=None``
    follows ``PROMPTFMT_FORMATS_DIR`` (``formats_dir=""`` ignores it). Nothing happens at import
    time: every call builds a new manager.
    """
    manager = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    manager.add_hookspecs(hookspecs)
    for name in (*blocked, *blocked_from_env()):
        manager.set_blocked(name)
    if entry_points is None:
        entry_points = not entry_points_disabled()
    if formats_dir is None:
        formats_dir = formats_dir_from_env()

    result = PluginSet(manager)
    sources: list[tuple[str, Callable[[], object]]] = []
    if builtins:
        sources += [(module, functools.partial(importlib.import_module, module)) for module in BUILTIN_PLUGINS]
        result.origins.update(dict.fromkeys(BUILTIN_PLUGINS, "built-in"))
    if entry_points:
        for ep in _entry_points(group=ENTRY_POINT_GROUP):
            sources.append((ep.name, ep.load))
            result.origins[ep.name] = _entry_point_origin(ep)
    format_files = tuple(format_files)
    if format_files or formats_dir:
        for name, load in format_file_sources(format_files, formats_dir or None):
            sources.append((name, load))
            result.origins[name] = "declarative format file"
    sources += [(name, functools.partial(_given, plugin)) for name, plugin in plugins]

    for name, load in sources:
        if manager.is_blocked(name):
            continue
        try:
            with PluginCode(name):  # whatever the import does, it is reported by name (plugins.guard)
                manager.register(load(), name=name)
                manager.check_pending()
        except PluginError as failure:
            if manager.has_plugin(name):
                manager.unregister(name=name)
            result.failures.append(failure)
    return result


def _given(plugin: object) -> object:
    return plugin


def _entry_point_origin(ep: object) -> str:
    """Where an entry-point plugin comes from: its distribution and version, when known."""
    dist = getattr(ep, "dist", None)
    if dist is None:
        return f"entry point {ep.value}"  # type: ignore[attr-defined]
    return f"package {dist.name} {dist.version}, entry point {ep.value}"  # type: ignore[attr-defined]
