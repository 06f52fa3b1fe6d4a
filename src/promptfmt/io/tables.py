"""Reading datasets stored as tables: Parquet files, Arrow IPC files (stream or file format) and the
folders ``datasets.save_to_disk`` writes. One `Item` per row, read a record batch at a time, so that
memory stays flat as the file grows.

A row is a JSON object with one key per column. Nested columns come out as JSON does (``messages``
as a list of objects); values JSON has no type for are written as text: dates and times in ISO
8601, decimals as their digits, binary data as UTF-8 text (or base64 when it is not UTF-8), NaN
and the infinities as ``"NaN"``, ``"Infinity"``, ``"-Infinity"`` (JSON has no such numbers). A file
that promptfmt wrote carries a footer (`promptfmt.io.columns.Footer`) that gives each row back
exactly as it was written. ``Item.line`` is the 1-based row number.
"""

from __future__ import annotations

import base64
import datetime
import decimal
import math
import os
from collections.abc import Iterator
from typing import Any

from ..errors import DataError, InputPathError, one_line
from .arrowlib import pyarrow
from .columns import Footer, FooterError, reorder, restore
from .items import IO_ERRORS, TOO_LARGE, Block, Item, Source, decode
from .jsonout import ENCODE_ERRORS, encode_lines
from .limits import limits

PARQUET, ARROW = "parquet", "arrow"
PARQUET_MAGIC = b"PAR1"
ARROW_FILE_MAGIC = b"ARROW1"
ARROW_STREAM_MAGIC = b"\xff\xff\xff\xff"  # the continuation marker that starts an IPC stream
BATCH_ROWS = 4096
STATE_FILE = "state.json"  # datasets.save_to_disk: the dataset's files, in order
SPLITS_FILE = "dataset_dict.json"  # DatasetDict.save_to_disk: one folder per split


def table_kind(path: str, head: bytes) -> str | None:
    """``parquet`` or ``arrow`` when the file (first bytes ``head``) or folder holds a table, else None."""
    if os.path.isdir(path):
        return ARROW
    if head.startswith(PARQUET_MAGIC):
        return PARQUET
    if head.startswith((ARROW_FILE_MAGIC, ARROW_STREAM_MAGIC)):
        return ARROW
    return None


