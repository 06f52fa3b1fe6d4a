"""Tokenizing columns for ``datasets.map(batched=True)``: records (``instruction``, ``input``,
``output``) or a ``messages`` column in, ``input_ids``, ``labels`` and ``attention_mask`` out, the
same columns `promptfmt tokenize` writes::

    from functools import partial
    from promptfmt.tokens import load_tokenizer
    from promptfmt.tokens.batch import tokenize_batch

    tokenizer = load_tokenizer("Qwen2.5-0.5B-Instruct")
    dataset = dataset.map(partial(tokenize_batch, format="qwen2.5", tokenizer=tokenizer), batched=True,
                          remove_columns=dataset.column_names)

An item that cannot be trained on (over ``max_length`` with trained tokens past it, nothing trained)
raises `promptfmt.batch.BatchError` naming the row: a map cannot quarantine, and dropping rows
would lose them silently (`promptfmt tokenize --quarantine` keeps them).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..batch import BatchError, conversations_of, fields_of, resolve_format
from ..conversion.stages import one_turn_of
from ..format import Format
from ..records.layouts import MESSAGES
from .labels import Labeler
from .service import fit
from .tokenizer import Tokenizer

_LABELERS: dict[tuple[int, str, bool, bool], Labeler] = {}


def tokenize_batch(
    batch: dict[str, Sequence[Any]],
    *,
    format: Format | str,
    tokenizer: Tokenizer,
    train_on: str = "assistant",
    max_length: int | None = None,
    messages: str = MESSAGES,
    instruction: str = "instruction",
    input: str = "input",
    output: str = "output",
    check_prefix: bool = False,
) -> dict[str, list[Any]]:
    """``input_ids``, ``labels`` and ``attention_mask`` for the rows of ``batch``: conversations when it
    has a ``messages`` column, else records. Findings (token boundaries, special-token text) are not
    reported here; `promptfmt tokenize` reports them."""
    fmt = resolve_format(format)
    labeler = _labeler(tokenizer, train_on, fmt.append_eos, check_prefix)
    conversations = _conversations(batch, fmt, messages, instruction, input, output)
    renderings = []
    for row, conversation in enumerate(conversations):
        try:
            renderings.append((fmt.render_conversation(conversation), conversation.messages))
        except ValueError as refused:  # ConversationRefused, or a plugin's own ValueError
            raise BatchError(f"row {row}: {refused}") from None
    columns: dict[str, list[Any]] = {"input_ids": [], "labels": [], "attention_mask": []}
    for row, tokenized in enumerate(labeler.tokenize(renderings)):
        fitted, problem = fit(tokenized, max_length)
        if problem is not None:
            raise BatchError(f"row {row}: {problem.code}: {problem.message}")
        for name, value in fitted.as_dict().items():
            columns[name].append(value)
    return columns


def _labeler(tokenizer: Tokenizer, train_on: str, append_eos: bool, check_prefix: bool) -> Labeler:
    key = (id(tokenizer), train_on, append_eos, check_prefix)
    labeler = _LABELERS.get(key)
    if labeler is None or labeler.tokenizer is not tokenizer:
        labeler = _LABELERS[key] = Labeler(tokenizer, train_on=train_on, append_eos=append_eos, check_prefix=check_prefix)
    return labeler


def _conversations(batch: dict[str, Sequence[Any]], fmt: Format, messages: str, instruction: str, input: str,
                   output: str) -> list[Any]:
    if messages in batch:
        return conversations_of(batch, messages)
    one_turn = one_turn_of(fmt)
    return [one_turn(*fields) for fields in zip(*fields_of(batch, instruction, input, output, False))]
