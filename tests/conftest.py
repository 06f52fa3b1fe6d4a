"""Shared fixtures and the Hypothesis profiles: quick locally, deeper when CI is set.

Before anything is collected, the plugin settings of the environment are cleared: test modules
parametrize over the registered formats, and a user's ``PROMPTFMT_FORMATS_DIR`` (or entry-point
plugins, or a blocked built-in) must not change which tests exist.
"""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path

# At import time, before any test module is imported (and collected).
os.environ.pop("PROMPTFMT_FORMATS_DIR", None)
os.environ.pop("PROMPTFMT_BLOCK_PLUGINS", None)
os.environ["PROMPTFMT_DISABLE_ENTRY_POINTS"] = "1"

import pytest
from hypothesis import HealthCheck, settings

from .helpers import in_ci, shared_data_folder

settings.register_profile("quick", max_examples=60, deadline=None)
settings.register_profile(
    "ci", max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if in_ci() else "quick"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The third-party reference data (never copied into the project), from ``PROMPTFMT_SHARED_DATA``
    or ``../shared/data``: tests skip without it, and fail when ``CI`` is set."""
    return shared_data_folder()


@pytest.fixture(autouse=True)
def _no_entry_points(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests see the built-ins only, unless a test opts back in to entry-point discovery
    (again for each test: a test may change the environment without monkeypatch)."""
    monkeypatch.setenv("PROMPTFMT_DISABLE_ENTRY_POINTS", "1")
    monkeypatch.delenv("PROMPTFMT_BLOCK_PLUGINS", raising=False)
    monkeypatch.delenv("PROMPTFMT_FORMATS_DIR", raising=False)


class CliResult:
    def __init__(self, exit_code: int, stdout: str, stderr: str) -> None:
        self.exit_code, self.stdout, self.stderr = exit_code, stdout, stderr

    def __repr__(self) -> str:
        return f"CliResult(exit_code={self.exit_code}, stdout={self.stdout[:200]!r}, stderr={self.stderr[:400]!r})"


@pytest.fixture
def cli(monkeypatch):
    """Run ``promptfmt ARGS`` in process through the console-script entry point (`promptfmt.cli.main`).

    Standard streams are replaced by in-memory ones for the call (stdin from ``input``).
    """
    from promptfmt.cli import main

    def run(*args: str, input: str | bytes | None = None) -> CliResult:
        data = input.encode("utf-8") if isinstance(input, str) else (input or b"")
        streams = {
            "stdin": io.TextIOWrapper(io.BytesIO(data), encoding="utf-8"),
            "stdout": io.TextIOWrapper(io.BytesIO(), encoding="utf-8", newline=""),
            "stderr": io.TextIOWrapper(io.BytesIO(), encoding="utf-8", newline=""),
        }
        with monkeypatch.context() as patch:
            for name, stream in streams.items():
                patch.setattr(sys, name, stream)
            try:
                main(list(args))
                code = 0
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            for name in ("stdout", "stderr"):
                streams[name].flush()
        out, err = (streams[name].buffer.getvalue().decode("utf-8") for name in ("stdout", "stderr"))
        return CliResult(code, out, err)

    return run
