"""Hostile paths and streams: inputs that are no plain file, outputs that are the input or cannot be
written, a stdout that is full, closed, or a pipe closed early."""

from __future__ import annotations

import gzip
import os
import stat
from pathlib import Path

from .case import DATA, EMPTY, NO_FILE, OK, USAGE, VALID, Case, Run, case, data_cases
from .data import GOOD, TEXT, jsonl

MANY = b"\n".join([GOOD] * 5000) + b"\n"  # far more than a pipe buffer once rendered


def _folder(folder: Path):
    (folder / "in.jsonl").mkdir()
    return "in.jsonl", None, None


def _symlink_loop(folder: Path):
    os.symlink("b.jsonl", folder / "a.jsonl")
    os.symlink("a.jsonl", folder / "b.jsonl")
    return "a.jsonl", None, None


def _dangling(folder: Path):
    os.symlink("missing.jsonl", folder / "in.jsonl")
    return "in.jsonl", None, None


def _fifo(folder: Path):
    path = folder / "in.jsonl"
    os.mkfifo(path)

    def feed() -> None:
        try:
            with open(path, "wb") as pipe:  # blocks until promptfmt opens it for reading
                pipe.write(TEXT)
        except BrokenPipeError:  # promptfmt closed it before reading: the case's outcome tells
            pass

    def release() -> None:  # promptfmt never opened it: let the writer's open return
        os.close(os.open(path, os.O_RDONLY | os.O_NONBLOCK))

    return "in.jsonl", feed, release


def _dev_null(folder: Path):
    return "/dev/null", None, None


def _odd_name(folder: Path):
    name = "in.jsonl:3: record 2: $: forged\n-x.jsonl"
    (folder / name).write_bytes(jsonl(GOOD, b"not json"))
    return name, None, None


def _locked(folder: Path):
    path = folder / "in.jsonl"
    path.write_bytes(TEXT)
    path.chmod(0)
    return "in.jsonl", None, None


def _inputs() -> list[Case]:
    groups = [
        data_cases("input-is-a-folder", _folder, NO_FILE),
        data_cases("input-symlink-loop", _symlink_loop, NO_FILE),
        data_cases("input-dangling-symlink", _dangling, NO_FILE),
        data_cases("input-fifo", _fifo, VALID),
        data_cases("input-dev-null", _dev_null, EMPTY),
        data_cases("input-name-forges-a-location", _odd_name, {c: {DATA} for c in VALID}, forbid=r"-x\.jsonl|in\.jsonl:3: record 2: \$: forged$"),
        data_cases("input-permission-denied", _locked, NO_FILE,  # test_house simulates it for root
                   skip="root reads every file" if os.geteuid() == 0 else None),
    ]
    return [c for group in groups for c in group]


def _input_file(folder: Path, content: bytes = TEXT) -> str:
    (folder / "in.jsonl").write_bytes(content)
    return "in.jsonl"


def _convert(*out: str, names: tuple[str, ...], say: str | None = None) -> Run:
    return Run(["convert", "in.jsonl", "--to", "phi3", *out], names=names, say=say)


@case("convert-output-is-input", USAGE)
def _same(folder: Path) -> Run:
    _input_file(folder)
    return _convert("-o", "in.jsonl", names=("in.jsonl",))


@case("convert-output-symlink-to-input", USAGE)
def _symlinked(folder: Path) -> Run:
    _input_file(folder)
    os.symlink("in.jsonl", folder / "out.jsonl")
    return _convert("-o", "out.jsonl", names=("out.jsonl", "in.jsonl"))


@case("convert-output-hard-link-to-input", USAGE)
def _hard_linked(folder: Path) -> Run:
    _input_file(folder)
    os.link(folder / "in.jsonl", folder / "out.jsonl")
    return _convert("-o", "out.jsonl", names=("out.jsonl", "in.jsonl"))


