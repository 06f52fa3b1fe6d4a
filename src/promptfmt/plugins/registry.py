"""Name -> format. Duplicates raise; unknown names suggest close ones."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pluggy

from ..errors import DuplicateFormatError, FormatDefinitionError, PluginError, UnknownFormatError
from ..format import Format
from .guard import PluginCode
from .guarded import guarded
from .manager import PluginSet, make_plugin_manager


@dataclass(frozen=True, slots=True)
class Entry:
    """A registered format and the plugin that provides it (a plugin's own format code is behind a
    `promptfmt.plugins.guarded.GuardedFormat`, which names them both when it fails)."""

    format: Format
    plugin: str


class FormatRegistry:
    """The formats that plugins registered, looked up by name or alias."""

    def __init__(self, manager: pluggy.PluginManager | None = None) -> None:
        self.manager = manager  # the plugin manager the formats came from (for other hooks, e.g. detection)
        self.origins: dict[str, str] = {}  # plugin name -> where it came from ("built-in", "package x 1.0", ...)
        self._entries: dict[str, Entry] = {}
        self._names: dict[str, str] = {}  # name or alias -> canonical name

    def register(self, fmt: Format, *, plugin: str) -> None:
        if not isinstance(fmt, Format):
            raise FormatDefinitionError(f"plugin {plugin!r} registered {fmt!r}, which is not a promptfmt Format")
        if not getattr(fmt, "name", ""):
            raise FormatDefinitionError(f"plugin {plugin!r} registered a format without a name")
        for key in (fmt.name, *fmt.aliases):
            if key in self._names:
                taken_by = self._entries[self._names[key]].plugin
                raise DuplicateFormatError(key, plugin, taken_by)
        self._entries[fmt.name] = Entry(guarded(fmt, plugin), plugin)
        for key in (fmt.name, *fmt.aliases):
            self._names[key] = fmt.name

    def register_all(self, formats: list[Format], *, plugin: str) -> None:
        """Register every format of one plugin, or none of them if any is refused."""
        trial = FormatRegistry()
        trial._names = dict(self._names)
        trial._entries = dict(self._entries)
        for fmt in formats:
            trial.register(fmt, plugin=plugin)
        self._names, self._entries = trial._names, trial._entries

    def get(self, name: str) -> Format:
        try:
            return self._entries[self._names[name]].format
        except KeyError:
            raise UnknownFormatError(name, self._names) from None

    def entry(self, name: str) -> Entry:
        self.get(name)
        return self._entries[self._names[name]]

    def __contains__(self, name: object) -> bool:
        return name in self._names

    def __iter__(self) -> Iterator[Format]:
        return (entry.format for entry in self._entries.values())

    def __len__(self) -> int:
        return len(self._entries)

    def entries(self) -> tuple[Entry, ...]:
        return tuple(self._entries.values())

    def names(self) -> tuple[str, ...]:
        return tuple(self._entries)

    def origin(self, plugin: str) -> str:
        """Where a plugin came from: ``built-in``, ``package NAME VERSION, entry point …``, ``declarative format file``."""
        return self.origins.get(plugin, "registered by the caller")


def build_registry(plugin_set: PluginSet) -> tuple[FormatRegistry, list[PluginError]]:
    """Ask every plugin, in registration order, to register its formats.

    A plugin whose hook raises (anything: `SystemExit`, ``os._exit``, see `promptfmt.plugins.guard`),
    or that claims a name already taken, registers none of its formats and is reported as a
    `PluginError` naming it; the other plugins' formats stay.
    """
    registry = FormatRegistry(plugin_set.manager)
    registry.origins = dict(plugin_set.origins)
    failures = list(plugin_set.failures)
    manager = plugin_set.manager
    plugins = manager.list_name_plugin()
    for name, plugin in plugins:
        others = [other for _, other in plugins if other is not plugin]
        register_formats = manager.subset_hook_caller("promptfmt_register_formats", remove_plugins=others)
        offered: list[Format] = []
        try:
            with PluginCode(name):
                register_formats(register=offered.append)
                registry.register_all(offered, plugin=name)
        except PluginError as failure:
            failures.append(failure)
    return registry, failures


def load_registry(
    *, format_files: tuple[str, ...] = (), **options: object
) -> tuple[FormatRegistry, list[PluginError]]:
    """The registry of every loadable plugin; ``options`` go to `make_plugin_manager`.

    ``format_files`` are declarative (TOML) format files to register as well, each as a plugin
    named ``file:PATH`` (a broken one is reported by that name); so is every ``*.toml`` of the
    folder that ``PROMPTFMT_FORMATS_DIR`` names (``formats_dir=`` overrides it).
    """
    return build_registry(make_plugin_manager(format_files=format_files, **options))  # type: ignore[arg-type]


def default_registry() -> FormatRegistry:
    """The registry of every loadable plugin, for library calls that were given none.

    A plugin that failed to load raises its `PluginError`: the library never drops a failure. Build
    the registry with `load_registry` (which returns the failures) and pass it on to go on without it.
    """
    registry, failures = load_registry()
    if failures:
        raise failures[0]
    return registry