class TableReader:
    """The rows of one Parquet file, Arrow IPC file or ``save_to_disk`` folder, as items."""

    def __init__(self, path: str, kind: str) -> None:
        self.path = path
        self.kind = kind
        self.name = Source(path).name
        self._pa = pyarrow()
        self.rows: int | None = None
        self.position = 0  # rows read so far
        self._files = _arrow_files(path, self.name) if os.path.isdir(path) else [path]
        self._parquet: Any = None
        self._closing: list[Any] = []
        self._footer_error: str | None = None
        if kind == PARQUET:
            # read, not mapped: mapped pages count as resident memory, which would then grow with the file
            self._parquet = self._opened(lambda: self._pa.parquet.ParquetFile(path, memory_map=False, pre_buffer=False))
            self.rows = self._parquet.metadata.num_rows
            self.footer = self._footer(self._parquet.metadata.metadata)
        else:
            first = self._ipc(self._files[0])
            self.footer = self._footer(first.schema.metadata)
            self._first: Any = first

    def _footer(self, metadata: dict[bytes, bytes] | None) -> Footer | None:
        try:
            return Footer.read(metadata)
        except FooterError as exc:  # reported as the first item, where the rows would be
            self._footer_error = one_line(str(exc))
            return None

    def _opened(self, open_: Any) -> Any:
        try:
            return open_()
        except (self._pa.ArrowException, *IO_ERRORS) as exc:
            raise DataError(self.name, f"cannot be read as {self.kind.capitalize()}: {_reason(exc)}. "
                            "Re-download or re-export it.") from None

    def _ipc(self, path: str) -> Any:
        """An IPC reader of ``path``: the file format (random access) or the stream format."""
        pa = self._pa

        def open_() -> Any:
            source = pa.OSFile(path)  # not mapped: mapped pages count as resident and grow with the file
            self._closing.append(source)
            if source.read(len(ARROW_FILE_MAGIC)) == ARROW_FILE_MAGIC:
                return pa.ipc.open_file(source)
            source.seek(0)
            return pa.ipc.open_stream(source)

        return self._opened(open_)

    def close(self) -> None:
        for source in self._closing:
            source.close()
        self._closing.clear()
        if self._parquet is not None:
            self._parquet.close()

    def __iter__(self) -> Iterator[Item]:
        index = 0
        try:
            if self._footer_error is not None:
                raise _DamagedFooter(self._footer_error)
            for batch in self._batches():
                rows = table_rows(batch)
                try:
                    restore(rows, self.footer)
                    reorder(rows, index, self.footer)
                except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
                    raise _DamagedFooter(exc) from None
                names = batch.schema.names
                repeated = tuple(sorted({name for name in names if names.count(name) > 1}))  # one value kept
                block = rows_block(rows, index + 1)
                for row in rows:
                    yield Item(index, index + 1, row, block=block, duplicates=repeated)
                    index += 1
                self.position = index
        except _TooLarge as exc:
            megabytes = limits.max_record_bytes / (1 << 20)
            yield Item(index, index + 1, code=TOO_LARGE, error=(
                f"the {exc.rows:,} row(s) from here (a row group) hold {exc.size:,} bytes once decompressed: at least one is over the "
                f"limit of {megabytes:g} MiB for one record, so they were not read, nor the rest of the file. If "
                "the rows are real, raise the limit (--max-record-mb)."))
        except _DamagedFooter as exc:
            yield Item(index, index + 1, code="unreadable", error=(
                f"promptfmt's metadata in the file does not fit its rows from row {index + 1:,} on ({exc}): the "
                "file was changed after promptfmt wrote it; the rest of it was not read. Write it again."))
        except (self._pa.ArrowException, *IO_ERRORS) as exc:
            yield Item(index, index + 1, code="unreadable", error=(
                f"the file cannot be read from row {index + 1:,} on ({_reason(exc)}); the rest of it was not "
                "checked. Re-download or re-export it."))
        finally:
            self.close()

    def _batches(self) -> Iterator[Any]:
        if self._parquet is not None:
            metadata = self._parquet.metadata
            for number in range(metadata.num_row_groups):
                group = metadata.row_group(number)
                if group.total_byte_size > max(group.num_rows, 1) * limits.max_record_bytes:  # decompressed
                    raise _TooLarge(group.total_byte_size, group.num_rows)
                yield from self._parquet.iter_batches(batch_size=BATCH_ROWS, row_groups=[number])
            return
        for number, path in enumerate(self._files):
            reader = self._first if number == 0 else self._ipc(path)
            if hasattr(reader, "num_record_batches"):
                batches: Iterator[Any] = (reader.get_batch(k) for k in range(reader.num_record_batches))
            else:
                batches = iter(reader)
            for batch in batches:  # a writer's batches may be large: rows become dicts a slice at a time
                for start in range(0, batch.num_rows, BATCH_ROWS):
                    yield batch.slice(start, BATCH_ROWS)


class _TooLarge(Exception):
    """A row group bigger than its rows may be (read, it would hold more than the bound)."""

    def __init__(self, size: int, rows: int) -> None:
        self.size, self.rows = size, rows


class _DamagedFooter(Exception):
    """The footer names columns, texts or rows the file does not have as it says."""


