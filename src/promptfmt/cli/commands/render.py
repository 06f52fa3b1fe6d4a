"""``promptfmt render``: render the records of a dataset in one format."""

from __future__ import annotations

from typing import Any

import typer

from ...conversation import ConversationRefused, RenderedConversation
from ...format import Format
from ...io import Source, input_unit, read_items, require_input
from ...io.jsonout import encode
from ...models import Rendered
from ...records.fields import Problem, to_record
from ...records.layouts import conversation_layout, conversation_of, message_field
from ...validation.issues import ERROR, Issue
from ..shared import EXIT_DATA, EXIT_USAGE, FORMAT_FILE_OPTION, HUB_HELP, data_out, load_format, plugin_command, warn


def render(
    file: str = typer.Argument(
        ..., help="A dataset of records or conversations: JSON Lines, JSON array, Parquet, Arrow folder or CSV, "
        + HUB_HELP + ", or - for stdin."),
    format_name: str = typer.Option(..., "--format", "-f", help="The format to render in (see 'promptfmt formats')."),
    index: int | None = typer.Option(None, "--index", "-n", min=0, help="Render only the record at this 0-based index."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per record: prompt, completion, text."),
    null_as_empty: bool = typer.Option(False, "--null-as-empty", help='Treat null in a record field as "" instead of an error.'),
    strip_bos: bool = typer.Option(
        False, "--strip-bos",
        help="Print the text (and with --json the prompt) without the format's leading BOS text "
        "(<|begin_of_text|>, <bos>, <s>), for a tokenizer that adds its own.",
    ),
    format_files: list[str] = FORMAT_FILE_OPTION,
) -> None:
    """Render records and conversations (messages, sharegpt); invalid ones are reported on stderr
    (FILE:LINE: record N: field: message), exit 1."""
    require_input(file)
    fmt = load_format(format_name, format_files)
    source = Source(file)
    unit = input_unit(file)
    invalid = seen = 0
    out = data_out()
    for item in read_items(file):
        seen += 1
        if index is not None and item.index != index:
            continue
        if item.error is not None:
            warn(Issue(item.code, ERROR, item.index, item.line, "$", item.error).format(source.name, unit))
            invalid += 1
            continue
        rendered = _rendered(fmt, item.value, null_as_empty)
        if isinstance(rendered, list):
            for problem in rendered:
                warn(Issue(problem.code, ERROR, item.index, item.line, problem.field, problem.message).format(source.name, unit))
            invalid += 1
            continue
        shown = rendered.as_dict()
        if strip_bos:  # the user's choice for the tokenizer: the rendering itself is unchanged
            shown["prompt"], shown["text"] = fmt.without_bos(shown["prompt"]), fmt.without_bos(shown["text"])
        if as_json:  # the one JSON encoder: a lone surrogate is escaped, as JSON allows
            out.write(encode(shown).decode() + "\n")
            continue
        try:
            out.write(("" if index is not None or item.index == 0 else "\n") + shown["text"] + "\n")
        except UnicodeEncodeError as exc:  # plain text has no way to carry a lone surrogate
            message = (f"the text holds {exc.object[exc.start:exc.end]!r}, a lone surrogate, which cannot be written "
                       "as UTF-8 text; --json escapes it")
            warn(Issue("control-character", ERROR, item.index, item.line, "$", message).format(source.name, unit))
            invalid += 1
    if index is not None and index >= seen:
        warn(f"Error: there is no record {index}: {source.name} has {seen} record(s) (indexes start at 0).")
        raise typer.Exit(EXIT_USAGE)
    if invalid:
        warn(f"{invalid} invalid record(s) were not rendered. Run 'promptfmt validate {source.name}' for every finding.")
        raise typer.Exit(EXIT_DATA)


def _rendered(fmt: Format, value: Any, null_as_empty: bool) -> Rendered | RenderedConversation | list[Problem]:
    """A record's rendering, or a conversation's (``messages`` or ``sharegpt`` items), or the problems."""
    layout = conversation_layout(value) if isinstance(value, dict) else None
    if layout is None:
        record = to_record(value, null_as_empty=null_as_empty)
        return record if isinstance(record, list) else fmt.render(record)
    conversation = conversation_of(value, layout)
    if isinstance(conversation, list):
        return conversation
    try:
        return fmt.render_conversation(conversation)
    except ConversationRefused as refused:
        return [Problem(refused.code, message_field(layout, refused.index), refused.reason)]


def register(app: typer.Typer) -> None:
    app.command("render")(plugin_command(render))
