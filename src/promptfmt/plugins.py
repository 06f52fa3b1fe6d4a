"""Building the plugin manager: built-in plugins, entry-point plugins, blocking.

Built-in formats are ordinary plugin modules, registered by the same loop as third-party plugins
found in the ``promptfmt`` entry-point group. A plugin that fails to import is reported by name
(`PluginError`) and the others still load.

Environment:

* ``PROMPTFMT_DISABLE_ENTRY_POINTS=1`` skips entry-point discovery (built-ins still load).
* ``PROMPTFMT_BLOCK_PLUGINS=name,name`` blocks plugins by name: entry-point names for third-party
  plugins, module names (``promptfmt.formats.alpaca``) for built-ins.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib.metadata import entry_points as _entry_points

import pluggy

from . import hookspecs
from .errors import PluginError

ENTRY_POINT_GROUP = "promptfmt"
DISABLE_ENTRY_POINTS_ENV = "PROMPTFMT_DISABLE_ENTRY_POINTS"
BLOCK_PLUGINS_ENV = "PROMPTFMT_BLOCK_PLUGINS"

BUILTIN_PLUGINS: tuple[str, ...] = (
    "promptfmt.formats.alpaca",
    "promptfmt.formats.phi3",
)


@dataclass
class PluginSet:
    """A plugin manager and the plugins that could not be loaded."""

    manager: pluggy.PluginManager
    failures: list[PluginError] = field(default_factory=list)


def entry_points_disabled() -> bool:
    return os.environ.get(DISABLE_ENTRY_POINTS_ENV, "").strip().lower() not in ("", "0", "false", "no")


def blocked_from_env() -> tuple[str, ...]:
    raw = os.environ.get(BLOCK_PLUGINS_ENV, "")
    return tuple(name.strip() for name in raw.split(",") if name.strip())


def make_plugin_manager(
    *,
    builtins: bool = True,
    entry_points: bool | None = None,
    blocked: Iterable[str] = (),
    plugins: Iterable[tuple[str, object]] = (),
) -> PluginSet:
    """A fresh plugin manager with the built-ins, the entry-point plugins and ``plugins`` registered.

    ``entry_points=None`` follows ``PROMPTFMT_DISABLE_ENTRY_POINTS``; blocked names add to
    ``PROMPTFMT_BLOCK_PLUGINS``. Nothing happens at import time: every call builds a new manager.
    """
    manager = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    manager.add_hookspecs(hookspecs)
    for name in (*blocked, *blocked_from_env()):
        manager.set_blocked(name)
    if entry_points is None:
        entry_points = not entry_points_disabled()

    sources: list[tuple[str, Callable[[], object]]] = []
    if builtins:
        sources += [(module, lambda module=module: importlib.import_module(module)) for module in BUILTIN_PLUGINS]
    if entry_points:
        sources += [(ep.name, ep.load) for ep in _entry_points(group=ENTRY_POINT_GROUP)]
    sources += [(name, lambda plugin=plugin: plugin) for name, plugin in plugins]

    result = PluginSet(manager)
    for name, load in sources:
        if manager.is_blocked(name):
            continue
        try:
            manager.register(load(), name=name)
            manager.check_pending()
        except Exception as exc:  # a broken plugin must not take the others down
            if manager.has_plugin(name):
                manager.unregister(name=name)
            result.failures.append(PluginError(name, exc))
    return result
