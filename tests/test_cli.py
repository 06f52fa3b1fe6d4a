"""The CLI through its entry point: formats, render, schema; exit codes 0/1/2/3; messages on stderr."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from promptfmt.plugins import manager as plugins_module

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "instructions.jsonl"


@pytest.fixture
def dataset(tmp_path):
    path = tmp_path / "data.json"
    path.write_text(json.dumps([
        {"instruction": "Name a colour.", "output": "Blue."},
        {"instruction": "Translate.", "input": "Hallo", "output": "Hello", "id": 7},
    ]))
    return path


def test_formats_lists_every_builtin_with_its_plugin(cli):
    result = cli("formats", "--json")
    assert result.exit_code == 0, result
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert {"alpaca", "alpaca-llmfs", "phi3", "phi3-llmfs"} <= set(rows)
    assert rows["phi3"]["plugin"] == "promptfmt.formats.phi3"
    assert "phi-3" in rows["phi3"]["aliases"]
    assert all(row["description"] and row["reference"] for row in rows.values())
    human = cli("formats")
    assert "alpaca-llmfs (aliases: alpaca-course)" in human.stdout


def test_render_json_gives_prompt_completion_text(cli, dataset):
    result = cli("render", str(dataset), "--format", "phi3", "--json")
    assert result.exit_code == 0, result
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == 2
    assert rows[1] == {
        "prompt": "<|user|>\nTranslate.\nHallo<|end|>\n<|assistant|>\n",
        "completion": "Hello<|end|>\n<|endoftext|>",
        "text": "<|user|>\nTranslate.\nHallo<|end|>\n<|assistant|>\nHello<|end|>\n<|endoftext|>",
    }


def test_render_one_record_from_stdin_by_alias(cli, dataset):
    result = cli("render", "-", "--format", "alpaca-course", "--index", "1", input=dataset.read_bytes())
    assert result.exit_code == 0, result
    assert result.stdout.endswith("### Input:\nHallo\n\n### Response:\nHello\n")


def test_render_reports_invalid_records_with_location_and_renders_the_rest(cli, tmp_path):
    path = tmp_path / "mixed.jsonl"
    path.write_text('{"instruction": "a", "output": "b"}\n{"instruction": "a", "input": null, "output": "b"}\n')
    result = cli("render", str(path), "-f", "alpaca", "--json")
    assert result.exit_code == 1
    assert len(result.stdout.splitlines()) == 1
    assert f"{path}:2: record 1: input: wrong-type: input is null" in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_format_is_a_usage_error_with_suggestions(cli, dataset):
    result = cli("render", str(dataset), "--format", "alpacca")
    assert result.exit_code == 2
    assert "unknown format 'alpacca'. Did you mean 'alpaca'" in result.stderr


def test_missing_file_and_bad_index(cli, dataset, tmp_path):
    missing = cli("render", str(tmp_path / "nope.json"), "-f", "alpaca")
    assert missing.exit_code == 2 and "nope.json: no such file" in missing.stderr
    beyond = cli("render", str(dataset), "-f", "alpaca", "--index", "5")
    assert beyond.exit_code == 2 and "there is no record 5" in beyond.stderr and "has 2 record(s)" in beyond.stderr


def test_plugin_failure_exit_code_3_and_others_still_listed(cli, monkeypatch):
    from importlib.metadata import EntryPoint

    eps = [EntryPoint("broken", "tests.no_such_plugin_module", plugins_module.ENTRY_POINT_GROUP)]
    monkeypatch.setattr(plugins_module, "_entry_points", lambda group: eps)
    monkeypatch.delenv(plugins_module.DISABLE_ENTRY_POINTS_ENV)
    result = cli("formats", "--json")
    assert result.exit_code == 3
    assert "plugin 'broken' failed to load" in result.stderr
    assert "alpaca" in {row["name"] for row in json.loads(result.stdout)}


def test_schema_prints_and_checks(cli):
    printed = cli("schema")
    assert printed.exit_code == 0 and json.loads(printed.stdout)["title"] == "Record"
    checked = cli("schema", "--check")
    assert checked.exit_code == 0 and "up to date" in checked.stderr


def test_console_script_is_installed_and_runs():
    """The real console script, in a subprocess: help works and exit codes survive the process boundary."""
    script = Path(sys.executable).parent / "promptfmt"
    env = {**os.environ, "PROMPTFMT_DISABLE_ENTRY_POINTS": "1"}
    ok = subprocess.run([str(script), "formats"], capture_output=True, text=True, env=env, check=False)
    assert ok.returncode == 0 and "phi3-llmfs" in ok.stdout
    bad = subprocess.run([str(script), "render", "x.json"], capture_output=True, text=True, env=env, check=False)
    assert bad.returncode == 2 and "--format" in bad.stderr


def test_every_command_has_help(cli):
    from promptfmt.cli.app import app

    names = [command.name for command in app.registered_commands]
    assert {"formats", "render", "schema"} <= set(names)
    for name in names:
        result = cli(name, "--help")
        assert result.exit_code == 0 and "Usage" in result.stdout, name


def test_a_broken_format_file_the_user_named_stops_the_command(cli, dataset, tmp_path):
    broken = tmp_path / "broken.toml"
    broken.write_text('name = "broken"\ndescription = "x"\nreference = "y"\n[template]\nprefix = "Q: "\nseparator = ""\n')
    result = cli("render", str(dataset), "--format", "alpaca", "--format-file", str(broken))
    assert result.exit_code == 3
    assert f"plugin 'file:{broken}' failed to load" in result.stderr
    assert f"{broken}: template.separator: must not be empty" in result.stderr
    assert result.stdout == ""
