"""The house rules that the code itself must keep: small modules and functions, one error map, the
library never drops a plugin failure, a `Query` is never rendered with an output, ``--version``.

The layers (one-way imports) are checked by ``lint-imports`` in ``make test``, with ruff and mypy.
"""

from __future__ import annotations

import ast
import builtins
import json
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

import promptfmt
from promptfmt import PluginError, Query, Record, load_registry, render_batch, validate
from promptfmt import batch as batch_module
from promptfmt.io import paths
from promptfmt.plugins import manager as plugins_module

SOURCE = Path(promptfmt.__file__).resolve().parent
MODULE_LINES = 400
FUNCTION_LINES = 60  # the body, docstring aside


def _functions(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if len(body) > 1 and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                body = body[1:]
            yield node.name, node.lineno, node.end_lineno - body[0].lineno + 1


def test_modules_and_functions_stay_small():
    too_long = []
    for path in sorted(SOURCE.rglob("*.py")):
        text = path.read_text("utf-8")
        name = path.relative_to(SOURCE)
        if text.count("\n") > MODULE_LINES:
            too_long.append(f"{name}: {text.count(chr(10))} lines")
        too_long += [
            f"{name}:{line}: {function}() has {length} lines"
            for function, line, length in _functions(ast.parse(text)) if length > FUNCTION_LINES
        ]
    assert too_long == [], "split these (docs/architecture.md): " + "; ".join(too_long)


def test_no_comment_points_outside_the_repository():
    """The design notes are docs/architecture.md; the shared design file is not in the repository."""
    root = SOURCE.parents[1]
    files = [*SOURCE.rglob("*.py"), *(root / "tests").glob("*.py"), *(root / "bench").glob("*.py")]
    outside = "DESIGN" + ".md"  # spelled in two pieces so that this file does not find itself
    assert [str(path) for path in files if outside in path.read_text("utf-8")] == []


# -- a Query is a prompt alone, whatever its metadata holds ------------------------------------------


def test_a_query_with_an_output_key_renders_no_completion_in_any_format():
    registry, _ = load_registry(entry_points=False, formats_dir="")
    query = Query(instruction="Hi", output="LEAKED")
    assert query.metadata == {"output": "LEAKED"}
    for fmt in registry:
        rendered = fmt.render(query)
        assert rendered.completion == "" and "LEAKED" not in rendered.text, fmt.name
        assert rendered.prompt == fmt.render(Query(instruction="Hi")).prompt, fmt.name
        assert fmt.check(query) == fmt.check(Query(instruction="Hi")), fmt.name
        assert fmt.render(Record(instruction="Hi", output="x")).completion != "", fmt.name


# -- one error map: the same problem, the same exit code and message in every command -------------------


def _commands(target: str, tmp_path: Path) -> dict[str, list[str]]:
    return {
        "render": ["render", target, "-f", "alpaca"],
        "validate": ["validate", target],
        "convert": ["convert", target, "-o", str(tmp_path / "out.jsonl"), "--to", "phi3"],
        "detect": ["detect", target],
        "split": ["split", target, "--out-dir", str(tmp_path / "parts")],
        "import-template": ["import-template", target, "--name", "x"],
    }


@pytest.mark.parametrize("command", ["render", "validate", "convert", "detect", "split", "import-template"])
def test_a_missing_file_a_folder_and_an_unreadable_file_are_usage_errors_everywhere(cli, tmp_path, monkeypatch, command):
    missing = str(tmp_path / "nope.jsonl")
    result = cli(*_commands(missing, tmp_path)[command])
    assert (result.exit_code, result.stderr) == (2, f"Error: {missing}: no such file. Check the path.\n")

    result = cli(*_commands(str(tmp_path), tmp_path)[command])
    assert (result.exit_code, result.stderr) == (2, f"Error: {tmp_path}: is a folder, not a file (nor a datasets.save_to_disk folder).\n")

    locked = tmp_path / "locked.jsonl"
    locked.write_text(json.dumps({"instruction": "a", "output": "b"}) + "\n")

    def no_permission(path, *args, **kwargs):  # root reads every file: the refusal is simulated
        if str(path) == str(locked):
            raise PermissionError(13, "Permission denied", str(path))
        return builtins.open(path, *args, **kwargs)

    monkeypatch.setattr(paths, "open", no_permission, raising=False)
    result = cli(*_commands(str(locked), tmp_path)[command])
    assert (result.exit_code, result.stderr) == (2, f"Error: {locked}: permission denied.\n")


def test_version(cli):
    result = cli("--version")
    assert (result.exit_code, result.stdout) == (0, f"promptfmt {promptfmt.__version__}\n")


# -- the library raises plugin failures, never drops them ---------------------------------------------


@pytest.fixture
def broken_plugin(monkeypatch):
    eps = [EntryPoint("broken", "tests.no_such_plugin_module", plugins_module.ENTRY_POINT_GROUP)]
    monkeypatch.setattr(plugins_module, "_entry_points", lambda group: eps)
    monkeypatch.delenv(plugins_module.DISABLE_ENTRY_POINTS_ENV, raising=False)
    monkeypatch.setattr(batch_module, "_FORMATS", {})


def test_validate_without_a_registry_raises_a_broken_plugin(broken_plugin):
    with pytest.raises(PluginError, match="plugin 'broken' failed to load"):
        validate([{"instruction": "a", "output": "b"}])
    registry, failures = load_registry()
    assert [failure.plugin for failure in failures] == ["broken"]
    assert validate([{"instruction": "a", "output": "b"}], registry=registry).ok  # the caller's choice


def test_batch_functions_raise_a_broken_plugin(broken_plugin):
    with pytest.raises(PluginError, match="plugin 'broken' failed to load"):
        render_batch({"instruction": ["a"], "output": ["b"]}, format="phi3")