def _arrow_files(folder: str, name: str) -> list[str]:
    """The Arrow files of a ``save_to_disk`` folder, in order."""
    state = os.path.join(folder, STATE_FILE)
    splits = os.path.join(folder, SPLITS_FILE)
    if not os.path.isfile(state):
        if os.path.isfile(splits):
            found = sorted(entry for entry in os.listdir(folder) if os.path.isfile(os.path.join(folder, entry, STATE_FILE)))
            raise InputPathError(folder, f"holds the splits {', '.join(found) or '(none)'} of a dataset; give one of "
                                 f"them: {os.path.join(folder, found[0] if found else 'train')}")
        raise InputPathError(folder, "is a folder, not a file (a datasets.save_to_disk folder holds state.json).")
    try:
        with open(state, "rb") as file:
            files = [entry["filename"] for entry in decode(file.read())["_data_files"]]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DataError(f"{name}/{STATE_FILE}", f"is not the state of a datasets folder ({_reason(exc)}).") from None
    if not all(isinstance(file, str) for file in files):
        raise DataError(f"{name}/{STATE_FILE}", "is not the state of a datasets folder (a file name is not text).")
    paths = [os.path.join(folder, file) for file in files]
    if not paths:
        raise DataError(f"{name}/{STATE_FILE}", "lists no data files.")
    root = os.path.realpath(folder)
    for file, path in zip(files, paths):
        if "\0" in file or os.path.commonpath([root, os.path.realpath(path)]) != root:  # ../, /abs, a link out
            raise DataError(f"{name}/{STATE_FILE}", f"lists '{one_line(file)}', which is not in the folder: promptfmt "
                            "reads only a datasets folder's own files.")
        if not os.path.isfile(path):
            raise DataError(Source(path).name, f"is listed in {STATE_FILE} but missing. Re-save the dataset.")
    return paths


def rows_block(rows: list[dict[str, Any]], first_row: int) -> Block | None:
    """The rows as a `Block` of JSON Lines, one line a row: validation's cheap scan of a block then
    settles clean records at C speed, as it does for JSON Lines. None when a row has no JSON form."""
    try:
        return Block(encode_lines(rows), first_row)
    except ENCODE_ERRORS:  # a lone surrogate read from JSON text: the row is checked on its own
        return None


def table_rows(batch: Any) -> list[dict[str, Any]]:
    """The rows of a record batch (or table) as dicts (a column at a time: faster than row by row)."""
    names = batch.schema.names
    columns = []
    for number, column in enumerate(batch.columns):
        values = column.to_pylist()
        if not _json_native(batch.schema.field(number).type):
            values = [_json_value(value) for value in values]
        columns.append(values)
    return [dict(zip(names, values)) for values in zip(*columns)] if columns else [{} for _ in range(batch.num_rows)]


def _json_native(type_: Any) -> bool:
    """Whether every value of an Arrow type comes out of ``to_pylist`` as a JSON value."""
    pa = pyarrow()
    types = pa.types
    if types.is_null(type_) or types.is_boolean(type_) or types.is_integer(type_):
        return True  # not floating: NaN and the infinities are no JSON numbers (see _json_value)
    if types.is_string(type_) or types.is_large_string(type_) or getattr(types, "is_string_view", lambda _: False)(type_):
        return True
    if types.is_dictionary(type_):
        return _json_native(type_.value_type)
    if types.is_list(type_) or types.is_large_list(type_) or types.is_fixed_size_list(type_):
        return _json_native(type_.value_type)
    if types.is_struct(type_):
        return all(_json_native(type_.field(k).type) for k in range(type_.num_fields))
    return False


def _json_value(value: Any) -> Any:
    """A value of a type JSON does not have, as JSON: see the module's docstring."""
    if isinstance(value, dict):
        return {str(key): _json_value(item) for key, item in value.items()}
    if isinstance(value, list):
        if value and all(isinstance(pair, tuple) and len(pair) == 2 for pair in value):  # a map column
            return {str(key): _json_value(item) for key, item in value}
        return [_json_value(item) for item in value]
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):  # JSON has no NaN: text, as Python's json writes it
        return "NaN" if value != value else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, bytes):
        try:
            return value.decode()
        except UnicodeDecodeError:
            return base64.b64encode(value).decode()
    return value


def _reason(exc: BaseException) -> str:
    lines = (str(exc) or type(exc).__name__).strip().splitlines()
    return one_line(lines[0] if lines else type(exc).__name__).rstrip(".")
