"""The plugin system: hook specs, the plugin manager (built-ins, entry points, format files) and the
registry of formats the plugins register."""

from .hooks import answer_for, format_hooks
from .hookspecs import hookimpl
from .manager import (
    BLOCK_PLUGINS_ENV,
    BUILTIN_PLUGINS,
    DISABLE_ENTRY_POINTS_ENV,
    ENTRY_POINT_GROUP,
    PluginSet,
    make_plugin_manager,
)
from .registry import Entry, FormatRegistry, build_registry, default_registry, load_registry
from .sources import FORMATS_DIR_ENV

__all__ = [
    "BLOCK_PLUGINS_ENV",
    "BUILTIN_PLUGINS",
    "DISABLE_ENTRY_POINTS_ENV",
    "ENTRY_POINT_GROUP",
    "FORMATS_DIR_ENV",
    "Entry",
    "FormatRegistry",
    "PluginSet",
    "answer_for",
    "build_registry",
    "default_registry",
    "format_hooks",
    "hookimpl",
    "load_registry",
    "make_plugin_manager",
]
