"""The JSON Schemas of promptfmt: generated from the pydantic models, checked in under ``schemas/``.

Regenerate the checked-in files with ``promptfmt schema --write`` (or ``make schemas``);
``promptfmt schema --check`` and the test suite fail when a file has drifted from its model.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from .conversation import Conversation
from .io import AtomicWriter
from .models import Record
from .schema_files import load, source_dir
from .templating.declarative import FormatFile
from .validation.report import Report

__all__ = ["GENERATED", "drifted", "dumps", "file_name", "generate", "load", "names", "source_dir", "write"]

DIALECT = "https://json-schema.org/draft/2020-12/schema"
REGENERATE = "promptfmt schema --write"

GENERATED: dict[str, type[BaseModel]] = {
    "record.schema.json": Record,
    "conversation.schema.json": Conversation,
    "format.schema.json": FormatFile,
    "report.schema.json": Report,
}


def file_name(name: str) -> str:
    """``record`` -> ``record.schema.json`` (a full file name is returned unchanged)."""
    return name if name.endswith(".schema.json") else f"{name}.schema.json"


def names() -> list[str]:
    """The short names of the generated schemas (``record``, ``format``, …), for ``promptfmt schema NAME``."""
    return [name.removesuffix(".schema.json") for name in GENERATED]


def generate(name: str = "record.schema.json") -> dict[str, Any]:
    """The schema that the model behind ``name`` defines today."""
    model = GENERATED[name]
    schema = model.model_json_schema(mode="validation")
    return {"$schema": DIALECT, "$id": f"https://promptfmt.dev/schemas/{name}", **schema}


def dumps(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def drifted(folder: Path | None = None) -> list[str]:
    """Names of the generated schemas whose checked-in file differs from the model."""
    folder = folder or source_dir()
    stale = []
    for name in GENERATED:
        path = folder / name
        if not path.is_file() or path.read_text(encoding="utf-8") != dumps(generate(name)):
            stale.append(name)
    return stale


def write(folder: Path | None = None) -> list[Path]:
    folder = folder or source_dir()
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name in GENERATED:
        path = folder / name
        with AtomicWriter(path) as writer:
            writer.write(dumps(generate(name)).encode("utf-8"))
        written.append(path)
    return written
