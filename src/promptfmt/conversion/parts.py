"""Converting one JSON Lines file or JSON array in several processes, in order, losing nothing.

Formatting is embarrassingly parallel (two processes scale ~2x on two cores).
The file is cut into parts (`promptfmt.io.ranges.cuts`): JSON Lines at line ends, a JSON array at a comma between two
records, each part read as an array of its own. This process and forked ones (so that plugin
formats need not be picklable) take the parts one at a time and convert each with
`promptfmt.conversion.service.run` into part files next to the output, appended to it in order. The output is
written atomically as always. Record indexes and line numbers in the quarantine are those of the
whole file. Any failure or interruption stops every worker and removes every part.

The part files live in one `promptfmt.scratch.ScratchFolder`, locked by this process and its workers.
A parent killed outright cannot remove it: its workers, ended by the kernel, remove it on their way
out, and the next parallel run in the same folder removes any such folder whose lock is free.

Only plain (uncompressed) files can be cut: `promptfmt.io.ranges.can_split` says whether a file can.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from multiprocessing.sharedctypes import Synchronized
from pathlib import Path
from typing import TYPE_CHECKING

import orjson

from ..errors import OutputError
from ..io import ARRAY, INVALID_JSON, STDIN, UNREADABLE, DatasetReader, Item, ItemSink, QuarantineWriter
from ..io.ranges import PART_BUFFER, ByteRange, Cut, cuts, open_range
from ..pool import Terminated, WorkerError, WorkerPool
from ..scratch import ScratchFolder, sweep
from ..validation.issues import Issue
from .plan import Plan
from .service import Quarantine, run
from .summary import ConvertSummary

if TYPE_CHECKING:
    from multiprocessing.sharedctypes import SynchronizedArray as Array

__all__ = ["WorkerError", "convert_parts", "scratch_folder"]

PARTS_PER_WORKER = 8  # parts are taken one at a time: a slower CPU takes fewer
Progress = Callable[[int, "int | None", "int | None"], None]


@dataclass
class _Part:
    """One worker's share of the job and where its results go."""

    number: int
    cut: Cut
    output: str
    quarantine: str


@dataclass
class _Job:
    """What every process shares: the file, the plan, the parts and the counters in shared memory."""

    path: str
    plan: Plan
    json_array: bool
    parts: list[_Part]
    taken: Synchronized[int]  # the number of the next part to take
    finished: Array[int]  # items written by each finished part (-1 while not finished)
    counts: Array[int]  # items read by each part so far
    positions: Array[int]  # bytes of the file read by each part so far


def _convert_part(job: _Job, part: _Part, report: Callable[[], None] | None = None) -> ConvertSummary:
    """Convert one part into its part files; its summary."""
    stream = open_range(job.path, part.cut.start, part.cut.stop, part.cut.prefix, part.cut.suffix)
    source = stream.raw
    assert isinstance(source, ByteRange)

    def progress(read: int) -> None:
        job.counts[part.number] = read
        job.positions[part.number] = source.consumed
        if report is not None:
            report()

    with open(part.output, "wb", buffering=PART_BUFFER) as out, QuarantineWriter(part.quarantine) as quarantined:
        sink = ItemSink(out, json_array=job.json_array, opening=b"", name=f"a part file in {os.path.dirname(part.output)}")
        summary = run(
            job.plan, DatasetReader(STDIN, stream), sink.write, progress=progress,
            quarantine=lambda item, issues: quarantined.write(item, [issue.as_dict() for issue in issues]),
        )
    stream.close()
    return summary


def _take_parts(
    job: _Job, report: Callable[[], None] | None = None, after: Callable[[], None] | None = None,
) -> dict[int, ConvertSummary]:
    """Convert the parts not taken yet, one at a time, until none is left; their summaries by number.
    ``finished[k]`` gets how many items part ``k`` wrote; ``after()`` runs after each part."""
    results: dict[int, ConvertSummary] = {}
    while True:
        with job.taken.get_lock():
            number = job.taken.value
            job.taken.value += 1
        if number >= len(job.parts):
            return results
        results[number] = _convert_part(job, job.parts[number], report)
        job.finished[number] = results[number].written
        if after is not None:
            after()