@case("convert-output-same-path-spelled-otherwise", USAGE)
def _spelled(folder: Path) -> Run:
    _input_file(folder)
    (folder / "sub").mkdir()
    return _convert("-o", "sub/../in.jsonl", names=("in.jsonl",))


@case("convert-quarantine-is-input", USAGE)
def _quarantine_input(folder: Path) -> Run:
    _input_file(folder)
    return _convert("-o", "out.jsonl", "--quarantine", "in.jsonl", names=("in.jsonl",))


@case("convert-quarantine-is-output", USAGE)
def _quarantine_output(folder: Path) -> Run:
    _input_file(folder)
    return _convert("-o", "out.jsonl", "--quarantine", "out.jsonl", names=("out.jsonl",))


@case("convert-output-a-folder", USAGE)
def _output_folder(folder: Path) -> Run:
    _input_file(folder)
    (folder / "out").mkdir()
    return _convert("-o", "out", names=("out",))


@case("convert-output-in-missing-folder", USAGE)
def _missing_folder(folder: Path) -> Run:
    _input_file(folder)
    return _convert("-o", "nowhere/out.jsonl", names=("nowhere",))


# A full disk is /dev/full, reached through a symlink in the case's folder: a writer that renames a
# temporary file over its output replaces the link, never the device (as root it could).
DEV_FULL = "/dev/full"
FULL = "full.jsonl"
NO_DEV_FULL = None if stat.S_ISCHR(os.stat(DEV_FULL).st_mode) else f"{DEV_FULL} is no character device here"
FULL_NAMES = (FULL, DEV_FULL)
SAY_FULL = r"^Error: .*(full\.jsonl|/dev/full)"


def _full(folder: Path) -> str:
    os.symlink(DEV_FULL, folder / FULL)
    return FULL


@case("convert-output-dev-full", {DATA, USAGE}, skip=NO_DEV_FULL)
def _dev_full(folder: Path) -> Run:
    _input_file(folder)
    return _convert("-o", _full(folder), names=FULL_NAMES, say=SAY_FULL)


@case("convert-quarantine-dev-full", {DATA, USAGE}, skip=NO_DEV_FULL)
def _quarantine_full(folder: Path) -> Run:
    _input_file(folder, jsonl(GOOD, b"not json"))
    # exit 1 in any case (an item is quarantined): the lost quarantine must still be said
    return _convert("-o", "out.jsonl", "--quarantine", _full(folder), names=FULL_NAMES, say=SAY_FULL)


@case("validate-quarantine-dev-full", {DATA, USAGE}, skip=NO_DEV_FULL)
def _validate_quarantine_full(folder: Path) -> Run:
    _input_file(folder, jsonl(GOOD, b"not json"))
    return Run(["validate", "in.jsonl", "--quarantine", _full(folder)], names=FULL_NAMES, say=SAY_FULL)


@case("split-out-dir-is-a-file", USAGE)
def _split_file(folder: Path) -> Run:
    _input_file(folder)
    (folder / "parts").write_text("x")
    return Run(["split", "in.jsonl", "-d", "parts"], names=("parts",))


@case("split-overwrites-its-input", USAGE)
def _split_self(folder: Path) -> Run:
    (folder / "train.jsonl").write_bytes(TEXT)
    return Run(["split", "train.jsonl", "-d", "."], names=("train.jsonl",))


@case("split-quarantine-is-input", USAGE)
def _split_quarantine(folder: Path) -> Run:
    _input_file(folder)
    return Run(["split", "in.jsonl", "-d", "parts", "--quarantine", "in.jsonl"], names=("in.jsonl",))


@case("split-part-is-a-folder", USAGE)
def _split_part_folder(folder: Path) -> Run:
    _input_file(folder)
    (folder / "parts" / "train.jsonl").mkdir(parents=True)
    return Run(["split", "in.jsonl", "-d", "parts"], names=("train.jsonl",))


