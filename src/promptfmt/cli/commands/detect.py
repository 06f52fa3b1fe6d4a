"""``promptfmt detect``: name the format that rendered a dataset of texts.

Exit codes: 0 when one format is named (its name is printed on stdout), 1 when no format renders
every text or several do so alike (stderr says which), 2 for usage errors. A format whose plugin
fails on a text is skipped with a warning naming it (``skipped_formats`` in ``--json``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import typer

from ...detect import Detection, detect_format, text_of
from ...io import Source, input_unit, read_items, require_input
from ...validation.issues import located
from ..shared import EXIT_DATA, FORMAT_FILE_OPTION, HUB_HELP, data_out, load_formats, plugin_command, warn

ITEM_SHAPES = 'a string, {"text": ...}, {"prompt": ..., "completion": ...} or {"segments": [...]}'


def detect(
    file: str = typer.Argument(
        ...,
        help=f"A dataset of rendered texts, each {ITEM_SHAPES} (JSON Lines, JSON array, Parquet, Arrow, CSV), "
        + HUB_HELP + ", or - for stdin.",
    ),
    limit: int | None = typer.Option(None, "--limit", "-n", min=1, help="Examine at most this many texts (default: all)."),
    as_json: bool = typer.Option(False, "--json", help="Print the verdict as one JSON object on stdout."),
    format_files: list[str] = FORMAT_FILE_OPTION,
) -> None:
    """Name the format of rendered text: the one format that renders every text exactly.

    Prints the name (exit 0). Exit 1 when no format renders every text, or when several do alike (they are named).
    """
    require_input(file)
    registry, _ = load_formats(format_files)
    source = Source(file)
    skipped: list[int] = []
    detection = detect_format(_texts(file, source.name, skipped), registry, limit=limit)
    for failed in detection.skipped:
        warn(f"Warning: format {failed.format} skipped at text {failed.index}: {failed.reason}")
    if as_json:
        typer.echo(json.dumps(_as_dict(detection, len(skipped)), ensure_ascii=False), file=data_out())
    elif detection.name is not None:
        typer.echo(detection.name, file=data_out())
    if skipped:
        shown = f"the first {SHOWN_SKIPPED} above" if len(skipped) > SHOWN_SKIPPED else "see above"
        warn(f"{len(skipped)} item(s) were not texts and were skipped ({shown}).")
    if detection.name is not None:
        warn(f"{source.name}: {detection.describe()}.")
        return
    warn(f"Error: {source.name}: {detection.describe()}.")
    raise typer.Exit(EXIT_DATA)


SHOWN_SKIPPED = 20  # items reported one by one; the count says how many more


def _texts(path: str, name: str, skipped: list[int]) -> Iterator[str]:
    """The texts of the dataset; items that hold none are reported with their location (the first
    `SHOWN_SKIPPED` of them) and skipped."""
    unit = input_unit(path)
    for item in read_items(path):
        if item.error is not None:
            problem = f"{item.code}: {item.error}"
        else:
            text = text_of(item.value)
            if text is not None:
                yield text
                continue
            problem = f"not a text: expected {ITEM_SHAPES}"
        if len(skipped) < SHOWN_SKIPPED:
            warn(f"{located(name, item.line, unit)}: item {item.index}: {problem}")
        skipped.append(item.index)


def _as_dict(detection: Detection, skipped: int) -> dict[str, object]:
    return {
        "format": detection.name,
        "ambiguous": detection.ambiguous,
        "candidates": list(detection.candidates),
        "also_accepted": list(detection.also_accepted),
        "examined": detection.examined,
        "skipped": skipped,
        "rejections": [
            {"format": rejection.format, "index": rejection.index, "offset": rejection.offset, "reason": rejection.reason}
            for rejection in detection.rejections
        ],
        "skipped_formats": [
            {"format": failed.format, "plugin": failed.plugin, "index": failed.index, "reason": failed.reason}
            for failed in detection.skipped
        ],
    }


def register(app: typer.Typer) -> None:
    app.command("detect")(plugin_command(detect))
