"""One module per command; each exposes ``register(app)``."""

from __future__ import annotations

import typer

from . import convert, detect, formats, import_template, render, schema, split, validate

COMMANDS = (formats, render, schema, detect, import_template, validate, convert, split)


def register_all(app: typer.Typer) -> None:
    for command in COMMANDS:
        command.register(app)
