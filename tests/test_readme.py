"""The README is tested: its Python example runs and every registered format is documented."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from .helpers import builtin_registry

README = (Path(__file__).resolve().parents[1] / "README.md").read_text("utf-8")


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README, flags=re.S)


def test_python_examples_run_and_their_comments_hold():
    assert python_blocks(), "the README has a Python example"
    for block in python_blocks():
        namespace: dict = {}
        for line in block.splitlines():
            code, _, comment = line.partition("  # ")
            exec(code, namespace)
            try:
                expected = ast.literal_eval(comment.strip())
            except (ValueError, SyntaxError):
                continue
            if isinstance(expected, (str, bool)) and "=" not in code.split("(")[0]:
                assert eval(code, namespace) == expected, line


def test_every_registered_format_is_documented():
    missing = [fmt.name for fmt in builtin_registry() if f"`{fmt.name}`" not in README]
    assert not missing, f"formats missing from README.md: {missing}"


def test_quick_start_is_exactly_two_commands():
    quick = README.split("## Quick start", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    assert [line.split("#")[0].strip() for line in quick.strip().splitlines()] == ["make demo", "make test"]


def test_demo_validates_and_renders_in_two_formats(tmp_path):
    """`make demo` runs examples/demo.py: a summary of validation and of two renderings."""
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    result = subprocess.run([sys.executable, str(root / "examples" / "demo.py")], capture_output=True,
                            text=True, check=False, env={"PROMPTFMT_DISABLE_ENTRY_POINTS": "1", "PATH": ""})
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "validated examples/instructions.jsonl: 34 records, 34 valid, 0 errors, 3 warnings"
    assert any(line.startswith("rendered in alpaca: read 34 = written 34 + quarantined 0") for line in lines)
    assert any(line.startswith("rendered in phi3: read 34 = written 34 + quarantined 0; lossy: 1 separator") for line in lines)
    assert "whitespace-only-input" in result.stdout and "template-marker" in result.stdout
