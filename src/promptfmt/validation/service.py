"""`validate`: a whole dataset (a file, ``-`` or values in memory) checked into one `Report`.

The file is read as `Item` values (`promptfmt.io`); JSON Lines goes block by block through
`Validator.check_block`, anything else item by item through `Validator.check`. With ``workers``
above 1, a plain JSON Lines file is validated in parts (`promptfmt.validation.parts`) with exactly
the report of one process.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

from ..io import JSONL, DatasetReader, Item, QuarantineWriter, refuse_overwrite
from ..io.ranges import can_split, ranges
from ..plugins import default_registry
from .parts import validate_in_parts
from .report import Report
from .validator import Validator

ProgressCallback = Callable[[int, "int | None", "int | None"], None]


def validate(
    source: str | os.PathLike[str] | Iterable[Any],
    *,
    stdin: Any = None,
    quarantine: str | os.PathLike[str] | None = None,
    on_progress: ProgressCallback | None = None,
    progress_every: int = 1024,
    workers: int = 1,
    **options: Any,
) -> Report:
    """Validate a dataset and return its `Report`.

    ``source`` is a path (JSON array or JSON Lines, gzip or not), ``-`` for ``stdin`` (default: the
    process's standard input), or an iterable of values (or `Item` objects) already in memory.
    ``quarantine`` names a JSON Lines file that receives every item with an error, unchanged, with
    its issues. ``on_progress(records, position, size)`` is called every ``progress_every`` items
    (``position`` and ``size`` in bytes of the file, None when unknown). The other ``options`` are
    those of `Validator` (``format``, ``mapping``, ``profile``, ``strict``, ``null_as_empty``,
    ``duplicates``, ``ignore``, ``max_issues``, ``registry``, ``on_issue``).

    ``workers`` > 1 validates a plain JSON Lines file in that many processes (cut at line ends), with
    the same report; other inputs, and ``strict`` with duplicates, are validated in this process.

    Raises a `promptfmt.errors.UsageError` for a path that cannot be read and for unusable options
    (`ValidateUsageError`, `promptfmt.records.mapping.MappingError`), a `promptfmt.errors.PluginError`
    when no ``registry`` is given and a plugin failed to load; problems inside the file are issues in
    the report, never exceptions.
    """
    reader: DatasetReader | None = None
    if isinstance(source, (str, os.PathLike)):
        if quarantine is not None:
            refuse_overwrite(os.fspath(source), [("--quarantine", os.fspath(quarantine))])
        reader = DatasetReader(source, stdin)
        items: Iterable[Item] = reader
        options.setdefault("source", reader.name)
    else:
        items = _items_of(source)
    try:
        if options.get("registry") is None:
            options["registry"] = default_registry()
        validator = Validator(**options)
        ranges = _ranges(reader, workers, options) if reader is not None else []
    except BaseException:
        if reader is not None:
            reader.close()
        raise
    writer = QuarantineWriter(quarantine) if quarantine is not None else None
    try:
        if len(ranges) > 1:
            assert reader is not None
            reader.close()
            worker_options = {k: v for k, v in options.items() if k not in ("on_issue", "max_issues")}
            validate_in_parts(reader.path, ranges, validator, worker_options, writer, on_progress)
        elif reader is not None and reader.layout == JSONL:
            _run_blocks(validator, reader, writer, on_progress)
        else:
            _run_items(validator, items, reader, writer, on_progress, progress_every)
    except BaseException:
        if writer is not None:
            writer.abort()
        raise
    finally:
        if reader is not None:
            reader.close()
    if writer is not None:
        writer.close()
    return validator.end()


def _ranges(reader: DatasetReader, workers: int, options: dict[str, Any]) -> list[tuple[int, int]]:
    """The byte ranges to validate in parallel (none when the file or the options do not allow it)."""
    if workers < 2 or (options.get("strict") and options.get("duplicates", True)):
        return []
    if can_split(reader.path) is not None:
        return []
    return ranges(reader.path, workers)


_SAMPLE_BYTES = 1 << 16


def _run_blocks(
    validator: Validator, reader: DatasetReader, writer: QuarantineWriter | None, on_progress: ProgressCallback | None
) -> None:
    for number, block in enumerate(reader.blocks()):
        if number == 0 and reader.size and len(block.data) >= _SAMPLE_BYTES:  # a sample worth scaling up
            validator.expect(reader.size * max(len(block.lines()), 1) // len(block.data))
        for checked in validator.check_block(block):
            if writer is not None and not checked.ok:
                writer.write(checked.item, [issue.as_dict() for issue in checked.issues])
        if on_progress is not None:
            on_progress(validator.records, reader.position, reader.size)


def _run_items(
    validator: Validator, items: Iterable[Item], reader: DatasetReader | None, writer: QuarantineWriter | None,
    on_progress: ProgressCallback | None, every: int,
) -> None:
    for item in items:
        checked = validator.check(item)
        if writer is not None and not checked.ok:
            writer.write(item, [issue.as_dict() for issue in checked.issues])
        if on_progress is not None and validator.records % every == 0:
            on_progress(validator.records, reader.position if reader else None, reader.size if reader else None)


def _items_of(values: Iterable[Any]) -> Iterable[Item]:
    for index, value in enumerate(values):
        yield value if isinstance(value, Item) else Item(index, None, value)


