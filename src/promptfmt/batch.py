"""Batch functions, columns in and columns out, for Hugging Face ``datasets.map(batched=True)``.

Formatting is embarrassingly parallel : these functions take a batch as a dict
of equal-length columns and return new columns, so that ``datasets`` (``num_proc=N``), and through
the same functions Spark or Ray, spread the work::

    from functools import partial
    from promptfmt.batch import render_batch

    dataset = dataset.map(partial(render_batch, format="phi3"), batched=True, num_proc=8)

``format`` is a `promptfmt.Format` or a registered name (looked up once per process). Nothing is
changed silently: a value that is not a string raises `BatchError` naming the row and the column
(``null_as_empty=True`` reads null as ""), except null in the input column, which means no input:
``datasets`` fills a key that a record leaves out with None, and a missing input is an empty one
(docs/architecture.md, "Semantics"). ``lossless=True`` adds the columns ``lossless`` and
``loss_reasons`` so that lossy records can be counted or filtered out; ``strip_bos=True`` writes the
text (or prompt) without the format's leading BOS text.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from .conversation import Conversation, ConversationRefused
from .errors import PromptfmtError, UnknownFormatError
from .format import Format
from .models import Record
from .plugins import default_registry
from .records.builders import conversation_losses
from .records.layouts import PROMPT_COMPLETION, TEXT, join_user_message

_FORMATS: dict[str, Format] = {}


class BatchError(PromptfmtError, ValueError):
    """A batch value that is not what the function needs (names the row and the column)."""


def resolve_format(format: Format | str) -> Format:
    """``format`` itself, or the registered format of that name (the registry is loaded once per process)."""
    if isinstance(format, Format):
        return format
    if not _FORMATS:
        registry = default_registry()  # a plugin that failed raises its PluginError
        _FORMATS.update({name: fmt for fmt in registry for name in (fmt.name, *fmt.aliases)})
    try:
        return _FORMATS[format]
    except KeyError:
        raise UnknownFormatError(format, _FORMATS) from None


def render_batch(
    batch: dict[str, Sequence[Any]],
    *,
    format: Format | str,
    layout: str = TEXT,
    instruction: str = "instruction",
    input: str = "input",
    output: str = "output",
    null_as_empty: bool = False,
    lossless: bool = False,
    messages: str | None = None,
    strip_bos: bool = False,
) -> dict[str, list[Any]]:
    """The records of ``batch`` rendered in ``format``: a ``text`` column, or ``prompt`` and ``completion``.

    ``instruction``, ``input`` and ``output`` name the columns to read (a batch without the input
    column has no input). ``messages`` names a column of conversations (lists of ``{role, content}``)
    to render instead, turn by turn (``prompt``: everything before the last assistant message).
    ``lossless=True`` adds ``lossless`` (bool) and ``loss_reasons`` (list of reason codes) per row,
    from `Format.check` (`Format.check_conversation` for conversations), judged on the whole rendering.
    ``strip_bos=True`` leaves the format's leading BOS text (`Format.bos`: ``<|begin_of_text|>``,
    ``<bos>``, ``<s>``) out of ``text`` or ``prompt``, for a tokenizer that adds its own.
    """
    if layout not in (TEXT, PROMPT_COMPLETION):
        raise BatchError(f"render_batch writes the {TEXT} or {PROMPT_COMPLETION} layout, not {layout!r}")
    fmt = resolve_format(format)
    columns: dict[str, list[Any]]
    if messages is not None:
        columns = _render_conversations(fmt, conversations_of(batch, messages), layout, lossless)
        return _without_bos(fmt, columns) if strip_bos else columns
    instructions, inputs, outputs = fields_of(batch, instruction, input, output, null_as_empty)
    if layout == TEXT:
        columns = {"text": list(map(fmt.render_text_fields, instructions, inputs, outputs))}
    else:
        pairs = list(map(fmt.render_fields, instructions, inputs, outputs))
        columns = {"prompt": [prompt for prompt, _ in pairs], "completion": [completion for _, completion in pairs]}
    if strip_bos:
        _without_bos(fmt, columns)
    if lossless:
        reasons = [
            sorted({str(getattr(loss.reason, "value", loss.reason)) for loss in fmt.check_fields(i, x, o).losses})
            for i, x, o in zip(instructions, inputs, outputs)
        ]
        columns["lossless"] = [not r for r in reasons]
        columns["loss_reasons"] = reasons
    return columns


def parse_batch(batch: dict[str, Sequence[Any]], *, format: Format | str, column: str = "text") -> dict[str, list[str]]:
    """The ``instruction``, ``input`` and ``output`` columns of texts rendered in ``format``.

    A text the format did not produce, or a prompt without completion, raises `BatchError` naming
    the row and where the text stopped matching.
    """
    fmt = resolve_format(format)
    texts = _column(batch, column)
    columns: dict[str, list[str]] = {"instruction": [], "input": [], "output": []}
    for row, text in enumerate(texts):
        if not isinstance(text, str):
            raise BatchError(f"row {row}: {column} must be a string, got {type(text).__name__}")
        try:
            parsed = fmt.parse(text)
        except ValueError as exc:
            raise BatchError(f"row {row}: {column}: {exc}") from None
        if not isinstance(parsed, Record):
            raise BatchError(f"row {row}: {column} is a {fmt.name} prompt without a completion: there is no output")
        columns["instruction"].append(parsed.instruction)
        columns["input"].append(parsed.input)
        columns["output"].append(parsed.output)
    return columns


def messages_batch(
    batch: dict[str, Sequence[Any]],
    *,
    instruction: str = "instruction",
    input: str = "input",
    output: str = "output",
    null_as_empty: bool = False,
    lossless: bool = False,
) -> dict[str, list[Any]]:
    """A ``messages`` column (OpenAI chat, one user and one assistant message) for the records of ``batch``.

    The user message is the instruction, then ``"\\n"`` and the input when there is one (see
    `promptfmt.records.layouts`); ``lossless=True`` adds ``lossless`` and ``loss_reasons``.
    """
    instructions, inputs, outputs = fields_of(batch, instruction, input, output, null_as_empty)
    columns: dict[str, list[Any]] = {"messages": [
        [{"role": "user", "content": join_user_message(i, x)}, {"role": "assistant", "content": o}]
        for i, x, o in zip(instructions, inputs, outputs)
    ]}
    if lossless:
        reasons = [list(conversation_losses(i, x)) for i, x in zip(instructions, inputs)]
        columns["lossless"] = [not r for r in reasons]
        columns["loss_reasons"] = reasons
    return columns


def conversations_of(batch: dict[str, Sequence[Any]], name: str) -> list[Conversation]:
    conversations = []
    for row, value in enumerate(_column(batch, name)):
        try:
            conversations.append(Conversation.model_validate({"messages": value}))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = "".join(f"{part}: " for part in [".".join(str(p) for p in first["loc"])] if part)
            raise BatchError(f"row {row}: {name}: {where}{first['msg'].removeprefix('Value error, ')}") from None
    return conversations


def _render_conversations(fmt: Format, conversations: list[Conversation], layout: str,
                          lossless: bool) -> dict[str, list[Any]]:
    rendered = []
    for row, conversation in enumerate(conversations):
        try:
            rendered.append(fmt.render_conversation(conversation))
        except ConversationRefused as refused:
            raise BatchError(f"row {row}: {refused}") from None
    columns: dict[str, list[Any]]
    if layout == TEXT:
        columns = {"text": [r.text for r in rendered]}
    else:
        columns = {"prompt": [r.prompt for r in rendered], "completion": [r.completion for r in rendered]}
    if lossless:
        reasons = [sorted({loss.reason.value for loss in fmt.check_conversation(c).losses}) for c in conversations]
        columns["lossless"] = [not r for r in reasons]
        columns["loss_reasons"] = reasons
    return columns


def _without_bos(fmt: Format, columns: dict[str, list[Any]]) -> dict[str, list[Any]]:
    name = "text" if "text" in columns else "prompt"
    columns[name] = [fmt.without_bos(text) for text in columns[name]]
    return columns


def _column(batch: dict[str, Sequence[Any]], name: str) -> Sequence[Any]:
    try:
        return batch[name]
    except KeyError:
        raise BatchError(f"the batch has no column {name!r} (it has {', '.join(map(repr, batch)) or 'none'})") from None


def fields_of(
    batch: dict[str, Sequence[Any]], instruction: str, input: str, output: str, null_as_empty: bool
) -> tuple[list[str], list[str], list[str]]:
    instructions, outputs = _column(batch, instruction), _column(batch, output)
    inputs = batch[input] if input in batch else [""] * len(instructions)
    if not len(instructions) == len(inputs) == len(outputs):
        raise BatchError(f"the columns have different lengths: {len(instructions)}, {len(inputs)}, {len(outputs)}")
    # None in the input column is how `datasets` fills an input a record leaves out: no input
    return (_strings(instructions, instruction, null_as_empty), _strings(inputs, input, True),
            _strings(outputs, output, null_as_empty))


def _strings(values: Sequence[Any], name: str, null_as_empty: bool) -> list[str]:
    result = list(values)
    for row, value in enumerate(result):
        if type(value) is str:
            continue
        if value is None and null_as_empty:
            result[row] = ""
            continue
        hint = ': give it a text, or pass null_as_empty=True to read null as ""' if value is None else ""
        raise BatchError(f"row {row}: {name} must be a string, got {'null' if value is None else type(value).__name__}{hint}")
    return result
