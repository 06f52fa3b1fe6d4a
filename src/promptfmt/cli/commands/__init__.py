"""One module per command; each exposes ``register(app)``."""

from __future__ import annotations

import typer

from . import convert, detect, formats, import_template, render, schema, split, tokenize, validate

COMMANDS = (formats, render, schema, detect, import_template, validate, convert, split, tokenize)


def register_all(app: typer.Typer) -> None:
    for command in COMMANDS:
        command.register(app)
