"""The typer application, the mapping of errors to exit codes, and ``main``.

Exit codes: 0 ok, 1 invalid data, 2 usage, 3 plugin failure (70 for a bug in promptfmt itself).
Data goes to stdout; messages, warnings and summaries to stderr.
"""

from __future__ import annotations

import errno
import functools
import io
import os
import sys
from collections.abc import Callable
from typing import Any

import typer

from .. import __version__
from ..errors import DuplicateFormatError, OSFailure, PluginError, PromptfmtError, UsageError, WriteError, os_reason
from ..io.depth import MAX_DEPTH
from ..io.limits import DEEPEST, DEFAULT_MAX_RECORD_BYTES, set_max_depth, set_max_record_bytes
from . import commands
from .shared import EXIT_BUG, EXIT_DATA, EXIT_OK, EXIT_PLUGIN, EXIT_USAGE

app = typer.Typer(
    name="promptfmt",
    help="Validate instruction datasets, render them in a model's prompt style, parse and convert them.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
commands.register_all(app)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"promptfmt {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    version: bool = typer.Option(
        False, "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
    ),
    max_record_mb: int = typer.Option(
        DEFAULT_MAX_RECORD_BYTES >> 20, "--max-record-mb", envvar="PROMPTFMT_MAX_RECORD_MB", min=1, max=1 << 20,
        help="The longest record (line of JSON Lines, item of an array) read, in MiB; a longer one is reported "
        "as too-large and skipped without being held in memory. Give it before the command.",
    ),
    max_depth: int = typer.Option(
        MAX_DEPTH, "--max-depth", envvar="PROMPTFMT_MAX_DEPTH", min=1, max=DEEPEST,
        help="How deep one value may nest (arrays and objects); a deeper one is reported as invalid-json and "
        "skipped. Give it before the command.",
    ),
) -> None:
    """Validate instruction datasets, render them in a model's prompt style, parse and convert them."""
    set_max_record_bytes(max_record_mb << 20)
    set_max_depth(max_depth)


def exit_code(exc: PromptfmtError) -> int:
    """One exit code per error family, decided here and nowhere else (see `promptfmt.errors`)."""
    if isinstance(exc, (PluginError, DuplicateFormatError)):
        return EXIT_PLUGIN
    if isinstance(exc, UsageError):
        return EXIT_USAGE
    return EXIT_DATA


class _PipeClosed(Exception):
    """The reader of stdout went away (``| head``): not an OSError, so that click does not see it."""


def _os_errors_reported(command: Callable[..., Any]) -> Callable[..., Any]:
    """``command`` with a closed pipe made quiet and any OS error it did not locate made one line.

    The services name the file of an OS error they meet (`WriteError`, `InputPathError`, unreadable
    items); this is the net under them, so that an OS error is never an internal error.
    """

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except BrokenPipeError:
            raise _PipeClosed() from None
        except OSError as exc:
            where = f"{exc.filename}: " if exc.filename else _stdout_if_failing(exc)
            raise OSFailure(f"{where}{os_reason(exc)}") from None
        except UnicodeEncodeError as exc:  # text for the terminal or a pipe: a lone surrogate has no UTF-8
            raise OSFailure(f"stdout: the text holds {exc.object[exc.start:exc.end]!r}, a lone surrogate, which "
                            "cannot be written as UTF-8; 'promptfmt validate' finds the record") from None
        except RecursionError:
            raise OSFailure("the input is nested too deeply to be handled") from None

    return run


for _info in app.registered_commands:
    if _info.callback is not None:
        _info.callback = _os_errors_reported(_info.callback)


def _devnull() -> Any:
    """Where text goes once its stream failed and was reported: nowhere, for the life of the process."""
    return open(os.devnull, "w")


_WRITE_ERRNOS = frozenset((errno.ENOSPC, errno.EIO, errno.EBADF, errno.EFBIG, errno.EDQUOT))


def _stdout_if_failing(exc: OSError) -> str:
    """``"stdout: "`` for a write error with no file name: files are written by the services, which
    name them (`WriteError`), so what is left is a command's own stdout (``print``, ``typer.echo``)."""
    if exc.errno not in _WRITE_ERRNOS:
        return ""
    sys.stdout = _devnull()
    return "stdout: "


class _ClosedOutput(io.RawIOBase):
    """Standard output of a process started with it closed (``>&-``): every write fails, by name."""

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        raise OSError(errno.EBADF, "standard output is closed; give -o FILE, or run with a standard output")


def _standard_streams() -> None:
    """Closed standard streams: their descriptors held by /dev/null, so that no file we open takes
    descriptor 1 by chance; a closed stdout fails when data is written to it; a closed stderr must
    not send messages to stdout (``print(file=None)`` writes to stdout)."""
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            os.open(os.devnull, os.O_RDWR)  # the lowest free descriptor: this one
    if sys.stdout is None:
        sys.stdout = io.TextIOWrapper(io.BufferedWriter(_ClosedOutput()))
    if sys.stderr is None:
        sys.stderr = _devnull()
    elif not isinstance(sys.stderr, _Messages):
        sys.stderr = _Messages(sys.stderr)


class _Messages:
    """stderr, whose reader may go away (``2>&1 | head``): the messages are then dropped, and the run
    goes on to write its outputs and exit with its own code. Only stdout's pipe ends a run."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return int(self._stream.write(text))
        except BrokenPipeError:
            self._stream = _devnull()
            return len(text)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError:
            self._stream = _devnull()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _quiet_pipe_end() -> None:
    """``| head`` closed stdout: exit 0 as ``cat`` does, with nothing more flushed to the pipe."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (AttributeError, OSError, ValueError):
        pass
    sys.exit(EXIT_OK)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: no traceback ever reaches the user."""
    _standard_streams()
    try:
        _main(argv)
    finally:
        _settle_stdout()


def _flush_stdout() -> None:
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        raise
    except OSError as exc:
        sys.stdout = _devnull()
        raise WriteError("stdout", os_reason(exc), atomic=False) from None


def _settle_stdout() -> None:
    """What stdout still holds is flushed now; when it cannot be (a reported failure), it is dropped
    rather than reported again by the interpreter at exit."""
    try:
        sys.stdout.flush()
    except (OSError, ValueError):
        sys.stdout = _devnull()


def _main(argv: list[str] | None) -> None:
    try:
        try:
            app(args=argv, prog_name="promptfmt")
        finally:
            _flush_stdout()  # here, not at exit, where a closed pipe is reported as an error
    except PromptfmtError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        sys.exit(exit_code(exc))
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        sys.exit(130)
    except (_PipeClosed, BrokenPipeError):
        _quiet_pipe_end()
    except OSError as exc:  # outside a command (writing help or a usage message)
        print(f"Error: {os_reason(exc)}", file=sys.stderr)
        sys.exit(EXIT_DATA)
    except Exception as exc:  # a bug: one line, with how to see more
        if os.environ.get("PROMPTFMT_DEBUG"):
            raise
        print(
            f"Error: internal error: {type(exc).__name__}: {exc}. "
            "Please report it; set PROMPTFMT_DEBUG=1 to see the traceback.",
            file=sys.stderr,
        )
        sys.exit(EXIT_BUG)
