"""The third-party plugin package in ``plugins/promptfmt-openchat``, installed for real.

A fresh virtual environment is created in a temporary folder, and pip installs promptfmt and the
plugin package into it from their source trees (wheels built by hatchling, entry points written by
pip, exactly as for a user). To stay fast and offline, nothing is downloaded: the new environment
sees the already-installed *dependencies* (pydantic, pluggy, hatchling, pytest, …) through a
``.pth`` line pointing at this environment's site-packages, and pip runs with ``--no-index
--no-deps --no-build-isolation --ignore-installed`` (so both distributions are installed into the
new environment, never taken from this one). Then the installed ``promptfmt`` command lists,
renders, detects (parses) and converts to and from the plugin's format, and the plugin package's
own test suite — which uses the conformance kit — runs in that environment.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PLUGIN = ROOT / "plugins" / "promptfmt-openchat"

RECORDS = [
    {"instruction": "How are you today?", "output": "I am fine."},
    {"instruction": "Translate to French.", "input": "Good morning", "output": "Bonjour", "id": 2},
]
TEXTS = [
    "<s>GPT4 Correct User: How are you today?<|end_of_turn|>GPT4 Correct Assistant: I am fine.<|end_of_turn|>",
    "<s>GPT4 Correct User: Translate to French.\nGood morning<|end_of_turn|>GPT4 Correct Assistant: Bonjour<|end_of_turn|>",
]


def _run(args: list[str], *, env: dict[str, str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, env=env, cwd=cwd, check=False, timeout=300)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A new virtual environment with promptfmt and promptfmt-openchat installed by pip."""
    home = tmp_path_factory.mktemp("fresh-venv")
    created = subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(home)], capture_output=True, text=True)
    assert created.returncode == 0, created.stderr
    bin_dir = home / ("Scripts" if os.name == "nt" else "bin")
    python = bin_dir / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()
    Path(purelib, "_dependencies_of_the_test_environment.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    pip = _run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-cache-dir",
         "--no-index", "--no-deps", "--no-build-isolation", "--ignore-installed", str(ROOT), str(PLUGIN)],
        env=_clean_env(),
        cwd=home,
    )
    assert pip.returncode == 0, pip.stderr
    return {"home": home, "python": python, "promptfmt": bin_dir / "promptfmt", "purelib": Path(purelib)}


