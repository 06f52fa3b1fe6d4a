"""The plugin system: built-ins and third-party plugins go through the same pluggy manager call."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from promptfmt import (
    DuplicateFormatError,
    PluginError,
    TemplateFormat,
    UnknownFormatError,
    build_registry,
    load_registry,
    make_plugin_manager,
)
from promptfmt.errors import PluginFormatError
from promptfmt.plugins import manager as plugins_module
from promptfmt.plugins.guarded import GuardedFormat
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


# -- hostile plugins (issue 14): anything a plugin raises or calls is reported by its name ---------

HOSTILE = ["os._exit", "sys.exit", "KeyboardInterrupt", "BaseException", "RuntimeError"]


class Tripwire(BaseException):
    """Stands for the real ``os._exit`` in process: reaching it means promptfmt let a plugin end the run."""


@pytest.fixture
def no_real_exit(monkeypatch):
    def tripwire(status=0):
        raise Tripwire(f"os._exit({status}) reached")

    monkeypatch.setattr(os, "_exit", tripwire)
    return tripwire


@pytest.fixture
def hostile_module(tmp_path, monkeypatch):
    """Write a plugin module whose import runs ``body``; its name, for an entry point."""
    monkeypatch.syspath_prepend(str(tmp_path))
    written: list[str] = []

    def write(body: str) -> str:
        name = f"hostile_{len(written)}_{abs(hash(str(tmp_path))) % 10**8}"
        (tmp_path / f"{name}.py").write_text(f"from tests.plugin_samples import hostile_act\n{body}\n")
        written.append(name)
        return name

    yield write
    for name in written:
        sys.modules.pop(name, None)


@pytest.mark.parametrize("kind", HOSTILE)
def test_whatever_a_plugin_raises_at_import_is_named_and_the_others_load(kind, entry_points, hostile_module, no_real_exit):
    module = hostile_module(f"hostile_act({kind!r})")
    entry_points(hostile=module, greeting="tests.plugin_samples:good")
    registry, failures = load_registry()
    assert [f.plugin for f in failures] == ["hostile"]
    assert str(failures[0]).startswith("plugin 'hostile' failed to load: ")
    assert "greeting" in registry and "alpaca" in registry
    assert os._exit is no_real_exit  # given back after the plugin ran


@pytest.mark.parametrize("kind", HOSTILE)
def test_whatever_a_registration_hook_raises_is_named_and_the_others_load(kind, no_real_exit):
    plugins = [("hostile", plugin_samples.HostileHookPlugin(kind)), ("greeting", plugin_samples.good)]
    registry, failures = build_registry(make_plugin_manager(entry_points=False, plugins=plugins))
    assert [f.plugin for f in failures] == ["hostile"]
    expected = {"os._exit": "PluginExit: os._exit(0) called", "sys.exit": "SystemExit: 0",
                "KeyboardInterrupt": "KeyboardInterrupt: ", "BaseException": "Doom: doomed", "RuntimeError": "RuntimeError: boom"}
    assert str(failures[0]) == f"plugin 'hostile' failed to load: {expected[kind]}"
    assert "noisy" not in registry and "greeting" in registry
    assert os._exit is no_real_exit


def test_a_ctrl_c_of_the_user_while_plugins_load_still_interrupts(entry_points, hostile_module):
    """SIGINT delivered while a plugin imports is the user's: loading stops (the CLI exits 130)."""
    module = hostile_module("import os, signal, time\nos.kill(os.getpid(), signal.SIGINT)\ntime.sleep(5)")
    entry_points(slow=module)
    with pytest.raises(KeyboardInterrupt):
        load_registry()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_prints_of_plugins_go_to_stderr(entry_points, hostile_module, capsys):
    module = hostile_module("hostile_act('print')\n" + "from tests.plugin_samples import good as plugin")
    entry_points(noisy=f"{module}:plugin", hook=module)
    plugins = [("hooked", plugin_samples.HostileHookPlugin("print"))]
    registry, failures = build_registry(make_plugin_manager(plugins=plugins))
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("NOISE FROM A PLUGIN") == 2  # the import (once) and the hook
    assert "greeting" in registry and "noisy" in registry


