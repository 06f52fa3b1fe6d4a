"""``promptfmt split``: train, test and validation files from one dataset.

Exit codes: 0 when every item was placed, 1 when items that are not valid JSON were refused (they
are listed, or written to --quarantine), 2 for usage errors (fractions that do not sum to 1 ...).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import orjson
import typer

from ...errors import OutputError
from ...io import (
    ARROW_OUT,
    JSON_OUT,
    JSONL_OUT,
    PARQUET_OUT,
    DatasetReader,
    QuarantineWriter,
    Source,
    input_unit,
    open_outputs,
    refuse_overwrite,
    require_input,
    writers,
)
from ...splitting import Fractions, Split, SplitUsageError
from ...splitting import split as split_items
from ...validation.issues import ERROR, Issue
from ..shared import DATASET_HELP, EXIT_DATA, warn


def split(
    file: str = typer.Argument(..., help=DATASET_HELP),
    out_dir: str = typer.Option(..., "--out-dir", "-d", metavar="DIR", help="The folder for train, test and val files (created if missing)."),
    train: float = typer.Option(0.85, "--train", help="Share of the items for training (the first ones unless --shuffle)."),
    test: float = typer.Option(0.10, "--test", help="Share of the items for testing (the next ones)."),
    val: float = typer.Option(0.05, "--val", help="Share for validation (the rest). The three must sum to 1."),
    shuffle: bool = typer.Option(False, "--shuffle", help="Shuffle before splitting, reproducibly (see --seed)."),
    seed: int | None = typer.Option(None, "--seed", help="The random seed of --shuffle (default 0)."),
    json_array: bool = typer.Option(False, "--json-array", help="Write train.json, test.json, val.json as JSON arrays instead of JSON Lines."),
    asked_format: str | None = typer.Option(
        None, "--output-format", metavar="KIND",
        help="parquet: write train.parquet, test.parquet, val.parquet; arrow: train/, test/, val/ as datasets.save_to_disk "
        "folders; json: the same as --json-array.",
    ),
    quarantine: str | None = typer.Option(None, "--quarantine", metavar="FILE", help="Write the items that are not valid JSON to this JSON Lines file."),
    as_json: bool = typer.Option(False, "--json", help="Print the counts as one JSON document on stdout."),
) -> None:
    """Split a dataset as LLMs-from-scratch ch. 7 does: first 85 % train, next 10 % test, the rest val.

    Items are copied unchanged (any layout). The whole dataset is held in memory, as compact JSON.
    """
    kind = writers.output_format("split", asked_format, json_array=json_array)
    suffix = {JSONL_OUT: ".jsonl", JSON_OUT: ".json", PARQUET_OUT: ".parquet", ARROW_OUT: ""}[kind]
    if seed is not None and not shuffle:
        raise SplitUsageError("--seed only applies with --shuffle")
    fractions = Fractions(train, test, val)
    paths = {name: str(Path(out_dir) / f"{name}{suffix}") for name in fractions.used()}  # a part of 0: no file
    with _out_dir(out_dir):
        _prepare(file, out_dir, paths, quarantine, folders=kind == ARROW_OUT)
        with DatasetReader(file) as reader:
            result = split_items(reader, fractions, seed=(seed or 0) if shuffle else None)
        parts = result.parts()
        with open_outputs(list(paths.values()), kind=kind) as sinks:
            for sink, name in zip(sinks, paths):
                for data in parts[name]:
                    sink.write_raw_line(data + b"\n")
    source = Source(file).name
    _refused(result, source, quarantine, input_unit(file))
    _report(result, source, paths, as_json, Path(out_dir), suffix)
    if result.refused:
        raise typer.Exit(EXIT_DATA)


@contextmanager
def _out_dir(path: str) -> Iterator[None]:
    """The run inside ``--out-dir``: a folder this run created is removed again when the run fails
    before writing anything into it."""
    created = not os.path.lexists(path)
    try:
        yield
    except BaseException:
        if created:
            with suppress(OSError):
                os.rmdir(path)  # only when still empty
        raise


def _prepare(file: str, out_dir: str, paths: dict[str, str], quarantine: str | None, *, folders: bool) -> None:
    require_input(file)
    if quarantine == "-":
        raise OutputError("the quarantine must be a file, not -")
    try:
        Path(out_dir).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"--out-dir {out_dir}: cannot create the folder ({exc.strerror or exc}).") from None
    outputs = [(f"--out-dir {out_dir} ({name})", path) for name, path in paths.items()]
    if folders:  # train/, test/, val/ are folders; the quarantine is a file
        refuse_overwrite(file, outputs, folders=True)
        refuse_overwrite(file, [("--quarantine", quarantine)])
    else:
        refuse_overwrite(file, [*outputs, ("--quarantine", quarantine)])


def _refused(result: Split, source: str, quarantine: str | None, unit: str) -> None:
    refused = result.refused
    if quarantine is not None:
        with QuarantineWriter(quarantine) as writer:
            for item in refused:
                issue = Issue(item.code, ERROR, item.index, item.line, "$", item.error or "", column=item.column)
                writer.write(item, [issue.as_dict()])
        return
    for item in refused:
        warn(Issue(item.code, ERROR, item.index, item.line, "$", item.error or "").format(source, unit))


def _report(result: Split, source: str, paths: dict[str, str], as_json: bool, out_dir: Path, suffix: str) -> None:
    counts = result.counts()
    read, refused, seed = result.read, len(result.refused), result.seed
    if as_json:
        document = {"input": source, "read": read, **counts, "refused": refused, "shuffled": seed is not None,
                    "seed": seed, "files": paths}
        sys.stdout.write(orjson.dumps(document, option=orjson.OPT_INDENT_2).decode() + "\n")
        return
    order = "shuffled with seed " + str(seed) if seed is not None else "in file order"
    lines = [f"{source}: {read:,} item(s), {order}"]
    for name, count in counts.items():
        if name in paths:
            lines.append(f"  {name:<5} {count:>9,}  {paths[name]}")
            continue
        stale = out_dir / f"{name}{suffix}"
        left = f"; the {stale} already there is left as it was" if stale.exists() else ""
        lines.append(f"  {name:<5} {count:>9,}  no file written (--{name} 0){left}")
    if refused:
        lines.append(f"  refused {refused:,} item(s) that are not valid JSON")
    warn("\n".join(lines))


def register(app: typer.Typer) -> None:
    app.command("split")(split)
