"""``promptfmt import-template``: turn a Jinja chat template into a verified declarative format file."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer

from ...errors import OutputError
from ...io import STDOUT, AtomicWriter, refuse_overwrite, require_input
from ...templating import ImportResult, import_chat_template, load_chat_template
from ..shared import warn


def import_template(
    template: Path = typer.Argument(
        ..., help="A Jinja chat template (.jinja) or a tokenizer_config.json with chat_template and its special tokens."
    ),
    name: str = typer.Option(..., "--name", help="The name of the new format."),
    output: str = typer.Option("-", "--output", "-o", metavar="PATH", help="Where to write the TOML file; - for stdout."),
    separator: str = typer.Option(
        "\n", "--separator", help="Joins instruction and input into the user message (default: a newline)."
    ),
    bos_token: str | None = typer.Option(None, "--bos-token", metavar="TEXT", help="Text of bos_token (overrides the tokenizer config)."),
    eos_token: str | None = typer.Option(None, "--eos-token", metavar="TEXT", help="Text of eos_token (overrides the tokenizer config)."),
    template_name: str | None = typer.Option(
        None, "--template-name", help="Which named template of a tokenizer config's chat_template list (default: 'default')."
    ),
    description: str | None = typer.Option(None, "--description", help="One line for 'promptfmt formats'."),
    reference: str | None = typer.Option(None, "--reference", help="The reference the format follows (default: the template file and its hash)."),
    force: bool = typer.Option(False, "--force", help="Overwrite the output file if it exists."),
) -> None:
    """Derive a declarative format from a chat template, verify it against the template, write it as TOML.

    The template is rendered only in a Jinja sandbox. The import refuses, and says why, a template
    that no declarative format can reproduce exactly (exit 1).
    """
    require_input(str(template))
    refuse_overwrite(str(template), [("--output", output)])
    tokens = {key: value for key, value in (("bos_token", bos_token), ("eos_token", eos_token)) if value is not None}
    chat_template = load_chat_template(template, template_name=template_name, tokens=tokens)
    result = import_chat_template(
        chat_template, name=name, separator=separator, description=description, reference=reference
    )
    header = (
        f"Imported by 'promptfmt import-template' from {chat_template.origin} (chat template sha256 {chat_template.sha256}).\n"
        f"Verified: {_verified(result)} render exactly as the template renders them (training text and prompt)."
    )
    text = result.toml(header=header)
    if output == STDOUT:
        sys.stdout.write(text)
    else:
        _write(output, text, force=force)
    warn(
        f"Imported {chat_template.origin} as format {name!r}: exact on {_verified(result)}"
        + ("" if output == "-" else f"; wrote {output}. Use it with --format-file {output}")
        + "."
    )
    for note in result.notes:
        warn(f"Note: {note}.")


def _verified(result: ImportResult) -> str:
    conversations = result.conversations_checked
    return f"{result.records_checked} generated records" + (
        f" and {conversations} generated conversations" if conversations else "")


def _write(path: str, text: str, *, force: bool) -> None:
    if os.path.exists(path) and not force:
        raise OutputError(f"--output {path} exists; pass --force to overwrite it")
    with AtomicWriter(path) as writer:
        writer.write(text.encode("utf-8"))


def register(app: typer.Typer) -> None:
    app.command("import-template")(import_template)