# -- a plugin's own format code ---------------------------------------------------------------------


def broken_registry(*formats):
    return build_registry(make_plugin_manager(
        entry_points=False, plugins=[("breaker", plugin_samples.BrokenFormatPlugin(*formats))]))[0]


def test_only_formats_with_code_of_their_own_are_guarded():
    registry = broken_registry(plugin_samples.BrokenFormat())
    assert isinstance(registry.get("broken"), GuardedFormat)
    assert registry.get("broken").wrapped.name == "broken"
    builtin, _ = load_registry(entry_points=False, plugins=[("greeting", plugin_samples.good)])
    assert type(builtin.get("alpaca")) is TemplateFormat  # the built-ins' hot path is untouched
    assert builtin.get("greeting") is plugin_samples.GREETING


@pytest.mark.parametrize("method", ["render", "parse", "check", "render_fields", "render_text_fields", "check_fields"])
@pytest.mark.parametrize("kind", ["RuntimeError", "BaseException", "sys.exit", "os._exit", "wrong-type"])
def test_a_failing_format_method_names_the_format_and_its_plugin(method, kind, no_real_exit):
    fmt = broken_registry(plugin_samples.BrokenFormat(method, kind)).get("broken")
    record = plugin_samples.RECORD
    calls = {
        "render": lambda: fmt.render(record), "parse": lambda: fmt.parse("Q: Name a colour.\nA: Blue.\n"),
        "check": lambda: fmt.check(record), "render_fields": lambda: fmt.render_fields("i", "", "o"),
        "render_text_fields": lambda: fmt.render_text_fields("i", "", "o"), "check_fields": lambda: fmt.check_fields("i"),
    }
    with pytest.raises(PluginFormatError) as caught:
        calls[method]()
    assert caught.value.plugin == "breaker" and caught.value.format_name == "broken"
    detail = f"{method} returned int" if kind == "wrong-type" else f"{method} raised"
    assert str(caught.value).startswith(f"format 'broken' of plugin 'breaker' failed: {detail}")
    assert os._exit is no_real_exit


def test_a_parse_error_of_a_plugin_format_is_not_its_failure():
    fmt = broken_registry(plugin_samples.BrokenFormat("render")).get("broken")
    with pytest.raises(ValueError, match="not greeting text"):
        fmt.parse("nothing of the kind")


# -- through the command line ------------------------------------------------------------------------

DATA = '{"instruction": "Name a colour.", "output": "Blue."}\n{"instruction": "Translate.", "input": "Hallo", "output": "Hello"}\n'


@pytest.fixture
def data_file(tmp_path):
    path = tmp_path / "data.jsonl"
    path.write_text(DATA)
    return path


@pytest.mark.parametrize("kind", ["KeyboardInterrupt", "BaseException", "sys.exit", "os._exit"])
def test_cli_a_plugin_failing_at_import_exits_3_naming_it_without_a_traceback(cli, kind, entry_points, hostile_module,
                                                                               no_real_exit):
    entry_points(hostile=hostile_module(f"hostile_act({kind!r})"), greeting="tests.plugin_samples:good")
    result = cli("formats", "--json")
    assert result.exit_code == 3, result
    assert "Warning: plugin 'hostile' failed to load: " in result.stderr and "Traceback" not in result.stderr
    assert {"alpaca", "greeting"} <= {row["name"] for row in json.loads(result.stdout)}


