"""``promptfmt import-template``: turn a Jinja chat template into a verified declarative format file."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import typer

from ...errors import OutputError, UsageError
from ...io import STDOUT, AtomicWriter, refuse_overwrite, require_input
from ...templating import (
    DEFAULT_LIMITS,
    ImportResult,
    Limits,
    TemplateImportError,
    import_chat_template,
    load_chat_template,
)
from ...templating.importer import refusal_report
from ..shared import EXIT_DATA, EXIT_USAGE, data_out, load_formats, plugin_command, warn


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
    token: list[str] = typer.Option(
        [], "--token", metavar="NAME=TEXT", help="Text of a special token, e.g. --token sep_token='<sep>' (repeatable)."),
    var: list[str] = typer.Option(
        [], "--var", metavar="NAME=VALUE",
        help="A template variable, as apply_chat_template(..., NAME=VALUE) passes it (repeatable); VALUE is JSON "
             "when it parses as JSON (false, 3, \"text\"), else text: --var date_string='26 Jul 2024'."),
    as_json: bool = typer.Option(
        False, "--json", help="Print what was derived (pieces, variables, system handling, what was verified) or the "
                              "refusal with its reason code as JSON on stdout; the TOML goes only to --output."),
    time_limit: float = typer.Option(
        DEFAULT_LIMITS.seconds, "--time-limit", metavar="SECONDS", min=0.1, max=86400,
        help="Refuse a template whose import (compiling and rendering it) takes longer."),
    memory_limit: int = typer.Option(
        DEFAULT_LIMITS.memory_mb, "--memory-limit", metavar="MB", min=16, max=1 << 30,
        help="Refuse a template whose import needs more memory (MB, beyond promptfmt's own)."),
    max_size: float = typer.Option(
        DEFAULT_LIMITS.max_size_mb, "--max-size", metavar="MB", min=0.001, max=1 << 20,
        help="Refuse a template or tokenizer config file larger than this (MB), before reading it."),
) -> None:
    """Derive a declarative format from a chat template, verify it against the template, write it as TOML.

    The template is rendered only in a Jinja sandbox, with the context Hugging Face apply_chat_template
    gives it (tools and documents none, the special tokens, your --var variables). The import
    refuses, and says why, a template that no declarative format can reproduce exactly (exit 1).
    """
    require_input(str(template))
    refuse_overwrite(str(template), [("--output", output)])
    _check_name_is_free(name)
    tokens = {key: value for key, value in (("bos_token", bos_token), ("eos_token", eos_token)) if value is not None}
    tokens.update((name, text) for name, text in _pairs("--token", token, json_values=False))
    variables = dict(_pairs("--var", var, json_values=True))
    limits = Limits(seconds=time_limit, memory_mb=memory_limit, max_size_mb=max_size)
    try:
        chat_template = load_chat_template(
            template, template_name=template_name, tokens=tokens, variables=variables, max_bytes=limits.max_bytes)
        result = import_chat_template(
            chat_template, name=name, separator=separator, description=description, reference=reference, limits=limits
        )
    except TemplateImportError as exc:
        if not as_json:
            raise
        data_out().write(json.dumps(refusal_report(exc), ensure_ascii=False, indent=2) + "\n")
        raise typer.Exit(EXIT_USAGE if isinstance(exc, UsageError) else EXIT_DATA) from None
    header = (
        f"Imported by 'promptfmt import-template' from {chat_template.origin} (chat template sha256 {chat_template.sha256}).\n"
        + "".join(f"Template variable: {key} = {json.dumps(value)}\n" for key, value in sorted(variables.items()))
        + f"Verified: {_verified(result)} render exactly as the template renders them (training text and prompt)."
    )
    text = result.toml(header=header)
    if as_json:
        data_out().write(json.dumps(result.report(), ensure_ascii=False, indent=2) + "\n")
    if output == STDOUT and not as_json:
        data_out().write(text)
    elif output != STDOUT:
        _write(output, text, force=force)
    warn(
        f"Imported {chat_template.origin} as format {name!r}: exact on {_verified(result)}"
        + ("" if output == "-" else f"; wrote {output}. Use it with --format-file {output}")
        + "."
    )
    for note in result.notes:
        warn(f"Note: {note}.")


def _check_name_is_free(name: str) -> None:
    """A file whose format name an installed format already has could never be loaded beside it."""
    registry, _ = load_formats(report_failures=False)
    if name in registry:
        taken = registry.get(name)
        what = "a format" if taken.name == name else f"an alias of the format {taken.name!r}"
        raise UsageError(f"--name {name!r} is already {what} (promptfmt formats lists it), so the file could not be "
                         "loaded beside it: choose another --name")


def _pairs(option: str, values: list[str], *, json_values: bool) -> list[tuple[str, Any]]:
    """``NAME=VALUE`` options as pairs; a value is JSON where it parses as JSON and ``json_values``."""
    pairs: list[tuple[str, Any]] = []
    for given in values:
        name, equals, value = given.partition("=")
        if not equals or not name.isidentifier():
            raise UsageError(f"{option} {given!r}: write NAME=VALUE, NAME a template variable name (letters, digits, _)")
        parsed: Any = value
        if json_values:
            try:
                parsed = json.loads(value)
            except ValueError:
                parsed = value
        pairs.append((name, parsed))
    return pairs


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
    app.command("import-template")(plugin_command(import_template))
