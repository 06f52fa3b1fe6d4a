"""Converting one JSON Lines file or JSON array in several processes, in order, losing nothing.

Formatting is embarrassingly parallel (DESIGN.md section 6: two processes scale ~2x on two cores).
The file is cut into parts (`cuts`): JSON Lines at line ends, a JSON array at a comma between two
records, each part read as an array of its own. This process and forked ones (so that plugin
formats need not be picklable) take the parts one at a time and convert each with
`promptfmt.convert.run` into part files next to the output, appended to it in order. The output is
written atomically as always. Record indexes and line numbers in the quarantine are those of the
whole file. Any failure or interruption stops every worker and removes every part.

Only plain (uncompressed) files can be cut: `can_split` says whether a file can.
"""

from __future__ import annotations

import io
import multiprocessing
import os
import re
import shutil
import signal
import tempfile
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import wait
from pathlib import Path
from typing import Any

import orjson

from .convert import ConvertSummary, Plan, Quarantine, run
from .errors import PromptfmtError
from .io import ARRAY, GZIP_MAGIC, INVALID_JSON, JSONL, STDIN, UNREADABLE, DatasetReader, Item, QuarantineWriter
from .issues import Issue
from .writers import ItemSink

PART_BUFFER = 1 << 20
PARTS_PER_WORKER = 8  # parts are taken one at a time: a slower CPU takes fewer
POLL_SECONDS = 0.25
Progress = Callable[[int, "int | None", "int | None"], None]


class WorkerError(PromptfmtError):
    """A worker process failed; the message names the worker and what went wrong."""


def can_split(path: str, *, arrays: bool = False) -> str | None:
    """None when ``path`` can be converted in parts (JSON Lines; JSON arrays too with ``arrays``),
    else why not (for a message)."""
    if path == STDIN:
        return "standard input cannot be cut into parts"
    try:
        with open(path, "rb") as file:
            if file.read(2) == GZIP_MAGIC:
                return "a gzip file cannot be cut into parts"
        with DatasetReader(path) as reader:
            layout = reader.layout
    except (OSError, PromptfmtError) as exc:
        return str(exc)
    if layout == JSONL or (arrays and layout == ARRAY):
        return None
    return f"only JSON Lines{' and JSON array' if arrays else ''} files can be cut into parts, not a {layout} file"


