"""Helpers shared by the test modules: the built-in formats, the shared reference data, CI.

The registry is built on first use (never as a side effect of importing a test module) and always
the same way: the built-ins alone, whatever the environment says about entry points and format
folders, so a user's ``PROMPTFMT_FORMATS_DIR`` cannot change which tests are collected.
"""

from __future__ import annotations

import json
import os
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from promptfmt import Format, FormatRegistry, load_registry

ROOT = Path(__file__).resolve().parents[1]

SHARED_DATA_ENV = "PROMPTFMT_SHARED_DATA"
# The third-party reference data: beside the repository unless PROMPTFMT_SHARED_DATA names it.
SHARED_DATA = Path(os.environ.get(SHARED_DATA_ENV) or ROOT.parent / "shared" / "data")

COURSE = "rasbt_llms_from_scratch_ch07/instruction-data.json"  # LLMs-from-scratch ch07: 1100 records


def in_ci() -> bool:
    """True when ``CI`` is set (to anything but an empty string, 0, false or no)."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def shared_data_folder() -> Path:
    """The shared reference data folder; skips the calling test without it, or fails it under CI.

    Every test that reads the shared data comes through here (the ``shared_data`` fixture), so a
    CI run can never pass by skipping the tests that compare with the references.
    """
    if SHARED_DATA.is_dir():
        return SHARED_DATA
    message = (
        f"shared reference data not found at {SHARED_DATA}: set {SHARED_DATA_ENV} to the folder "
        "(the default is ../shared/data beside the repository)"
    )
    if in_ci():
        pytest.fail(f"{message}; CI is set, so the tests that need it fail instead of skipping", pytrace=False)
    pytest.skip(message)


@cache
def builtin_registry() -> FormatRegistry:
    """promptfmt's built-in formats: no entry points, no format files, whatever the environment says."""
    registry, failures = load_registry(entry_points=False, formats_dir="")
    assert not failures, failures
    return registry


def builtin_formats() -> tuple[Format, ...]:
    return tuple(builtin_registry())


def builtin(name: str) -> Format:
    """The built-in format ``name`` (or alias)."""
    return builtin_registry().get(name)


def dumps(value: object) -> bytes:
    """One JSON line as a dataset holds it: UTF-8, non-ASCII kept, lone surrogates passed through."""
    return json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")


@cache
def shared_tokenizer(folder: str) -> Any:
    """promptfmt's `Tokenizer` of ``../shared/data/tokenizers/FOLDER``, loaded once per session (a
    Llama-3 tokenizer.json takes seconds to load); skips without the shared data, as every reader."""
    from promptfmt.tokens import load_tokenizer

    return load_tokenizer(str(shared_data_folder() / "tokenizers" / folder))
