"""Writing Parquet: items as typed columns (`promptfmt.io.columns`), in row groups, streamed.

Items are gathered in batches of `BATCH_ROWS` and turned into Arrow record batches; batches are
written as one row group once they hold `ROW_GROUP_BYTES` of Arrow data or `ROW_GROUP_ROWS` rows,
so memory stays flat however long the dataset is. The first batch decides the columns and their
types. A later item that does not fit them (a new key, a value of another type, an explicit null
where keys were absent) changes the schema: the row groups written so far are rewritten in the new
one, column by column, so that nothing is ever cut or changed to fit.

The file is built in an unnamed temporary file (next to the output, or in the temporary folder for
standard output and devices) and copied to the output stream by `finish`: the output itself is an
`AtomicWriter` like every other, so an interrupted run leaves nothing.
"""

from __future__ import annotations

import gc
import operator
import os
import shutil
import tempfile
from collections.abc import Iterable
from typing import IO, Any, NoReturn

from ..errors import WriteError, os_reason
from .arrowlib import pyarrow
from .columns import (
    ABSENT,
    FOOTER_KEY,
    Column,
    Footer,
    KeyOrders,
    fits_fixed,
    fixed_type,
    infer_array,
    json_array,
    typed_array,
)
from .folder_out import DatasetFolder, write_folder
from .jsonl import own_line, own_lines

BATCH_ROWS = 8192
ROW_GROUP_BYTES = 64 << 20
ROW_GROUP_ROWS = 100_000
_COPY = 1 << 20


