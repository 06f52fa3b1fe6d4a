"""The plugin system: built-ins and third-party plugins go through the same pluggy manager call."""

from __future__ import annotations

from importlib.metadata import EntryPoint

import pytest

from promptfmt import (
    DuplicateFormatError,
    PluginError,
    UnknownFormatError,
    build_registry,
    load_registry,
    make_plugin_manager,
)
from promptfmt.plugins import manager as plugins_module
from promptfmt.plugins.registry import FormatRegistry

from . import plugin_samples

BUILTIN_NAMES = {"alpaca", "alpaca-llmfs", "phi3", "phi3-llmfs"}


@pytest.fixture
def entry_points(monkeypatch):
    """Install fake entry points of the 'promptfmt' group (real EntryPoint objects, real imports)."""

    def install(**targets: str) -> None:
        eps = [EntryPoint(name, value, plugins_module.ENTRY_POINT_GROUP) for name, value in targets.items()]
        monkeypatch.setattr(plugins_module, "_entry_points", lambda group: [ep for ep in eps if ep.group == group])
        monkeypatch.delenv(plugins_module.DISABLE_ENTRY_POINTS_ENV, raising=False)

    return install


def test_builtins_are_ordinary_plugins():
    registry, failures = load_registry(entry_points=False)
    assert failures == []
    assert set(registry.names()) >= BUILTIN_NAMES
    assert registry.entry("alpaca").plugin == "promptfmt.formats.alpaca"
    assert registry.entry("phi3").plugin == "promptfmt.formats.phi3"
    manager = registry.manager
    assert {name for name, _ in manager.list_name_plugin()} >= set(plugins_module.BUILTIN_PLUGINS)


def test_entry_point_plugin_registers_through_the_same_call(entry_points):
    entry_points(greeting="tests.plugin_samples:good")
    registry, failures = load_registry()
    assert failures == []
    assert registry.get("greeting") is plugin_samples.GREETING
    assert registry.get("qa") is plugin_samples.GREETING
    assert registry.entry("greeting").plugin == "greeting"
    assert set(registry.names()) >= BUILTIN_NAMES


def test_plugin_that_fails_to_import_is_named_and_others_load(entry_points):
    entry_points(broken="tests.no_such_plugin_module", greeting="tests.plugin_samples:good")
    registry, failures = load_registry()
    assert [f.plugin for f in failures] == ["broken"]
    assert "ModuleNotFoundError" in str(failures[0])
    assert "greeting" in registry and "alpaca" in registry


def test_duplicate_name_is_an_error_not_a_rename(entry_points):
    entry_points(dupe="tests.plugin_samples:duplicate")
    registry, failures = load_registry()
    assert len(failures) == 1 and failures[0].plugin == "dupe"
    assert isinstance(failures[0].cause, DuplicateFormatError)
    assert "already registered by plugin 'promptfmt.formats.alpaca'" in str(failures[0])
    # nothing of the refused plugin is registered, the built-in keeps its name
    assert "my-format" not in registry
    assert registry.entry("alpaca").plugin == "promptfmt.formats.alpaca"
    assert not any(name.startswith("alpaca_") for name in registry.names())


def test_registry_register_raises_on_duplicates():
    registry = FormatRegistry()
    registry.register(plugin_samples.GREETING, plugin="one")
    with pytest.raises(DuplicateFormatError, match="'greeting'.*plugin 'two'.*plugin 'one'"):
        registry.register(plugin_samples.GREETING, plugin="two")


def test_raising_hook_and_misspelled_hook_are_reported_by_name(entry_points):
    entry_points(raising="tests.plugin_samples:raising", misspelled="tests.plugin_samples:misspelled")
    registry, failures = load_registry()
    by_name = {f.plugin: str(f) for f in failures}
    assert set(by_name) == {"raising", "misspelled"}
    assert "boom while registering" in by_name["raising"]
    assert "promptfmt_register_format" in by_name["misspelled"]
    assert set(registry.names()) >= BUILTIN_NAMES


def test_blocking_a_builtin_and_a_third_party_plugin(entry_points, monkeypatch):
    entry_points(greeting="tests.plugin_samples:good")
    registry, _ = load_registry(blocked=["promptfmt.formats.phi3"])
    assert "phi3" not in registry and "alpaca" in registry and "greeting" in registry
    monkeypatch.setenv(plugins_module.BLOCK_PLUGINS_ENV, "greeting, promptfmt.formats.alpaca")
    registry, _ = load_registry()
    assert "greeting" not in registry and "alpaca" not in registry and "phi3" in registry


def test_environment_variable_disables_entry_points(entry_points, monkeypatch):
    entry_points(greeting="tests.plugin_samples:good")
    monkeypatch.setenv(plugins_module.DISABLE_ENTRY_POINTS_ENV, "1")
    registry, failures = load_registry()
    assert "greeting" not in registry and failures == []


def test_plugins_passed_directly_and_fresh_managers_each_time():
    one = make_plugin_manager(entry_points=False, plugins=[("greeting", plugin_samples.good)])
    two = make_plugin_manager(entry_points=False)
    registry, _ = build_registry(one)
    assert "greeting" in registry
    assert not two.manager.has_plugin("greeting")


def test_unknown_name_suggests_close_matches():
    registry, _ = load_registry(entry_points=False)
    with pytest.raises(UnknownFormatError) as caught:
        registry.get("phi-33")
    assert caught.value.suggestions[0] in {"phi-3", "phi3"}
    assert "promptfmt formats" in str(caught.value)
    with pytest.raises(UnknownFormatError, match="unknown format 'zzzz'\\. Run"):
        registry.get("zzzz")


def test_plugin_error_is_a_promptfmt_error():
    error = PluginError("x", ValueError("bad"))
    assert str(error) == "plugin 'x' failed to load: ValueError: bad"