def _clean_env(**extra: str) -> dict[str, str]:
    """The environment without PROMPTFMT_* settings (the test suite disables entry points)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("PROMPTFMT_") and key != "PYTHONPATH"}
    return {**env, **extra}


def test_pip_installed_both_distributions_into_the_new_environment(installed):
    code = (
        "import importlib.metadata as m, promptfmt, promptfmt_openchat, json;"
        "print(json.dumps([promptfmt.__file__, promptfmt_openchat.__file__, m.version('promptfmt-openchat'),"
        "[ep.value for ep in m.entry_points(group='promptfmt') if ep.name == 'openchat']]))"
    )
    result = _run([str(installed["python"]), "-c", code], env=_clean_env())
    assert result.returncode == 0, result.stderr
    promptfmt_file, plugin_file, version, entry_point = json.loads(result.stdout)
    assert Path(promptfmt_file).is_relative_to(installed["purelib"])  # the wheel's copy, not this checkout
    assert Path(plugin_file).is_relative_to(installed["purelib"])
    assert version == "0.1.0"
    assert entry_point == ["promptfmt_openchat"]


def test_installed_cli_lists_the_plugin_format_with_its_origin(installed):
    result = _run([str(installed["promptfmt"]), "formats", "--json"], env=_clean_env())
    assert result.returncode == 0, result.stderr
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert rows["openchat"]["plugin"] == "openchat"
    assert rows["openchat"]["origin"] == "package promptfmt-openchat 0.1.0, entry point promptfmt_openchat"
    assert rows["openchat"]["aliases"] == ["openchat-3.5", "openchat_3.5"]
    assert rows["alpaca"]["origin"] == "built-in"  # the built-ins are still there


def test_installed_cli_renders_and_detects_the_plugin_format(installed, tmp_path):
    records = tmp_path / "records.jsonl"
    records.write_text("".join(json.dumps(r) + "\n" for r in RECORDS), encoding="utf-8")
    rendered = _run([str(installed["promptfmt"]), "render", str(records), "--format", "openchat-3.5", "--json"], env=_clean_env())
    assert rendered.returncode == 0, rendered.stderr
    rows = [json.loads(line) for line in rendered.stdout.splitlines()]
    assert [row["text"] for row in rows] == TEXTS
    assert rows[0]["prompt"] == "<s>GPT4 Correct User: How are you today?<|end_of_turn|>GPT4 Correct Assistant:"

    texts = tmp_path / "texts.jsonl"
    texts.write_text("".join(json.dumps({"text": t}) + "\n" for t in TEXTS), encoding="utf-8")
    detected = _run([str(installed["promptfmt"]), "detect", str(texts)], env=_clean_env())
    assert detected.returncode == 0, detected.stderr
    assert detected.stdout.strip() == "openchat"


def test_installed_cli_converts_to_and_from_the_plugin_format(installed, tmp_path):
    records, texts, back = tmp_path / "records.jsonl", tmp_path / "texts.jsonl", tmp_path / "back.jsonl"
    records.write_text("".join(json.dumps(r) + "\n" for r in RECORDS), encoding="utf-8")
    there = _run([str(installed["promptfmt"]), "convert", str(records), "--to", "openchat", "-o", str(texts)], env=_clean_env())
    assert there.returncode == 0, there.stderr
    assert [json.loads(line)["text"] for line in texts.read_text("utf-8").splitlines()] == TEXTS
    again = _run([str(installed["promptfmt"]), "convert", str(texts), "--from", "auto", "--layout", "alpaca", "-o", str(back)],
                 env=_clean_env())
    assert again.returncode == 0, again.stderr
    rows = [json.loads(line) for line in back.read_text("utf-8").splitlines()]
    assert [{k: row.get(k, "") for k in ("instruction", "input", "output")} for row in rows] == [
        {"instruction": r["instruction"], "input": r.get("input", ""), "output": r["output"]} for r in RECORDS
    ]


def test_installed_library_parses_the_plugin_format(installed):
    code = (
        "import json, sys; from promptfmt import load_registry;"
        "registry, failures = load_registry(); fmt = registry.get('openchat');"
        "print(json.dumps([fmt.parse(t).fields() for t in json.loads(sys.argv[1])] + [len(failures)]))"
    )
    result = _run([str(installed["python"]), "-c", code, json.dumps(TEXTS)], env=_clean_env())
    assert result.returncode == 0, result.stderr
    *parsed, failures = json.loads(result.stdout)
    assert failures == 0
    assert parsed == [{"instruction": r["instruction"], "input": r.get("input", ""), "output": r["output"]} for r in RECORDS]


def test_blocking_the_plugin_by_its_entry_point_name(installed):
    result = _run([str(installed["promptfmt"]), "formats", "--json"], env=_clean_env(PROMPTFMT_BLOCK_PLUGINS="openchat"))
    assert result.returncode == 0, result.stderr
    assert "openchat" not in {row["name"] for row in json.loads(result.stdout)}


def test_the_plugin_package_own_test_suite_passes(installed, tmp_path, shared_data):
    """plugins/promptfmt-openchat/tests: the conformance kit plus golden and chat-template checks."""
    result = _run(
        [str(installed["python"]), "-m", "pytest", str(PLUGIN / "tests"), "-q", "-p", "no:cacheprovider"],
        env=_clean_env(PROMPTFMT_SHARED_DATA=str(shared_data)),
        cwd=tmp_path,  # Hypothesis keeps its example database in the working directory
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    summary = result.stdout.strip().splitlines()[-1]
    assert "passed" in summary and "failed" not in summary and "skipped" not in summary, summary


# -- broken and hostile plugins cannot stop the others from loading (in process, fake entry points) --

HOSTILE = '''
import sys
from promptfmt import Template, TemplateFormat, hookimpl

if "exit_on_import" in __name__:
    sys.exit("this plugin ends the process on import")


class ExitInHook:
    @hookimpl
    def promptfmt_register_formats(self, register):
        register(TemplateFormat("half-done", Template(prefix="Q: ", separator="\\n", response_prefix="\\nA: "),
                                description="x", reference="x"))
        raise SystemExit(0)


class NotAFormat:
    @hookimpl
    def promptfmt_register_formats(self, register):
        register("alpaca")


exit_in_hook = ExitInHook()
not_a_format = NotAFormat()
'''


def test_broken_and_hostile_plugins_are_reported_by_name_and_the_others_listed(cli, tmp_path, monkeypatch):
    from importlib.metadata import EntryPoint

    from promptfmt.plugins import manager as plugins_module

    for module in ("hostile_plugin", "exit_on_import"):
        (tmp_path / f"{module}.py").write_text(HOSTILE, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    eps = [
        EntryPoint("exits-on-import", "exit_on_import", plugins_module.ENTRY_POINT_GROUP),
        EntryPoint("exits-in-hook", "hostile_plugin:exit_in_hook", plugins_module.ENTRY_POINT_GROUP),
        EntryPoint("not-a-format", "hostile_plugin:not_a_format", plugins_module.ENTRY_POINT_GROUP),
        EntryPoint("missing", "no_such_module_anywhere", plugins_module.ENTRY_POINT_GROUP),
    ]
    monkeypatch.setattr(plugins_module, "_entry_points", lambda group: eps)
    monkeypatch.delenv(plugins_module.DISABLE_ENTRY_POINTS_ENV)
    result = cli("formats", "--json", "--format-file", str(ROOT / "examples" / "formats" / "house-qa.toml"))
    assert result.exit_code == 3
    for name in ("exits-on-import", "exits-in-hook", "not-a-format", "missing"):
        assert f"plugin '{name}' failed to load" in result.stderr, name
    assert "this plugin ends the process on import" in result.stderr
    names = {row["name"] for row in json.loads(result.stdout)}
    assert {"alpaca", "phi3", "house-qa"} <= names
    assert "half-done" not in names  # a plugin that failed registers nothing
