"""What a hostile case is: a name, a generator that lays its files in a fresh folder and says how to
run promptfmt there, and the exit codes the issue asks for.

Exit codes: 0 ok, 1 bad data (or an output that cannot be written), 2 usage (paths, options), 3 a
plugin or format file; never 70 (a bug). A piped stdout closed early is not an error (0).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

OK, DATA, USAGE, PLUGIN = 0, 1, 2, 3

# lays an input in the folder: its path, and optionally a writer to run beside the process and its release
Layout = Callable[[Path], "tuple[str, Callable[[], None] | None, Callable[[], None] | None]"]

# the commands that read a dataset, each with the options that make its invariants checkable
DATA_COMMANDS: dict[str, list[str]] = {
    "validate": ["validate", "{input}"],
    "convert": ["convert", "{input}", "-o", "out.jsonl", "--quarantine", "quarantine.jsonl", "--to", "phi3", "--json"],
    "render": ["render", "{input}", "-f", "phi3"],
    "split": ["split", "{input}", "-d", "parts", "--quarantine", "quarantine.jsonl", "--json"],
    "detect": ["detect", "{input}"],
}

# valid records: everything passes but detect, which is given records where it wants rendered texts
VALID = {"validate": {OK}, "convert": {OK}, "render": {OK}, "split": {OK}, "detect": {DATA}}
BAD = {command: {DATA} for command in DATA_COMMANDS}
# an empty dataset: nothing to do is no failure, but detect has no text to name a format by
EMPTY = {**VALID}
# an input path that is no readable file: a usage error everywhere
NO_FILE = {command: {USAGE} for command in DATA_COMMANDS}


@dataclass
class Run:
    """How to run promptfmt for one case, in the case's working folder."""

    argv: list[str]
    stdin: bytes | None = None
    # stdout: "file" (captured), "full" (/dev/full), "closed" (no fd 1), "head" (a pipe closed after 10 bytes)
    stdout: str = "file"
    env: Mapping[str, str] = field(default_factory=dict)
    feed: Callable[[], None] | None = None  # runs in a thread beside the process (a FIFO's writer)
    release: Callable[[], None] | None = None  # unblocks `feed` should the process never read
    names: tuple[str, ...] = ()  # every `Error:` line names one of these (the file at fault)
    line: int | None = None  # the line at fault, which a refusal (exit 1) must name
    forbid: str | None = None  # a regex no line of the output may match (a forged report line)
    say: str | None = None  # a regex stderr must match (the error a failed write owes, whatever the exit code)
    summary: str | None = None  # "convert" or "split": check read = written + quarantined
    timeout: float = 30.0


@dataclass(frozen=True)
class Case:
    name: str
    make: Callable[[Path], Run]  # lays the files in the folder (the working folder) and says how to run
    expect: frozenset[int]
    skip: str | None = None  # why the case cannot run here


def case(name: str, expect: set[int] | int, skip: str | None = None) -> Callable[[Callable[[Path], Run]], Case]:
    """Decorator: a generator function becomes a `Case`."""
    codes = frozenset({expect} if isinstance(expect, int) else expect)

    def wrap(make: Callable[[Path], Run]) -> Case:
        return Case(name, make, codes, skip)

    return wrap


def data_cases(
    name: str,
    content: bytes | Layout,
    expect: Mapping[str, set[int]],
    *,
    filename: str = "in.jsonl",
    line: int | None = None,
    forbid: str | None = None,
    commands: tuple[str, ...] = tuple(DATA_COMMANDS),
    skip: str | None = None,
    options: tuple[str, ...] = (),
) -> list[Case]:
    """One case per data command reading ``content`` (bytes written to ``filename``, or a function laying
    the input and returning its path, an optional writer and its release). ``line``: the line at
    fault, which a command refusing the data must name. ``options``: global options, before the command."""

    def make_for(command: str) -> Callable[[Path], Run]:
        def make(folder: Path) -> Run:
            feed = release = None
            if callable(content):
                path, feed, release = content(folder)
            else:
                (folder / filename).write_bytes(content)
                path = filename
            argv = [*options, *(part.format(input=path) for part in DATA_COMMANDS[command])]
            summary = command if command in ("convert", "split") else None
            return Run(argv, feed=feed, release=release, names=(path,), line=line, forbid=forbid,
                       summary=summary, timeout=10.0 if feed else 30.0)

        return make

    return [Case(f"{name}/{command}", make_for(command), frozenset(expect[command]), skip) for command in commands]


def lazy(filename: str, factory: Callable[[], bytes]) -> Layout:
    """Content made when the case runs (and once per session), not when the tests are collected."""
    made = cache(factory)

    def lay(folder: Path) -> tuple[str, None, None]:
        (folder / filename).write_bytes(made())
        return filename, None, None

    return lay
