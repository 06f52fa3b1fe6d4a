"""Hostile command-line options: each a usage error (exit 2), said in one message, never a crash."""

from __future__ import annotations

from pathlib import Path

from .case import OK, PLUGIN, USAGE, Case, Run
from .data import TEXT

CONVERT = ["convert", "in.jsonl", "-o", "out.jsonl"]
SPLIT = ["split", "in.jsonl", "-d", "parts"]
IMPORT = ["import-template", "t.jinja", "--name", "t"]

# a value that may also be taken as it is (exit 0): only never a crash
EITHER = {"convert-workers-huge", "split-tiny-shares", "import-template-time-limit-inf",
          "import-template-memory-limit-huge"}

# a format file the user named that cannot be read: a path (2) or a plugin that failed to load (3)
FORMAT_FILE = {"convert-empty-format-file"}

OPTIONS: dict[str, list[str]] = {
    "convert-workers-negative": [*CONVERT, "--workers", "-1"],
    "convert-workers-zero": [*CONVERT, "--workers", "0"],
    "convert-workers-huge": [*CONVERT, "--workers", "9" * 30],
    "validate-workers-word": ["validate", "in.jsonl", "--workers", "many"],
    "split-val-2": [*SPLIT, "--val", "2"],
    "split-negative-share": [*SPLIT, "--train", "1.5", "--test", "-0.5", "--val", "0"],
    "split-nan-share": [*SPLIT, "--train", "nan"],
    "split-infinite-share": [*SPLIT, "--train", "inf", "--test", "-inf", "--val", "0"],
    "split-tiny-shares": [*SPLIT, "--train", "1e-320", "--test", "1e-320", "--val", "1"],
    "convert-unknown-layout": [*CONVERT, "--layout", "nonsense"],
    "convert-unknown-input-layout": [*CONVERT, "--input-layout", "nonsense"],
    "convert-empty-to": [*CONVERT, "--to", ""],
    "convert-empty-from": [*CONVERT, "--from", "", "--layout", "alpaca"],
    "convert-to-with-newline": [*CONVERT, "--to", "phi3\nin.jsonl:1: forged"],
    "convert-to-huge-name": [*CONVERT, "--to", "x" * 100_000],
    "convert-layout-needs-format": [*CONVERT, "--layout", "text"],
    "convert-map-no-equals": [*CONVERT, "--map", "output"],
    "convert-map-empty-key": [*CONVERT, "--map", "output="],
    "convert-map-unknown-field": [*CONVERT, "--map", "colour=x"],
    "convert-unknown-ignore": [*CONVERT, "--ignore", "everything"],
    "convert-empty-format-file": [*CONVERT, "--format-file", ""],
    "render-empty-format": ["render", "in.jsonl", "-f", ""],
    "render-index-huge": ["render", "in.jsonl", "-f", "phi3", "--index", "9" * 40],
    "render-index-negative": ["render", "in.jsonl", "-f", "phi3", "--index", "-1"],
    "validate-unknown-profile": ["validate", "in.jsonl", "--profile", "nope"],
    "validate-unknown-ignore": ["validate", "in.jsonl", "--ignore", "nope"],
    "validate-max-issues-negative": ["validate", "in.jsonl", "--max-issues", "-1"],
    "validate-unknown-format": ["validate", "in.jsonl", "--format", "nope"],
    "detect-limit-zero": ["detect", "in.jsonl", "--limit", "0"],
    "schema-unknown-name": ["schema", "nope"],
    "unknown-command": ["frobnicate", "in.jsonl"],
    "unknown-option": ["validate", "in.jsonl", "--frobnicate"],
    "import-template-empty-name": [*IMPORT, "--name", ""],
    "import-template-var-no-equals": [*IMPORT, "--var", "x"],
    "import-template-token-no-equals": [*IMPORT, "--token", "sep_token"],
    "import-template-time-limit-nan": [*IMPORT, "--time-limit", "nan"],
    "import-template-time-limit-inf": [*IMPORT, "--time-limit", "inf"],
    "import-template-memory-limit-huge": [*IMPORT, "--memory-limit", "9" * 30],
    "import-template-max-size-nan": [*IMPORT, "--max-size", "nan"],
}


def _option_case(name: str, argv: list[str]) -> Case:
    def make(folder: Path) -> Run:
        (folder / "in.jsonl").write_bytes(TEXT)
        (folder / "t.jinja").write_text("{% for m in messages %}<|{{ m.role }}|>{{ m.content }}<|end|>{% endfor %}")
        return Run(argv, forbid=r"in\.jsonl:1: forged")

    expect = {OK, USAGE} if name in EITHER else {USAGE, PLUGIN} if name in FORMAT_FILE else {USAGE}
    return Case(name, make, frozenset(expect))


def cases() -> list[Case]:
    return [_option_case(name, argv) for name, argv in OPTIONS.items()]