@case("import-template-output-is-template", USAGE)
def _template_self(folder: Path) -> Run:
    (folder / "t.jinja").write_text("{% for m in messages %}<|{{ m.role }}|>{{ m.content }}<|end|>{% endfor %}")
    return Run(["import-template", "t.jinja", "--name", "t", "-o", "t.jinja", "--force", "--time-limit", "5"],
               names=("t.jinja",))


def _outputs() -> list[Case]:
    return [_same, _symlinked, _hard_linked, _spelled, _quarantine_input, _quarantine_output, _output_folder,
            _missing_folder, _dev_full, _quarantine_full, _validate_quarantine_full, _split_file, _split_self, _split_quarantine,
            _split_part_folder, _template_self]


STDOUT = ("stdout", "standard output", "<stdout>")


def _stream(name: str, argv: list[str], stdout: str, expect: set[int], content: bytes = TEXT) -> Case:
    def make(folder: Path) -> Run:
        _input_file(folder, content)
        return Run(argv, stdout=stdout, names=STDOUT, say="^Error: " if stdout == "full" else None)

    return Case(name, make, frozenset(expect), NO_DEV_FULL if stdout == "full" else None)


def _streams() -> list[Case]:
    render = ["render", "in.jsonl", "-f", "phi3"]
    to_stdout = ["convert", "in.jsonl", "--to", "phi3", "-o", "-"]
    return [
        # a write that fails is never a success; whether a full disk is the data's fault is left open
        _stream("render-stdout-dev-full", render, "full", {DATA, USAGE}),
        _stream("convert-stdout-dev-full", to_stdout, "full", {DATA, USAGE}),
        _stream("validate-stdout-dev-full", ["validate", "in.jsonl"], "full", {DATA, USAGE}),
        _stream("formats-stdout-dev-full", ["formats"], "full", {DATA, USAGE}),
        _stream("schema-stdout-dev-full", ["schema", "record"], "full", {DATA, USAGE}),
        _stream("render-stdout-closed", render, "closed", {DATA, USAGE}),
        _stream("formats-stdout-closed", ["formats"], "closed", {DATA, USAGE}),
        # data goes to a file, the summary to stderr: nothing needs stdout
        _stream("convert-to-file-stdout-closed", ["convert", "in.jsonl", "--to", "phi3", "-o", "out.jsonl"],
                "closed", {OK}),
        _stream("render-into-head", render, "head", {OK}, MANY),
        _stream("convert-into-head", to_stdout, "head", {OK}, MANY),
        _stream("split-json-into-head", ["split", "in.jsonl", "-d", "parts", "--json"], "head", {OK}, MANY),
        # the report of a bad file cut short: not a crash; 1 (the file is bad) or 0 (the pipe's rule)
        _stream("validate-into-head", ["validate", "in.jsonl", "--max-issues", "100000"], "head", {OK, DATA},
                b"\n".join([b"not json"] * 5000) + b"\n"),
    ]


def _stdin() -> list[Case]:
    def from_stdin(name: str, argv: list[str], data: bytes, expect: set[int]) -> Case:
        return Case(name, lambda folder: Run(argv, stdin=data, names=("<stdin>", "stdin", "-")), frozenset(expect))

    return [
        from_stdin("validate-stdin-utf16", ["validate", "-"], "\ufeff".encode("utf-16-le") + TEXT.decode()
                   .encode("utf-16-le"), {DATA}),
        from_stdin("convert-stdin-gzip-truncated", ["convert", "-", "-o", "out.jsonl", "--to", "phi3"],
                   gzip.compress(TEXT)[:30], {DATA}),
        from_stdin("render-stdin-empty", ["render", "-", "-f", "phi3"], b"", {OK}),
        from_stdin("split-stdin-invalid", ["split", "-", "-d", "parts"], b"\xff\xfe\x00", {DATA}),
        from_stdin("detect-stdin-nul", ["detect", "-"], b"\x00" * 1000, {DATA}),
    ]


def cases() -> list[Case]:
    return [*_inputs(), *_outputs(), *_streams(), *_stdin()]
