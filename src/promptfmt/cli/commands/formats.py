"""``promptfmt formats``: every registered format with its aliases, description, reference and plugin.

The plugin says where a format came from: a built-in module (``promptfmt.formats.alpaca``), an
installed package's entry point (``openchat``, origin ``package promptfmt-openchat 0.1.0``) or a
declarative file (``file:PATH``, from ``--format-file`` or ``PROMPTFMT_FORMATS_DIR``).
"""

from __future__ import annotations

import json

import typer

from ..shared import EXIT_PLUGIN, FORMAT_FILE_OPTION, data_out, load_formats, plugin_command


def formats(
    as_json: bool = typer.Option(False, "--json", help="Print one JSON array instead of a table."),
    format_files: list[str] = FORMAT_FILE_OPTION,
) -> None:
    """List the registered formats (built-in and plugin ones)."""
    registry, failures = load_formats(format_files, named_files_required=False)
    rows = [
        {
            "name": entry.format.name,
            "aliases": list(entry.format.aliases),
            "description": entry.format.description,
            "reference": entry.format.reference,
            "plugin": entry.plugin,
            "origin": registry.origin(entry.plugin),
        }
        for entry in registry.entries()
    ]
    if as_json:
        typer.echo(json.dumps(rows, indent=2, ensure_ascii=False), file=data_out())
    else:
        for row in rows:
            aliases = f" (aliases: {', '.join(row['aliases'])})" if row["aliases"] else ""
            typer.echo(f"{row['name']}{aliases}\n  {row['description']}\n  reference: {row['reference']}\n  plugin: {row['plugin']} ({row['origin']})",
                       file=data_out())
    if failures:
        raise typer.Exit(EXIT_PLUGIN)


def register(app: typer.Typer) -> None:
    app.command("formats")(plugin_command(formats))
