"""``promptfmt render``: render the records of a dataset in one format."""

from __future__ import annotations

import sys

import orjson
import typer

from ...io import Source, read_items, require_input
from ...records.fields import to_record
from ..shared import EXIT_DATA, EXIT_USAGE, FORMAT_FILE_OPTION, load_format, warn


def render(
    file: str = typer.Argument(..., help="A JSON array or JSON Lines file of records (gzip allowed), or - for stdin."),
    format_name: str = typer.Option(..., "--format", "-f", help="The format to render in (see 'promptfmt formats')."),
    index: int | None = typer.Option(None, "--index", "-n", min=0, help="Render only the record at this 0-based index."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per record: prompt, completion, text."),
    format_files: list[str] = FORMAT_FILE_OPTION,
) -> None:
    """Render records; invalid ones are reported on stderr (FILE:LINE: record N: field: message), exit 1."""
    require_input(file)
    fmt = load_format(format_name, format_files)
    source = Source(file)
    invalid = seen = 0
    out = sys.stdout
    for item in read_items(file):
        seen += 1
        if index is not None and item.index != index:
            continue
        if item.error is not None:
            warn(f"{source.name}:{item.line}: record {item.index}: $: invalid-json: {item.error}")
            invalid += 1
            continue
        record = to_record(item.value)
        if isinstance(record, list):
            for problem in record:
                warn(f"{source.name}:{item.line}: record {item.index}: {problem.field}: {problem.code}: {problem.message}")
            invalid += 1
            continue
        rendered = fmt.render(record)
        if as_json:
            out.write(orjson.dumps(rendered.as_dict()).decode() + "\n")
        else:
            out.write(("" if index is not None or item.index == 0 else "\n") + rendered.text + "\n")
    if index is not None and index >= seen:
        warn(f"Error: there is no record {index}: {source.name} has {seen} record(s) (indexes start at 0).")
        raise typer.Exit(EXIT_USAGE)
    if invalid:
        warn(f"{invalid} invalid record(s) were not rendered. Run 'promptfmt validate {file}' for every finding.")
        raise typer.Exit(EXIT_DATA)


def register(app: typer.Typer) -> None:
    app.command("render")(render)