class ParquetSink:
    """Items written as the rows of a Parquet file, to a binary stream, when `finish` is called.

    Has the interface of `promptfmt.io.writers.ItemSink` (``write``, ``write_part``,
    ``write_raw_line``, ``restart``, ``finish``, ``flush``) so that every command that writes items
    can write Parquet.
    """

    def __init__(
        self, stream: IO[bytes] | None, *, name: str = "output", atomic: bool = True, restartable: bool = False,
        folder: str | None = None, dataset: DatasetFolder | None = None,
    ) -> None:
        self._pa = pyarrow()
        self._stream = stream
        self._dataset = dataset  # write a save_to_disk folder there instead of Parquet to the stream
        self.name = name
        self.atomic = atomic
        self.restartable = restartable
        self._folder = folder
        self.count = 0
        self._start()

    def _start(self) -> None:
        self._columns: dict[str, Column] | None = None
        self._rows: list[dict[str, Any]] = []
        self._pending: list[Any] = []  # record batches of the next row group
        self._pending_rows = self._pending_bytes = 0
        self._written = 0  # rows in row groups already in the file
        self._file = self._scratch()
        self._writer: Any = None
        self._retyped: dict[str, bool] = {}  # columns whose type changed: whether their nulls meant absent
        self._changed = False
        self._orders = KeyOrders()

    def _scratch(self) -> IO[bytes]:
        try:
            return tempfile.TemporaryFile(dir=self._folder)
        except OSError as exc:
            self.failed(exc)

    def failed(self, exc: OSError) -> NoReturn:
        raise WriteError(self.name, os_reason(exc), None, atomic=self.atomic) from None

    # -- items in -------------------------------------------------------------------------------

    def write(self, item: Any) -> None:
        self._rows.append(item)
        self.count += 1
        if len(self._rows) >= BATCH_ROWS:
            self._batch()

    def write_raw_line(self, data: bytes) -> None:
        self.write(own_line(data))

    def write_part(self, part: IO[bytes], count: int) -> None:
        """Append the ``count`` items that an `ItemSink` wrote as JSON Lines to the file ``part``,
        decoded a chunk of whole lines at a time."""
        rest = b""
        for chunk in iter(lambda: part.read(_COPY), b""):
            end = chunk.rfind(b"\n") + 1
            if not end:
                rest += chunk
                continue
            for item in own_lines(rest + chunk[:end]):
                self.write(item)
            rest = chunk[end:]
        if rest:
            self.write(own_line(rest))

    def restart(self) -> None:
        """Forget everything written so far."""
        self._close()
        self.count = 0
        self._start()

    def commit(self) -> None:
        """Put a finished ``save_to_disk`` folder in place (a Parquet stream needs nothing more)."""
        if self._dataset is not None:
            try:
                self._dataset.commit()
            except OSError as exc:
                self.failed(exc)

    def abort(self) -> None:
        self._close()
        if self._dataset is not None:
            self._dataset.abort()

    def flush(self) -> None:
        if self._stream is None:
            return
        try:
            self._stream.flush()
        except BrokenPipeError:
            raise
        except OSError as exc:
            self.failed(exc)

    def finish(self) -> None:
        """Write the rows still held, close the Parquet file and copy it to the stream."""
        try:
            self._batch()
            if self._columns is None:
                self._columns = {}
            if self._pending_rows and not self._columns:
                raise WriteError(self.name, f"cannot be written as Parquet: its {self._pending_rows:,} item(s) have no "
                                 "keys, and a Parquet file without columns holds no rows", None, atomic=self.atomic)
            self._row_group()
            writer = self._open_writer() if self._writer is None else self._writer
            footer = self._footer().encode()
            writer.add_key_value_metadata({FOOTER_KEY.decode(): footer})
            writer.close()
            if self._dataset is not None:
                write_folder(self._pa, self._file, self._dataset.staging, footer)
            else:
                assert self._stream is not None
                self._file.seek(0)
                shutil.copyfileobj(self._file, self._stream, _COPY)
        except BrokenPipeError:
            raise
        except OSError as exc:
            self.failed(exc)
        finally:
            self._close()

    def _close(self) -> None:
        """Close the writer (quietly: the failure is being reported) before its file, which pyarrow
        would otherwise write to at garbage collection, printing a traceback."""
        if self._writer is not None:
            try:
                self._writer.close()
            except (self._pa.ArrowException, OSError, ValueError):
                pass
            self._writer = None
        self._file.close()

    # -- batches and row groups -----------------------------------------------------------------

    def _batch(self) -> None:
        rows, self._rows = self._rows, []
        if not rows:
            return
        collecting = gc.isenabled()
        gc.disable()  # a batch makes ~2 tuples a row, none in a cycle: collections would scan every row held for nothing
        try:
            self._build(rows)
        finally:
            if collecting:
                gc.enable()

    def _build(self, rows: list[dict[str, Any]]) -> None:
        if self._columns is None:
            self._columns = {}
        shapes = [tuple(row) for row in rows]
        arrays = self._arrays(rows, shapes)
        if arrays is None:  # the schema changed: the file so far is rewritten, then this batch built again
            self._rewrite()
            arrays = self._arrays(rows, shapes)
            assert arrays is not None
        assert self._columns is not None
        self._orders.see(shapes, self.count - len(rows), {name: k for k, name in enumerate(self._columns)})
        if arrays:
            self._add(self._pa.RecordBatch.from_arrays(arrays, schema=self._schema()))
        else:  # items without keys: a batch of no columns knows its rows only through an empty struct
            empty = self._pa.array([{}] * len(rows), type=self._pa.struct([]))
            self._add(self._pa.RecordBatch.from_struct_array(empty))

    def _add(self, batch: Any) -> None:
        self._pending.append(batch)
        self._pending_rows += batch.num_rows
        self._pending_bytes += batch.nbytes
        full = self._pending_bytes >= ROW_GROUP_BYTES or self._pending_rows >= ROW_GROUP_ROWS
        if full and batch.num_columns:  # Parquet keeps no rows without columns: held until a key comes
            self._row_group()

    def _arrays(self, rows: list[dict[str, Any]], shapes: list[tuple[str, ...]]) -> list[Any] | None:
        """One array per column for ``rows`` (their keys: ``shapes``); None when the schema had to change first."""
        columns = self._columns
        assert columns is not None
        distinct = dict.fromkeys(shapes)
        for keys in distinct:
            for key in keys:
                if key not in columns:
                    columns[key] = Column(key, type=_NEW)
        self._changed = False
        if len(distinct) == 1 and shapes[0] and len(shapes[0]) == len(columns):  # every row has every key: in C
            keys = shapes[0]
            if len(keys) == 1:
                by_name = {keys[0]: [row[keys[0]] for row in rows]}
            else:
                by_name = dict(zip(keys, map(list, zip(*map(operator.itemgetter(*keys), rows)))))
            arrays = [self._array(column, by_name[column.name], False) for column in columns.values()]
        else:
            arrays = [self._array(column, [row.get(column.name, ABSENT) for row in rows]) for column in columns.values()]
        return None if self._changed else arrays

    def _array(self, column: Column, values: list[Any], maybe_absent: bool = True) -> Any:
        pa = self._pa
        absent = values.count(ABSENT) if maybe_absent else 0
        nulls = values.count(None)
        before = self._written + self._pending_rows
        was_absent = column.absent > 0  # what a null written so far stands for
        if column.type is _NEW:
            column.absent += before  # the rows before this batch lack the key
            was_absent = before > 0
            column.type = self._first_type(column.name, values)
            self._changed = self._changed or before > 0
        elif _is_null(column.type) and absent + nulls < len(values):  # the first values of a column of nulls
            self._retype(column, self._first_type(column.name, values), was_absent)
        column.absent += absent
        column.nulls += nulls
        if column.type is not None and column.absent and column.nulls:  # only text tells absent from null
            self._retype(column, None, was_absent)
        if column.type is None:
            return json_array(pa, values)
        array = typed_array(pa, column, values, absent > 0)
        if array is None:
            self._retype(column, None, was_absent)
            return json_array(pa, values)
        return array

    def _first_type(self, name: str, values: list[Any]) -> Any:
        """The type of a column from its first values: the layout's, or inferred; None: JSON text."""
        pa = self._pa
        present = [value for value in values if value is not ABSENT and value is not None]
        fixed = fixed_type(pa, name)
        if fixed is not None and fits_fixed(name, present):
            return fixed
        if not present:
            return pa.null()
        array = infer_array(pa, values)
        return None if array is None else array.type

    def _retype(self, column: Column, type_: Any, was_absent: bool) -> None:
        if self._written or self._pending_rows:
            self._changed = True
            self._retyped.setdefault(column.name, was_absent)
        column.type = type_

    def _schema(self) -> Any:
        pa = self._pa
        assert self._columns is not None
        return pa.schema([(column.name, pa.string() if column.is_json else column.type)
                          for column in self._columns.values()])

    def _open_writer(self) -> Any:
        try:
            self._writer = self._pa.parquet.ParquetWriter(self._file, self._schema(), compression="snappy")
        except self._pa.ArrowException as exc:
            raise WriteError(self.name, f"cannot be written as Parquet: {exc}", None, atomic=self.atomic) from None
        return self._writer

    def _row_group(self) -> None:
        if not self._pending:
            return
        writer = self._writer if self._writer is not None else self._open_writer()
        table = self._pa.Table.from_batches(self._pending)
        try:
            writer.write_table(table, row_group_size=table.num_rows)
        except OSError as exc:  # a full disk while items are still coming in
            self.failed(exc)
        self._written += table.num_rows
        self._pending, self._pending_rows, self._pending_bytes = [], 0, 0

    def _footer(self) -> Footer:
        assert self._columns is not None
        return Footer(
            json=[column.name for column in self._columns.values() if column.is_json],
            absent=[column.name for column in self._columns.values() if column.null_means_absent],
            orders=[list(keys) for keys in self._orders.orders], runs=self._orders.runs,
        )

    # -- a new schema ---------------------------------------------------------------------------

    def _rewrite(self) -> None:
        """Rewrite what was written so far in the new schema, a row group at a time."""
        pa = self._pa
        retyped, self._retyped = self._retyped, {}
        old_file, old_writer, pending = self._file, self._writer, self._pending
        if old_writer is not None:
            old_writer.close()  # a complete file, to read back
        self._file, self._writer = self._scratch(), None
        self._pending, self._pending_rows, self._pending_bytes, self._written = [], 0, 0, 0
        try:
            if old_writer is not None:
                old_file.seek(0)
                source = pa.parquet.ParquetFile(old_file)
                for number in range(source.num_row_groups):
                    self._add(self._converted(source.read_row_group(number), retyped))
            for batch in pending:
                self._add(self._converted(pa.Table.from_batches([batch]), retyped))
        finally:
            old_file.close()

    def _converted(self, table: Any, retyped: dict[str, bool]) -> Any:
        """The record batch of ``table`` (rows in the old schema) in the new one."""
        pa = self._pa
        assert self._columns is not None
        arrays = []
        for column in self._columns.values():
            type_ = pa.string() if column.is_json else column.type
            if column.name not in table.column_names:  # a new key: absent from these rows
                arrays.append(pa.nulls(table.num_rows, type_))
                continue
            old = table.column(column.name).combine_chunks()
            if column.is_json and column.name in retyped:  # typed values become their JSON text
                absent = retyped[column.name]
                values = [ABSENT if value is None and absent else value for value in old.to_pylist()]
                arrays.append(json_array(pa, values))
            elif old.type == type_:
                arrays.append(old)
            else:  # a column of nulls that got its type
                arrays.append(pa.nulls(table.num_rows, type_))
        return pa.RecordBatch.from_arrays(arrays, schema=self._schema())


_NEW: Any = object()  # the type of a column not typed yet


def _is_null(type_: Any) -> bool:
    return type_ is not None and type_ is not _NEW and str(type_) == "null"


def items_to_parquet(items: Iterable[Any], path: str | os.PathLike[str]) -> int:
    """Write ``items`` as a Parquet file at ``path`` (not atomically: for tests and benchmarks); the count."""
    with open(path, "wb") as stream:
        sink = ParquetSink(stream, name=os.fspath(path), folder=os.path.dirname(os.path.abspath(path)))
        for item in items:
            sink.write(item)
        sink.finish()
        return sink.count