def auto_workers(path: str, *, min_bytes: int, most: int, arrays: bool = False) -> int:
    """One process per usable CPU (at most ``most``) for a file of ``min_bytes`` or more that
    `can_split`, else 1."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    if cpus < 2 or path == STDIN or not os.path.isfile(path) or os.path.getsize(path) < min_bytes:
        return 1
    return min(cpus, most) if can_split(path, arrays=arrays) is None else 1


def offsets(size: int, parts: int, *, shrinking: bool = False) -> list[int]:
    """Where to cut ``size`` bytes into ``parts``: evenly, or ``shrinking`` (each part a little smaller
    than the one before, the last ones small), so that when processes take parts one at a time,
    the last parts, which decide when the slowest process ends, are short."""
    if not shrinking:
        return [size * k // parts for k in range(1, parts)]
    return [size - size * (parts - k) ** 2 // parts**2 for k in range(1, parts)]


def ranges(path: str, parts: int, *, shrinking: bool = False) -> list[tuple[int, int]]:
    """``parts`` byte ranges of about the same size (or `offsets` ``shrinking``), each starting at the
    start of a line."""
    size = os.path.getsize(path)
    starts = [0]
    with open(path, "rb") as file:
        for offset in offsets(size, parts, shrinking=shrinking):
            file.seek(offset)
            file.readline()  # to the start of the next line
            position = file.tell()
            if starts[-1] < position < size:
                starts.append(position)
    return list(zip(starts, [*starts[1:], size]))


_ARRAY_CUT = re.compile(rb"\}[ \t\r\n]*,[ \t\r\n]*\{")  # "}, {": maybe between two records of an array
_CUT_SEARCH = 1 << 20


@dataclass(frozen=True)
class Cut:
    """One part of a file: the bytes ``[start, stop)``, read with ``prefix`` before and ``suffix`` after."""

    start: int
    stop: int
    prefix: bytes = b""
    suffix: bytes = b""


def cuts(path: str, parts: int) -> tuple[str, list[Cut]]:
    """The layout of ``path`` (which `can_split` with arrays) and up to ``parts`` parts of it, each
    smaller than the one before (`offsets`).

    JSON Lines is cut at line starts (`ranges`). A JSON array is cut at a ``,`` between two records
    (``}, {``), and each part made an array of its own (``[`` ... ``]``). That comma may be inside a
    string or a nested value: then the part before it is not valid JSON, which `convert_parts`
    notices (an ``invalid-json`` item) and converts the file in one process instead. A part that
    reads as a whole array proves its cut: JSON decodes left to right.
    """
    with DatasetReader(path) as reader:
        layout = reader.layout
    if layout != ARRAY:
        return layout, [Cut(start, stop) for start, stop in ranges(path, parts, shrinking=True)]
    size = os.path.getsize(path)
    commas: list[int] = []
    with open(path, "rb") as file:
        for offset in offsets(size, parts, shrinking=True):
            file.seek(offset)
            found = _ARRAY_CUT.search(file.read(_CUT_SEARCH))
            if found is not None:
                comma = offset + found.start() + found.group().index(b",")
                if not commas or comma > commas[-1]:
                    commas.append(comma)
    if not commas:
        return layout, [Cut(0, size)]
    starts = [0, *(comma + 1 for comma in commas)]
    stops = [*commas, size]
    last = len(starts) - 1
    return layout, [
        Cut(start, stop, b"[" if k else b"", b"]" if k < last else b"")
        for k, (start, stop) in enumerate(zip(starts, stops))
    ]


def open_range(path: str, start: int, stop: int, prefix: bytes = b"", suffix: bytes = b"") -> io.BufferedReader:
    """A buffered binary stream of the bytes ``[start, stop)`` of ``path`` (see `ranges`), after
    ``prefix`` and before ``suffix``; its ``raw`` is the `ByteRange`."""
    return io.BufferedReader(ByteRange(path, start, stop, prefix, suffix), buffer_size=PART_BUFFER)


class ByteRange(io.RawIOBase):
    """The bytes ``[start, stop)`` of a file (after ``prefix``, before ``suffix``), counting how
    many of the file's were read (``consumed``)."""

    def __init__(self, path: str, start: int, stop: int, prefix: bytes = b"", suffix: bytes = b"") -> None:
        self._file = open(path, "rb", buffering=0)  # noqa: SIM115 - closed in close()
        self._file.seek(start)
        self._left = stop - start
        self._prefix, self._suffix = prefix, suffix
        self.consumed = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer)
        if self._prefix:
            size = _copy(self._prefix, view)
            self._prefix = self._prefix[size:]
            return size
        if self._left > 0:
            got = self._file.readinto(view[: min(len(view), self._left)]) or 0
            if got:
                self._left -= got
                self.consumed += got
                return got
            self._left = 0  # the file is shorter than it was: end here
        size = _copy(self._suffix, view)
        self._suffix = self._suffix[size:]
        return size

    def close(self) -> None:
        self._file.close()
        super().close()


def _copy(data: bytes, view: memoryview) -> int:
    """Copy the start of ``data`` into ``view``; how many bytes."""
    size = min(len(view), len(data))
    view[:size] = data[:size]
    return size


@dataclass
class _Part:
    """One worker's share of the job and where its results go."""

    number: int
    cut: Cut
    output: str
    quarantine: str


def _convert_part(
    part: _Part, path: str, plan: Plan, json_array: bool, counts: Any, positions: Any,
    report: Callable[[], None] | None = None,
) -> ConvertSummary:
    """Convert one part into its part files; its summary."""
    stream = open_range(path, part.cut.start, part.cut.stop, part.cut.prefix, part.cut.suffix)
    source = stream.raw

    def progress(read: int) -> None:
        counts[part.number] = read
        positions[part.number] = source.consumed
        if report is not None:
            report()

    with open(part.output, "wb", buffering=PART_BUFFER) as out, QuarantineWriter(part.quarantine) as quarantined:
        sink = ItemSink(out, json_array=json_array, opening=b"")
        summary = run(
            plan, DatasetReader(STDIN, stream), sink.write, progress=progress,
            quarantine=lambda item, issues: quarantined.write(item, [issue.as_dict() for issue in issues]),
        )
    stream.close()
    return summary


