"""Records and conversations to output items of a layout: the record fields then the metadata.

The ``alpaca`` layout holds the fields; ``messages`` and ``sharegpt`` hold the conversation, the
record's user message being its instruction then ``"\\n"`` and its input (`layouts.join_user_message`),
its system message the metadata key ``system``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..conversation import Conversation, Message, RenderedConversation
from ..models import LossReason
from .fields import Problem
from .layouts import (
    _SHAREGPT_NAMES,
    ALPACA,
    LAYOUT_KEYS,
    MESSAGE_SEPARATOR,
    MESSAGES,
    PROMPT_COMPLETION,
    SHAREGPT,
    SYSTEM_KEY,
    TEXT,
    TOKENS,
    join_user_message,
    split_user_message,
)

Writer = Callable[[str, str, str, "dict[str, Any] | None"], "dict[str, Any]"]


def conversation_losses(instruction: str, input: str) -> tuple[str, ...]:
    """Loss reasons of a record written as a conversation and read back (see the module docstring)."""
    if MESSAGE_SEPARATOR in instruction and split_user_message(join_user_message(instruction, input)) != (instruction, input):
        return (LossReason.SEPARATOR_IN_INSTRUCTION.value,)
    return ()


def metadata_collisions(layout: str, metadata: dict[str, Any]) -> list[Problem]:
    """Problems for metadata keys that the output layout defines itself (they would overwrite each other)."""
    own = LAYOUT_KEYS[layout]
    return [
        Problem("metadata-collision", key,
                f"the record has a metadata key {key!r}, which the {layout} layout uses itself; "
                "rename the key, or pass --drop-metadata")
        for key in metadata if key in own
    ]


def conversation_item(layout: str, conversation: Conversation, metadata: dict[str, Any] | None) -> dict[str, Any]:
    """A conversation as an item of the ``messages`` or ``sharegpt`` layout, then its metadata."""
    if layout == MESSAGES:
        item: dict[str, Any] = {"messages": [{"role": m.role, "content": m.content} for m in conversation.messages]}
    else:
        item = {"conversations": [{"from": _SHAREGPT_NAMES[m.role], "value": m.content} for m in conversation.messages]}
    if metadata:
        item.update(metadata)
    return item


def rendered_item(layout: str, rendered: RenderedConversation, conversation: Conversation,
                  metadata: dict[str, Any] | None) -> dict[str, Any]:
    """A rendered conversation as an item of ``text``, ``prompt-completion`` or ``segments``, then its metadata.

    ``segments`` lists every piece in order: ``text``, ``message`` (its index, or null for template
    markup), ``role`` (null for markup) and ``trainable`` (an assistant message's text and the
    end-of-turn text after it): a trainer builds its loss mask from them without searching the text.
    """
    if layout == TOKENS:
        return RenderingItem(rendered, conversation.messages, metadata)
    if layout == TEXT:
        item: dict[str, Any] = {"text": rendered.text}
    elif layout == PROMPT_COMPLETION:
        item = {"prompt": rendered.prompt, "completion": rendered.completion}
    else:
        messages = conversation.messages
        item = {"segments": [
            {"text": s.text, "message": s.message, "role": None if s.message is None else messages[s.message].role,
             "trainable": s.trainable}
            for s in rendered.segments
        ]}
    if metadata:
        item.update(metadata)
    return item


class RenderingItem(dict):
    """The output item of the tokens layout before tokenizing: the item's metadata, carrying its
    rendering and messages (promptfmt.tokens turns them into ids and labels)."""

    def __init__(self, rendered: RenderedConversation, messages: list[Message], metadata: dict[str, Any] | None) -> None:
        super().__init__(metadata or {})
        self.rendered = rendered
        self.messages = messages


def to_alpaca(instruction: str, input: str, output: str, metadata: dict[str, Any] | None) -> dict[str, Any]:
    item: dict[str, Any] = {"instruction": instruction, "input": input, "output": output}
    if metadata:
        item.update(metadata)
    return item


def to_messages(instruction: str, input: str, output: str, metadata: dict[str, Any] | None) -> dict[str, Any]:
    system, rest = _split_system(metadata)
    messages = [{"role": "system", "content": system}] if system is not None else []
    messages += [
        {"role": "user", "content": join_user_message(instruction, input)},
        {"role": "assistant", "content": output},
    ]
    item: dict[str, Any] = {"messages": messages}
    if rest:
        item.update(rest)
    return item


def to_sharegpt(instruction: str, input: str, output: str, metadata: dict[str, Any] | None) -> dict[str, Any]:
    system, rest = _split_system(metadata)
    turns = [{"from": _SHAREGPT_NAMES["system"], "value": system}] if system is not None else []
    turns += [
        {"from": _SHAREGPT_NAMES["user"], "value": join_user_message(instruction, input)},
        {"from": _SHAREGPT_NAMES["assistant"], "value": output},
    ]
    item: dict[str, Any] = {"conversations": turns}
    if rest:
        item.update(rest)
    return item


def system_message(metadata: dict[str, Any] | None) -> str | None:
    """The system message a record carries (a string ``system`` metadata key), if any."""
    if metadata:
        system = metadata.get(SYSTEM_KEY)
        if isinstance(system, str):
            return system
    return None


def _split_system(metadata: dict[str, Any] | None) -> tuple[str | None, dict[str, Any] | None]:
    system = system_message(metadata)
    if system is None:
        return None, metadata
    return system, {key: value for key, value in metadata.items() if key != SYSTEM_KEY}  # type: ignore[union-attr]


WRITERS: dict[str, Writer] = {
    ALPACA: to_alpaca,
    MESSAGES: to_messages,
    SHAREGPT: to_sharegpt,
}


def writer(layout: str) -> Writer:
    """The function that builds an output item of ``layout`` (one that holds records, not rendered
    text) from a record's fields and metadata."""
    try:
        return WRITERS[layout]
    except KeyError:
        raise ValueError(f"no writer for the layout {layout!r}; the record layouts are {', '.join(WRITERS)}") from None
