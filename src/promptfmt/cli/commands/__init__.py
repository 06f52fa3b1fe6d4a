"""One module per command; each exposes ``register(app)``."""

from __future__ import annotations

import typer

from . import detect, formats, render, schema

COMMANDS = (formats, render, schema, detect)


def register_all(app: typer.Typer) -> None:
    for command in COMMANDS:
        command.register(app)