def _work(job: _Job, scratch: ScratchFolder) -> dict[int, ConvertSummary]:
    """A worker's body: `_take_parts`, and the part folder removed when the parent died meanwhile."""
    try:
        return _take_parts(job)
    except Terminated:
        scratch.remove_if_orphaned()
        raise


class _Appender:
    """Appends the output of finished parts to the sink, in order: each part as soon as it and all
    the parts before it are finished, so that little is left to append at the end."""

    def __init__(self, job: _Job, sink: ItemSink) -> None:
        self._parts, self._finished, self._sink = job.parts, job.finished, sink
        self._next = 0

    def __call__(self) -> None:
        while self._next < len(self._parts) and self._finished[self._next] >= 0:
            with open(self._parts[self._next].output, "rb") as data:
                self._sink.write_part(data, self._finished[self._next])
            self._next += 1


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

    The file is cut into `PARTS_PER_WORKER` parts per process (`promptfmt.io.ranges.cuts`), and this process and
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
    layout, pieces = cuts(path, workers * PARTS_PER_WORKER)
    size = os.path.getsize(path)
    sweep(scratch)  # the part folders of runs killed outright
    try:
        parts = ScratchFolder(scratch)
    except OSError as exc:
        where = scratch if scratch is not None else "the temporary folder"
        raise OutputError(f"{where}: cannot hold the part files: {exc.strerror or exc}.") from None
    folder = parts.path
    try:
        with WorkerPool[dict[int, ConvertSummary]]() as pool:
            context = pool.context
            job = _Job(
                path, plan, json_array,
                [_Part(k, piece, os.path.join(folder, f"{k}.out"), os.path.join(folder, f"{k}.quarantine"))
                 for k, piece in enumerate(pieces)],
                context.Value("i", 0), context.Array("q", [-1] * len(pieces), lock=False),
                context.Array("q", len(pieces), lock=False), context.Array("q", len(pieces), lock=False),
            )
            for _ in range(min(workers, len(pieces)) - 1):
                pool.start(_work, job, parts)

            def report() -> None:
                if progress is not None:
                    progress(sum(job.counts[:]), sum(job.positions[:]), size)

            append = _Appender(job, sink)
            early = layout != ARRAY or sink.restartable  # an array's parts may be thrown away
            results = _take_parts(job, report, append if early else None)
            for done in pool.results(report):
                results.update(done)
        ordered = [results[number] for number in range(len(pieces))]
        if layout == ARRAY and any(_broken(summary) for summary in ordered):
            # a cut that was not between two records, or broken JSON, whose messages locate it in
            # the whole file only when one process reads it
            sink.restart()
            return _in_one_process(path, plan, sink, quarantine, progress)
        append()
        summary = _forward(_empty(ordered[0]), job.parts, ordered, quarantine, path)
        if progress is not None:
            progress(summary.read, size, size)
        return summary
    finally:
        parts.remove()


def _broken(summary: ConvertSummary) -> bool:
    """Whether a part did not read as a whole JSON document (an invalid-json or unreadable item)."""
    return bool(summary.quarantined_by_code.get(INVALID_JSON) or summary.quarantined_by_code.get(UNREADABLE))


def _empty(like: ConvertSummary) -> ConvertSummary:
    return ConvertSummary(like.input_layout, like.output_layout, like.source_format, like.target_format, like.strict,
                          ignored=like.ignored, bos=like.bos)


def _in_one_process(
    path: str, plan: Plan, sink: ItemSink, quarantine: Quarantine | None, progress: Progress | None,
) -> ConvertSummary:
    """The whole file converted in this process (nothing was written to ``sink`` yet)."""
    with DatasetReader(path) as reader:
        return run(plan, reader, sink.write, quarantine=quarantine,
                   progress=None if progress is None else lambda read: progress(read, reader.position, reader.size))


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
    if total.read != total.written + total.quarantined:  # nothing is lost (docs/architecture.md), across the parts
        raise AssertionError(f"read {total.read} != written {total.written} + quarantined {total.quarantined}")
    return total


def _quarantined(path: str, index_before: int, lines_before: int) -> Iterator[tuple[Item, list[Issue]]]:
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
