"""What several commands share: loading the formats, printing issues, writing to stdout."""

from __future__ import annotations

import contextlib
import functools
import signal
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TextIO, TypeVar

import typer

from ..errors import PluginError, UnknownFormatError, UsageError
from ..format import Format
from ..plugins import FormatRegistry, load_registry
from ..records.layouts import INPUT_LAYOUTS
from ..records.mapping import PROFILES
from ..templating.declarative import FILE_PLUGIN_PREFIX

EXIT_OK = 0
EXIT_DATA = 1  # invalid data: records with errors, quarantined, refused
EXIT_USAGE = 2
EXIT_PLUGIN = 3
EXIT_BUG = 70
MAX_WORKERS = 64


def warn(message: str) -> None:
    typer.echo(message, err=True)


FORMAT_FILE_OPTION = typer.Option(
    [],
    "--format-file",
    metavar="PATH",
    help=(
        "Also load the declarative format described in this TOML file (repeatable). "
        "Every *.toml in the folder named by PROMPTFMT_FORMATS_DIR is loaded too."
    ),
)


MAP_OPTION = typer.Option(
    [], "--map", metavar="FIELD=KEY", help="Read a record field from another key, e.g. --map output=response (repeatable).",
)
PROFILE_OPTION = typer.Option(
    None, "--profile", "-p",
    help="A named field layout. " + "; ".join(f"{p.name}: {p.description}" for p in PROFILES.values()) + ".",
)
SWAP_OPTION = typer.Option(
    False, "--swap-when-empty",
    help="In a record whose instruction is empty or missing while its input holds text, read the input as the "
    "instruction (and no input). Only such records change; the summary counts them. (--map instruction=input "
    "--map input=instruction would swap every record, the good ones too.)",
)
OUTPUT_FORMAT_OPTION = typer.Option(
    None, "--output-format", metavar="KIND",
    help="What to write: jsonl, json (an array), parquet, or arrow (a datasets.save_to_disk folder); default: told "
    "by OUT's extension (.parquet: Parquet; .jsonl, .json, others: JSON Lines). Parquet and arrow need "
    "pip install 'promptfmt\\[parquet]'.",
)
HUB_HELP = (
    "a Hugging Face Hub dataset as hf://datasets/OWNER/NAME, streamed (split train; ?split=SPLIT&name=CONFIG "
    "choose others; hf://datasets//abs/folder reads a local folder of its files; needs pip install 'promptfmt\\[hf]')"
)
DATASET_HELP = (
    "The dataset: JSON Lines or a JSON array (gzip allowed), Parquet, Arrow or a datasets.save_to_disk folder, "
    "CSV or TSV (.csv, .tsv), " + HUB_HELP + ", or - for stdin (JSON only)."
)
OUTPUT_OPTION = typer.Option(
    ..., "--output", "-o", metavar="OUT", help="Where to write the result (atomically), or - for stdout."
)
FROM_OPTION = typer.Option(
    None, "--from", metavar="FORMAT",
    help="The format rendered input items (text, prompt-completion) were rendered in, or 'auto' to detect it.",
)
INPUT_LAYOUT_OPTION = typer.Option(
    None, "--input-layout", metavar="LAYOUT",
    help=f"Input layout, when not detected from the first item: {', '.join(INPUT_LAYOUTS)}.",
)
DROP_METADATA_OPTION = typer.Option(
    False, "--drop-metadata", help="Do not carry keys other than the record fields to the output."
)
SUMMARY_JSON_OPTION = typer.Option(
    False, "--json", help="Print the summary as one JSON document on stdout (OUT must be a file)."
)
QUIET_OPTION = typer.Option(False, "--quiet", "-q", help="No progress bar (it is only shown on a terminal anyway).")


def parse_workers(text: str) -> int | None:
    """``--workers N|auto``: the number of processes asked for, None for auto."""
    if text == "auto":
        return None
    if not text.isdigit() or not 1 <= int(text) <= MAX_WORKERS:
        raise UsageError(f"--workers takes a number of processes from 1 to {MAX_WORKERS}, or auto; got {text!r}")
    return int(text)


def load_formats(
    format_files: Sequence[str] = (), *, report_failures: bool = True, named_files_required: bool = True
) -> tuple[FormatRegistry, list[PluginError]]:
    """Every loadable format; plugins that failed are reported by name on stderr.

    A format file the user named with ``--format-file`` is not optional: when it is broken the
    command stops with its error (exit 3) instead of going on without it, unless
    ``named_files_required`` is off (``promptfmt formats`` lists what did load).
    """
    if any(not path.strip() for path in format_files):
        raise UsageError("--format-file needs the path of a TOML format file, not an empty string")
    registry, failures = load_registry(format_files=tuple(format_files))
    named = {f"{FILE_PLUGIN_PREFIX}{path}" for path in format_files}
    if named_files_required:
        for failure in failures:
            if failure.plugin in named:
                raise failure
    if report_failures:
        for failure in failures:
            warn(f"Warning: {failure}")
    return registry, failures


def load_format(name: str, format_files: Sequence[str] = ()) -> Format:
    """The format called ``name``, loading the registry first (see `lookup_format`)."""
    registry, failures = load_formats(format_files)
    return lookup_format(registry, failures, name)


def lookup_format(registry: FormatRegistry, failures: Sequence[PluginError], name: str) -> Format:
    """The format called ``name``; when it is unknown and a plugin failed, blame the plugin (exit 3)."""
    try:
        return registry.get(name)
    except UnknownFormatError as exc:
        if failures:
            raise PluginError(", ".join(f.plugin for f in failures), f"{exc} (a plugin failed to load; see above)") from None
        raise


Command = TypeVar("Command", bound=Callable[..., Any])
_data: list[TextIO] = []  # the real stdout of each running command (innermost last)


def data_out() -> TextIO:
    """Where a command writes its data: the stdout it was started with (see `plugin_command`)."""
    return _data[-1] if _data else sys.stdout


def plugin_command(command: Command) -> Command:
    """A command that runs plugin code: stdout carries data only, whatever a plugin prints.

    For the whole command ``sys.stdout`` (what ``print`` writes to) is stderr, and the command
    writes its data to `data_out`, the stdout it was started with (``data_out().buffer`` for
    bytes). One redirection for the whole command, so that no per-record call pays for it.
    """

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        _data.append(sys.stdout)
        try:
            with contextlib.redirect_stdout(sys.stderr):
                return command(*args, **kwargs)
        finally:
            _data.pop()

    return run  # type: ignore[return-value]


@contextlib.contextmanager
def terminated_as_interrupt() -> Iterator[None]:
    """SIGTERM unwinds like Ctrl-C, so that temporary files are removed, workers stopped and OUT left untouched."""
    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, stop)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
