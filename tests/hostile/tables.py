"""Hostile tables: CSV, Parquet, Arrow and ``save_to_disk`` folders. Each is read by every data command.

CSV is told by its extension and located by line (``FILE:LINE``); the others by row, so only the
CSV cases name a line. Table files are made when the case runs (pyarrow is optional).
"""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

from .case import BAD, EMPTY, VALID, Case, data_cases, lazy
from .data import either

try:
    import pyarrow as pa
    import pyarrow.parquet as pq
except ImportError:  # the extra is not installed: the table cases are skipped
    pa = pq = None
NO_PYARROW = None if pa is not None else "pyarrow is not installed"

HEADER = b"instruction,input,output\n"
GOOD_ROW = b"Name a colour.,,Blue.\n"


def _parquet(table, metadata: dict[bytes, bytes] | None = None) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table.replace_schema_metadata(metadata) if metadata else table, sink)
    return sink.getvalue()


def _records(**extra) -> object:
    return pa.table({"instruction": ["Name a colour.", "Say hi."], "input": ["", ""], "output": ["Blue.", "Hi."],
                     **extra})


def _odd_types() -> bytes:
    return _parquet(_records(
        m=pa.array([[("k", 1)], []], pa.map_(pa.string(), pa.int64())),
        d=pa.array([1, 2], pa.duration("s")),
        b=pa.array([b"\x00\xff", b"ab"], pa.binary(2)),
        f=pa.array([float("nan"), float("inf")]),
        n=pa.nulls(2),
        t=pa.array([1, 2], pa.timestamp("ns", tz="Europe/Paris")),
    ))


def _arrow_stream() -> bytes:
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, _records().schema) as writer:
        writer.write_table(_records())
    return sink.getvalue()


def _escaping_folder(folder: Path):
    """A save_to_disk folder whose state.json lists a file outside it."""
    (folder / "outside.arrow").write_bytes(_arrow_stream())
    (folder / "ds").mkdir()
    (folder / "ds" / "state.json").write_text(json.dumps({"_data_files": [{"filename": "../outside.arrow"}]}))
    return "ds", None, None


def _table_cases() -> list[Case]:
    skip = NO_PYARROW
    groups = [
        data_cases("parquet-garbage-after-magic", b"PAR1" + b"\x00" * 200, BAD, filename="in.parquet", skip=skip),
        data_cases("parquet-zero-rows", lazy("in.parquet", lambda: _parquet(_records().slice(0, 0))), EMPTY, skip=skip),
        data_cases("parquet-odd-column-types", lazy("in.parquet", _odd_types), either(VALID), skip=skip),
        data_cases("parquet-footer-not-json", lazy("in.parquet", lambda: _parquet(_records(), {b"promptfmt": b"[" * 10_000})),
                   BAD, skip=skip),
        data_cases("arrow-stream-truncated", lazy("in.arrow", lambda: _arrow_stream()[:200]), BAD, skip=skip),
        data_cases("save-to-disk-state-lists-a-file-outside", _escaping_folder, BAD, skip=skip),
    ]
    return [c for group in groups for c in group]


def _csv_cases() -> list[Case]:
    groups = [
        data_cases("csv-row-over-record-limit", HEADER + GOOD_ROW + b"x," * (700 << 10), BAD, filename="in.csv",
                   line=3, options=("--max-record-mb", "1")),
        data_cases("csv-utf16", HEADER.decode().encode("utf-16"), BAD, filename="in.csv", line=1),
        data_cases("csv-header-only", HEADER, EMPTY, filename="in.csv"),
        data_cases("csv-cr-line-ends", (HEADER + GOOD_ROW * 3).replace(b"\n", b"\r"), VALID, filename="in.csv"),
        data_cases("csv-that-is-gzip", gzip.compress(HEADER + GOOD_ROW), VALID, filename="in.csv"),
    ]
    return [c for group in groups for c in group]


def cases() -> list[Case]:
    return [*_csv_cases(), *_table_cases()]
