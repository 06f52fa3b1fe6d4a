"""``promptfmt schema``: print, write or check the JSON Schema generated from the record model."""

from __future__ import annotations

import typer

from ... import schemas


def schema(
    check: bool = typer.Option(False, "--check", help="Fail (exit 1) when the checked-in schema files drifted from the models."),
    write: bool = typer.Option(False, "--write", help="Regenerate the checked-in schema files under schemas/."),
) -> None:
    """Print the record JSON Schema (2020-12) generated from the pydantic model."""
    if check and write:
        raise typer.BadParameter("--check and --write exclude each other")
    if write:
        for path in schemas.write():
            typer.echo(f"wrote {path}", err=True)
        return
    if check:
        stale = schemas.drifted()
        if stale:
            typer.echo(f"Error: schemas/{', schemas/'.join(stale)} drifted from the models. Run: {schemas.REGENERATE}", err=True)
            raise typer.Exit(1)
        typer.echo("schemas are up to date", err=True)
        return
    typer.echo(schemas.dumps(schemas.generate()), nl=False)


def register(app: typer.Typer) -> None:
    app.command("schema")(schema)
