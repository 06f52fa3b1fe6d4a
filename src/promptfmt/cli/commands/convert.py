"""``promptfmt convert``: a dataset in one layout and prompt style, written in another, nothing lost.

Exit codes: 0 when every record read was written (lossy ones included, counted in the summary),
1 when any record was quarantined (invalid, not convertible, or lossy with ``--strict``), 2 for
usage errors (options that do not fit, OUT equal to IN, ``--from auto`` undecided), 3 when a plugin
fails. The summary goes to stderr, or as one JSON document to stdout with ``--json``.
"""

from __future__ import annotations

from collections.abc import Iterator

import typer

from ...conversion import ConvertSummary, Plan, convert_parts, plan, run, scratch_folder
from ...conversion.plan import IGNORABLE
from ...format import Format
from ...io import JSON_OUT, STDOUT, DatasetReader, Item, Source
from ...io.ranges import auto_workers, can_split
from ...records.layouts import OUTPUT_LAYOUTS
from ...records.mapping import FieldMapping
from ..runs import check_options, counts, print_summary, writing
from ..shared import (
    DATASET_HELP,
    DROP_METADATA_OPTION,
    EXIT_DATA,
    FORMAT_FILE_OPTION,
    FROM_OPTION,
    INPUT_LAYOUT_OPTION,
    MAP_OPTION,
    OUTPUT_FORMAT_OPTION,
    OUTPUT_OPTION,
    PROFILE_OPTION,
    QUIET_OPTION,
    SUMMARY_JSON_OPTION,
    SWAP_OPTION,
    load_formats,
    lookup_format,
    parse_workers,
    plugin_command,
    terminated_as_interrupt,
    warn,
)

AUTO_MIN_BYTES = 32 << 20  # below this, forking costs more than it saves
AUTO_MAX_WORKERS = 4


def convert(
    file: str = typer.Argument(..., help=DATASET_HELP),
    output: str = OUTPUT_OPTION,
    to: str | None = typer.Option(None, "--to", metavar="FORMAT", help="Render in this format (text and prompt-completion layouts)."),
    source: str | None = FROM_OPTION,
    layout: str | None = typer.Option(
        None, "--layout", metavar="LAYOUT",
        help=f"Output layout: {', '.join(OUTPUT_LAYOUTS)}. Default: text with --to, alpaca without.",
    ),
    input_layout: str | None = INPUT_LAYOUT_OPTION,
    json_array: bool = typer.Option(False, "--json-array", help="Write one JSON array instead of JSON Lines."),
    output_format: str | None = OUTPUT_FORMAT_OPTION,
    quarantine: str | None = typer.Option(
        None, "--quarantine", metavar="FILE",
        help="Write every item that was not converted, unchanged, with its reasons, to this JSON Lines file.",
    ),
    strict: bool = typer.Option(False, "--strict", help="Quarantine records the output cannot carry exactly (lossy) instead of writing them."),
    drop_metadata: bool = DROP_METADATA_OPTION,
    null_as_empty: bool = typer.Option(False, "--null-as-empty", help='Treat null in a record field as "" instead of an error.'),
    maps: list[str] = MAP_OPTION,
    profile: str | None = PROFILE_OPTION,
    swap_when_empty: bool = SWAP_OPTION,
    ignore: list[str] = typer.Option(
        [], "--ignore", metavar="CODE",
        help="Do not apply this check (repeatable): an ignored error (empty-instruction, empty-output) no longer "
        "quarantines the record, which is written as it is; an ignored warning is not counted. Checks: "
        f"{', '.join(IGNORABLE)}.",
    ),
    strip_bos: bool = typer.Option(
        False, "--strip-bos",
        help="Write the text (text layout) or prompt (prompt-completion) without the format's leading BOS text "
        "(<|begin_of_text|>, <bos>, <s>), for a trainer whose tokenizer adds its own. Losslessness is still "
        "judged on the whole rendering.",
    ),
    as_json: bool = SUMMARY_JSON_OPTION,
    workers: str = typer.Option(
        "auto", "--workers", "-w", metavar="N|auto",
        help="Convert a JSON Lines file or JSON array in N processes (the output keeps the input order). "
        f"auto: one per CPU (at most {AUTO_MAX_WORKERS}) for such files over {AUTO_MIN_BYTES >> 20} MiB, else 1.",
    ),
    quiet: bool = QUIET_OPTION,
    format_files: list[str] = FORMAT_FILE_OPTION,
) -> None:
    """Convert a dataset between layouts and prompt styles: records, rendered text, chat messages.

    Items that cannot be converted go to --quarantine (or are listed on stderr), never to OUT;
    records the output cannot carry exactly are counted by reason (--strict quarantines them).
    The summary always shows read = written + quarantined. Exit 0 when everything was written,
    1 when anything was quarantined, 2 for usage errors.
    """
    kind = check_options(file, output, quarantine, as_json, output_format, json_array)
    asked = parse_workers(workers)
    mapping = FieldMapping.build(profile, maps)
    registry, failures = load_formats(format_files)
    target = lookup_format(registry, failures, to) if to is not None else None
    parser: Format | str | None = source if source in (None, "auto") else lookup_format(registry, failures, source)
    with terminated_as_interrupt(), DatasetReader(file) as reader:
        chosen, items = plan(
            iter(reader), output_layout=layout, target=target, source=parser, input_layout=input_layout,
            registry=registry, strict=strict, drop_metadata=drop_metadata, null_as_empty=null_as_empty,
            mapping=mapping, swap_when_empty=swap_when_empty, ignore=tuple(ignore), strip_bos=strip_bos,
        )
        for note in chosen.notes:
            warn(f"Warning: {note}")
        processes = _usable_workers(file, asked)
        if processes > 1:
            reader.close()
        summary = _run(chosen, items, reader, output, quarantine, kind, processes, quiet)
    _report(summary, Source(file).name, output, quarantine, as_json)
    if not summary.ok:
        raise typer.Exit(EXIT_DATA)