def test_cli_stdout_carries_data_only_whatever_plugins_print(cli, data_file, entry_points, hostile_module):
    clean = cli("convert", str(data_file), "-o", "-", "--to", "alpaca")
    noisy = hostile_module("from promptfmt import hookimpl\nhostile_act('print')\n\n@hookimpl\n"
                           "def promptfmt_register_formats(register):\n    hostile_act('print')\n")
    entry_points(noisy=noisy, hooked="tests.plugin_samples:printing_format")
    for args in (("convert", str(data_file), "-o", "-", "--to", "alpaca"), ("formats", "--json")):
        result = cli(*args)
        assert result.exit_code == 0 and "NOISE FROM A PLUGIN" in result.stderr, result
        assert "NOISE" not in result.stdout
    assert cli("convert", str(data_file), "-o", "-", "--to", "alpaca").stdout == clean.stdout
    printed = cli("convert", str(data_file), "-o", "-", "--to", "printing")  # prints in every method, per record
    assert [json.loads(line)["text"] for line in printed.stdout.splitlines()] == [
        "Q: Name a colour.\nA: Blue.\n", "Q: Translate.\nC: Hallo\nA: Hello\n"]
    rendered = cli("render", str(data_file), "--format", "printing", "--json")
    assert [json.loads(line)["prompt"] for line in rendered.stdout.splitlines()] == ["Q: Name a colour.\nA:",
                                                                                     "Q: Translate.\nC: Hallo\nA:"]
    assert "NOISE" in printed.stderr


@pytest.mark.parametrize("command", [
    ("convert", "{data}", "-o", "-", "--to", "{fmt}"),
    ("convert", "{data}", "-o", "{out}", "--to", "{fmt}", "--workers", "2"),
    ("validate", "{data}", "--format", "{fmt}"),
    ("render", "{data}", "--format", "{fmt}"),
], ids=["convert", "convert-workers", "validate", "render"])
@pytest.mark.parametrize(("fmt", "plugin", "detail"), [
    ("broken", "failing_format", "raised RuntimeError: boom"),
    ("wrongtype", "wrong_type_format", "returned int, not "),
])
def test_cli_a_failing_plugin_format_stops_the_run_naming_format_and_plugin(cli, command, fmt, plugin, detail, tmp_path,
                                                                            data_file, entry_points):
    big = tmp_path / "big.jsonl"
    big.write_text(DATA * 2000)  # enough for two workers to get parts
    entry_points(breaker=f"tests.plugin_samples:{plugin}")
    args = [arg.format(data=big if "--workers" in command else data_file, out=tmp_path / "out.jsonl", fmt=fmt)
            for arg in command]
    result = cli(*args)
    assert result.exit_code == 3, result
    assert f"Error: format '{fmt}' of plugin 'breaker' failed: " in result.stderr
    assert detail in result.stderr and "internal error" not in result.stderr
    assert "PROMPTFMT_BLOCK_PLUGINS=breaker" in result.stderr
    assert not (tmp_path / "out.jsonl").exists()


def test_a_hook_that_ends_the_process_cannot_make_validate_pass(tmp_path):
    """The tester's case, in a real process with the real os._exit: a registration hook calling
    os._exit(0) made every command exit 0, so that validating a broken file 'passed'."""
    site = tmp_path / "site"
    info = site / "hostile_exit-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: hostile-exit\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[promptfmt]\nexiting = tests.plugin_samples:exiting_hook\n")
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"instruction": "x", "output": null}\n{oops\n')
    root = Path(__file__).resolve().parents[1]
    env = {key: value for key, value in os.environ.items() if not key.startswith("PROMPTFMT_")}
    env["PYTHONPATH"] = os.pathsep.join([str(site), str(root)])
    script = Path(sys.executable).with_name("promptfmt")
    validated = subprocess.run([str(script), "validate", str(broken)], capture_output=True, text=True, env=env,
                               timeout=60, check=False)
    assert validated.returncode == 1, validated
    assert "Warning: plugin 'exiting' failed to load: PluginExit: os._exit(0) called" in validated.stderr
    assert "FAILED" in validated.stdout
    listed = subprocess.run([str(script), "formats"], capture_output=True, text=True, env=env, timeout=60, check=False)
    assert listed.returncode == 3 and "alpaca" in listed.stdout
