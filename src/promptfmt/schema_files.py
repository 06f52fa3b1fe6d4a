"""The checked-in JSON Schemas (``schemas/`` of the source tree, ``promptfmt/schemas`` of a wheel).

Core: reading them needs nothing else of promptfmt. `promptfmt.schemas` generates them from the
models and checks them for drift.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any


def source_dir() -> Path:
    """The ``schemas/`` folder of a source checkout (where ``--write`` writes)."""
    return Path(__file__).resolve().parents[2] / "schemas"


def load(name: str) -> dict[str, Any]:
    """A checked-in schema: from the installed package, else from the source checkout."""
    packaged = resources.files("promptfmt").joinpath("schemas").joinpath(name)
    if packaged.is_file():
        return json.loads(packaged.read_text(encoding="utf-8"))
    return json.loads((source_dir() / name).read_text(encoding="utf-8"))
