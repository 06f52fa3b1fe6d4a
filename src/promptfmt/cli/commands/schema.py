"""``promptfmt schema [NAME]``: print, write or check the JSON Schemas generated from the pydantic models."""

from __future__ import annotations

import typer

from ... import schemas
from ...errors import UsageError
from ..shared import EXIT_DATA


def schema(
    name: str = typer.Argument(
        "record",
        help=f"Which schema to print: {', '.join(schemas.names())} (record: an instruction record; format: a declarative format file).",
    ),
    check: bool = typer.Option(False, "--check", help="Fail (exit 1) when the checked-in schema files drifted from the models."),
    write: bool = typer.Option(False, "--write", help="Regenerate the checked-in schema files under schemas/."),
) -> None:
    """Print a JSON Schema (2020-12) generated from its pydantic model; --check/--write cover every schema."""
    if check and write:
        raise UsageError("--check and --write exclude each other")
    if write:
        for path in schemas.write():
            typer.echo(f"wrote {path}", err=True)
        return
    if check:
        stale = schemas.drifted()
        if stale:
            typer.echo(f"Error: schemas/{', schemas/'.join(stale)} drifted from the models. Run: {schemas.REGENERATE}", err=True)
            raise typer.Exit(EXIT_DATA)
        typer.echo("schemas are up to date", err=True)
        return
    file_name = schemas.file_name(name)
    if file_name not in schemas.GENERATED:
        raise UsageError(f"unknown schema {name!r}; the schemas are: {', '.join(schemas.names())}")
    typer.echo(schemas.dumps(schemas.generate(file_name)), nl=False)


def register(app: typer.Typer) -> None:
    app.command("schema")(schema)