def _usable_workers(file: str, asked: int | None) -> int:
    """How many processes to convert ``file`` in: what was asked for, when the file can be cut."""
    if asked == 1:
        return 1
    if asked is None:
        return auto_workers(file, min_bytes=AUTO_MIN_BYTES, most=AUTO_MAX_WORKERS, arrays=True)
    reason = can_split(file, arrays=True)
    if reason is not None:
        warn(f"Warning: --workers {asked} ignored, converting in one process: {reason}.")
        return 1
    return asked


def _run(
    chosen: Plan, items: Iterator[Item], reader: DatasetReader, output: str, quarantine: str | None,
    kind: str, workers: int, quiet: bool,
) -> ConvertSummary:
    with writing(reader, output, kind, quarantine, quiet, "converting") as scene:
        if workers > 1:
            return convert_parts(
                reader.path, chosen, scene.sink, workers=workers, json_array=kind == JSON_OUT, quarantine=scene.refuse,
                progress=scene.progress.update, scratch=scratch_folder(output),
            )
        return run(chosen, items, scene.sink.write, quarantine=scene.refuse, progress=scene.update)


def _report(summary: ConvertSummary, source: str, output: str, quarantine: str | None, as_json: bool) -> None:
    if as_json:
        print_summary({"input": source, "output": output, "quarantine": quarantine, **summary.as_dict()})
        return
    into = summary.output_layout + (f", {summary.target_format}" if summary.target_format else "")
    came = summary.input_layout + (f", {summary.source_format}" if summary.source_format else "")
    where = "<stdout>" if output == STDOUT else output
    lines = [
        f"{source} ({came}) -> {where} ({into})",
        f"read {summary.read:,} = written {summary.written:,} + quarantined {summary.quarantined:,}",
    ]
    if summary.quarantined:
        kept = f" -> {quarantine}" if quarantine else ""
        lines.append(f"quarantined by reason: {counts(summary.quarantined_by_code)}{kept}")
    if summary.lossy_records:
        lines.append(f"lossy, written anyway: {summary.lossy_records:,} record(s): {counts(summary.lossy)}"
                     " (--strict quarantines them)")
    elif summary.strict and summary.quarantined_by_code.get("lossy-in-format"):
        lines.append("lossy records were quarantined (--strict)")
    if summary.warnings:
        lines.append(f"warnings (written anyway): {counts(summary.warnings)}")
    if summary.conversations:
        lines.append(f"conversations (several turns or a system message): {summary.conversations:,}")
    lines += _choices(summary)
    if summary.read == 0:
        lines.append(f"Warning: {source} holds no records.")
    warn("\n".join(lines))


def _choices(summary: ConvertSummary) -> list[str]:
    """What the options changed, and the BOS note."""
    lines = []
    if summary.swapped:
        lines.append(f"read with their input as the instruction (--swap-when-empty): {summary.swapped:,} record(s)")
    if summary.ignored:
        lines.append(f"checks not applied (--ignore): {', '.join(summary.ignored)}")
    if summary.bos is not None and summary.written:
        lines.append(
            f"Note: every {'text' if summary.output_layout == 'text' else 'prompt'} starts with the BOS text "
            f"{summary.bos!r}. A trainer that tokenizes plain text with add_special_tokens=True adds its own BOS "
            "token, and the model then trains on two; pass --strip-bos, or tokenize with add_special_tokens=False."
        )
    return lines


def register(app: typer.Typer) -> None:
    app.command("convert")(plugin_command(convert))
