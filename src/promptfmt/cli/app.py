"""The typer application, the mapping of errors to exit codes, and ``main``.

Exit codes: 0 ok, 1 invalid data, 2 usage, 3 plugin failure (70 for a bug in promptfmt itself).
Data goes to stdout; messages, warnings and summaries to stderr.
"""

from __future__ import annotations

import os
import sys

import typer

from .. import __version__
from ..errors import DuplicateFormatError, PluginError, PromptfmtError, UsageError
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
) -> None:
    """Validate instruction datasets, render them in a model's prompt style, parse and convert them."""


def exit_code(exc: PromptfmtError) -> int:
    """One exit code per error family, decided here and nowhere else (see `promptfmt.errors`)."""
    if isinstance(exc, (PluginError, DuplicateFormatError)):
        return EXIT_PLUGIN
    if isinstance(exc, UsageError):
        return EXIT_USAGE
    return EXIT_DATA


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: no traceback ever reaches the user."""
    try:
        app(args=argv, prog_name="promptfmt")
    except PromptfmtError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        sys.exit(exit_code(exc))
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        sys.exit(130)
    except BrokenPipeError:  # `promptfmt ... | head` closed the pipe: not an error
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(EXIT_OK)
    except Exception as exc:  # a bug: one line, with how to see more
        if os.environ.get("PROMPTFMT_DEBUG"):
            raise
        print(
            f"Error: internal error: {type(exc).__name__}: {exc}. "
            "Please report it; set PROMPTFMT_DEBUG=1 to see the traceback.",
            file=sys.stderr,
        )
        sys.exit(EXIT_BUG)