def _take_parts(
    parts: list[_Part], taken: Any, finished: Any, path: str, plan: Plan, json_array: bool, counts: Any,
    positions: Any, report: Callable[[], None] | None = None, after: Callable[[], None] | None = None,
) -> dict[int, ConvertSummary]:
    """Convert the parts not taken yet, one at a time, until none is left; their summaries by number.
    ``finished[k]`` gets how many items part ``k`` wrote; ``after()`` runs after each part."""
    results = {}
    while True:
        with taken.get_lock():
            number = taken.value
            taken.value += 1
        if number >= len(parts):
            return results
        results[number] = _convert_part(parts[number], path, plan, json_array, counts, positions, report)
        finished[number] = results[number].written
        if after is not None:
            after()


class _Appender:
    """Appends the output of finished parts to the sink, in order: each part as soon as it and all
    the parts before it are finished, so that little is left to append at the end."""

    def __init__(self, parts: list[_Part], finished: Any, sink: ItemSink) -> None:
        self._parts, self._finished, self._sink = parts, finished, sink
        self._next = 0

    def __call__(self) -> None:
        while self._next < len(self._parts) and self._finished[self._next] >= 0:
            with open(self._parts[self._next].output, "rb") as data:
                self._sink.write_part(data, self._finished[self._next])
            self._next += 1


