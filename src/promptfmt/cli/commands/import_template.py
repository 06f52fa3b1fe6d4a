"""``promptfmt import-template``: turn a Jinja chat template into a verified declarative format file."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import typer

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
    from ...importer import MissingTokensError, import_chat_template, load_chat_template

    tokens = {key: value for key, value in (("bos_token", bos_token), ("eos_token", eos_token)) if value is not None}
    chat_template = load_chat_template(template, template_name=template_name, tokens=tokens)
    try:
        result = import_chat_template(
            chat_template, name=name, separator=separator, description=description, reference=reference
        )
    except MissingTokensError as exc:
        raise typer.BadParameter(exc.reason, param_hint="--bos-token/--eos-token") from None
    header = (
        f"Imported by 'promptfmt import-template' from {chat_template.origin} (chat template sha256 {chat_template.sha256}).\n"
        f"Verified: {result.records_checked} generated records render exactly as the template renders them "
        "(training text and prompt)."
    )
    text = result.toml(header=header)
    if output == "-":
        sys.stdout.write(text)
    else:
        _write_atomically(Path(output), text, force=force)
    warn(
        f"Imported {chat_template.origin} as format {name!r}: exact on {result.records_checked} generated records"
        + ("" if output == "-" else f"; wrote {output}. Use it with --format-file {output}")
        + "."
    )
    for note in result.notes:
        warn(f"Note: {note}.")


def _write_atomically(path: Path, text: str, *, force: bool) -> None:
    if path.exists() and not force:
        raise typer.BadParameter(f"{path} exists; pass --force to overwrite it", param_hint="--output")
    folder = path.parent if str(path.parent) else Path(".")
    try:
        handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise typer.BadParameter(f"cannot write {path}: {exc.strerror or exc}", param_hint="--output") from None
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def register(app: typer.Typer) -> None:
    app.command("import-template")(import_template)