def _work(parts: list[_Part], taken: Any, finished: Any, path: str, plan: Plan, json_array: bool, counts: Any,
          positions: Any, connection: Any) -> None:
    """The body of a worker process: convert parts, send back their summaries (or the error)."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # the parent stops workers with SIGTERM
    try:
        connection.send(("ok", _take_parts(parts, taken, finished, path, plan, json_array, counts, positions)))
    except KeyboardInterrupt:
        connection.send(("interrupted", None))
    except BaseException as exc:  # everything goes back to the parent, which reports it
        detail = f"{type(exc).__name__}: {exc}"
        if not isinstance(exc, PromptfmtError):
            detail += "\n" + traceback.format_exc()
        connection.send(("error", detail))
    finally:
        connection.close()


def convert_parts(
    path: str,
    plan: Plan,
    sink: ItemSink,
    *,
    workers: int,
    json_array: bool = False,
    quarantine: Quarantine | None = None,
    progress: Progress | None = None,
    scratch: str | None = None,
) -> ConvertSummary:
    """Convert the JSON Lines file or JSON array ``path`` in ``workers`` processes into ``sink``, in order.

    The file is cut into `PARTS_PER_WORKER` parts per process (`cuts`), and this process and
    ``workers - 1`` forked ones take the parts one at a time, so that a slower CPU takes fewer.
    Each part is converted into part files, appended to ``sink`` in order as soon as it and the
    parts before it are finished. An array is cut where it only *may* be cut: when a part of an
    array does not read as a whole array (a wrong cut, or broken JSON), the parts are thrown away
    (`ItemSink.restart`; on stdout, which cannot be emptied, an array's parts are appended only at
    the end) and the file is converted in this process.
    ``quarantine(item, issues)`` receives the refused items (with the record index and line of the
    whole file); ``scratch`` is the folder for the part files (default: the system's temporary
    folder; pass the output's folder to stay on one disk).
    """
    context = multiprocessing.get_context("fork")
    layout, pieces = cuts(path, workers * PARTS_PER_WORKER)
    size = os.path.getsize(path)
    folder = tempfile.mkdtemp(prefix=".promptfmt-parts.", suffix=".tmp", dir=scratch)
    counts = context.Array("q", len(pieces), lock=False)
    positions = context.Array("q", len(pieces), lock=False)
    taken = context.Value("i", 0)
    finished = context.Array("q", [-1] * len(pieces), lock=False)  # items written by each finished part
    parts = [
        _Part(k, piece, os.path.join(folder, f"{k}.out"), os.path.join(folder, f"{k}.quarantine"))
        for k, piece in enumerate(pieces)
    ]
    processes = []
    try:
        connections = []
        for _ in range(min(workers, len(parts)) - 1):
            receive, send = context.Pipe(duplex=False)
            process = context.Process(
                target=_work, args=(parts, taken, finished, path, plan, json_array, counts, positions, send),
                daemon=True,
            )
            process.start()
            send.close()
            processes.append(process)
            connections.append(receive)

        def report() -> None:
            if progress is not None:
                progress(sum(counts), sum(positions), size)

        append = _Appender(parts, finished, sink)
        early = layout != ARRAY or sink.restartable  # an array's parts may be thrown away
        results = _take_parts(parts, taken, finished, path, plan, json_array, counts, positions, report,
                              append if early else None)
        for done in _collect(connections, counts, positions, size, progress):
            results.update(done)
        ordered = [results[number] for number in range(len(parts))]
        if layout == ARRAY and any(_broken(summary) for summary in ordered):
            # a cut that was not between two records, or broken JSON, whose messages locate it in
            # the whole file only when one process reads it
            sink.restart()
            return _in_one_process(path, plan, sink, quarantine, progress)
        append()
        summary = _forward(_empty(ordered[0]), parts, ordered, quarantine, path)
        if progress is not None:
            progress(summary.read, size, size)
        return summary
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()
        for process in processes:
            process.join()
        shutil.rmtree(folder, ignore_errors=True)


def _broken(summary: ConvertSummary) -> bool:
    """Whether a part did not read as a whole JSON document (an invalid-json or unreadable item)."""
    return bool(summary.quarantined_by_code.get(INVALID_JSON) or summary.quarantined_by_code.get(UNREADABLE))


def _empty(like: ConvertSummary) -> ConvertSummary:
    return ConvertSummary(like.input_layout, like.output_layout, like.source_format, like.target_format, like.strict)


def _in_one_process(
    path: str, plan: Plan, sink: ItemSink, quarantine: Quarantine | None, progress: Progress | None,
) -> ConvertSummary:
    """The whole file converted in this process (nothing was written to ``sink`` yet)."""
    with DatasetReader(path) as reader:
        return run(plan, reader, sink.write, quarantine=quarantine,
                   progress=None if progress is None else lambda read: progress(read, reader.position, reader.size))


def _collect(connections: list[Any], counts: Any, positions: Any, size: int, progress: Progress | None) -> list[Any]:
    """The results of every worker; raises when one failed or was interrupted."""
    results = []
    pending = {connection: number for number, connection in enumerate(connections)}
    while pending:
        for connection in wait(list(pending), timeout=POLL_SECONDS):
            number = pending.pop(connection)  # type: ignore[call-overload]
            try:
                status, payload = connection.recv()
            except EOFError:  # the worker died without a word (killed)
                status, payload = "error", "the process ended unexpectedly"
            if status == "interrupted":
                raise KeyboardInterrupt
            if status == "error":
                raise WorkerError(f"worker {number + 2} of {len(connections) + 1} failed: {payload}")
            results.append(payload)
        if progress is not None:
            progress(sum(counts), sum(positions), size)
    return results


def _forward(
    total: ConvertSummary, parts: list[_Part], results: list[ConvertSummary], quarantine: Quarantine | None, path: str,
) -> ConvertSummary:
    """Hand the parts' quarantined items to ``quarantine`` in order, renumbered; the merged summary."""
    lines = _LineCounter(path)
    for part, summary in zip(parts, results):
        if quarantine is not None and summary.quarantined:
            for item, issues in _quarantined(part.quarantine, total.read, lines.before(part.cut.start)):
                quarantine(item, issues)
        total.merge(summary)
    if total.read != total.written + total.quarantined:  # DESIGN.md section 3, across the parts
        raise AssertionError(f"read {total.read} != written {total.written} + quarantined {total.quarantined}")
    return total


def _quarantined(path: str, index_before: int, lines_before: int) -> Any:
    """The items of a part's quarantine file, renumbered for the whole file."""
    with open(path, "rb") as entries:
        for line in entries:
            entry = orjson.loads(line)
            index, number = entry["record"] + index_before, entry["line"] + lines_before
            issues = [Issue(**{**issue, "record": index, "line": number}) for issue in entry["issues"]]
            if "item" in entry:
                item = Item(index, number, entry["item"])
            else:
                item = Item(index, number, error=issues[0].message, code=issues[0].code, text=entry.get("text"))
            yield item, issues


class _LineCounter:
    """How many lines of a file end before an offset, for offsets asked in increasing order."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._offset = self._lines = 0

    def before(self, offset: int) -> int:
        with open(self._path, "rb") as file:
            file.seek(self._offset)
            left = offset - self._offset
            while left > 0:
                chunk = file.read(min(left, PART_BUFFER))
                if not chunk:
                    break
                self._lines += chunk.count(b"\n")
                left -= len(chunk)
        self._offset = offset
        return self._lines


def scratch_folder(output: str) -> str | None:
    """Where part files go: next to the output file, or the temporary folder for stdout."""
    return None if output == "-" else str(Path(output).resolve().parent)
