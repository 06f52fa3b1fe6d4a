"""The checks of a conversation item (``messages`` or ``sharegpt``) in `Validator`.

The rules of a conversation (roles in order, string contents, no other keys in a message) are
structural: an item that breaks one is refused with the rule's code, located at the message
(``messages.3.role``). Then each user and assistant message must hold text (``empty-message``), every
content gets the content checks of record fields (markers, placeholders, control characters), a
conversation seen before is a ``duplicate-conversation``, and with ``--format`` the format's verdict
(`Format.check_conversation`) is reported as ``lossy-in-format``.
"""

from __future__ import annotations

from typing import Any

from ..conversation import ConversationRefused
from ..format import Format
from ..io import Item
from ..records.layouts import conversation_of
from .content import ALL_CHECKS
from .issues import Issue

_CONTENT_KEY = {"messages": ("messages", "content"), "sharegpt": ("conversations", "value")}


class ConversationChecks:
    """A mixin: `Validator` provides ``_add``, ``_scan``, ``_done``, ``format`` and the duplicate switch."""

    format: Format | None
    _conversations_seen: dict[int, int] | None

    def _add(self, issues: list[Issue], item: Item, code: str, field: str, message: str,
             column: int | None = None, related: int | None = None) -> None:
        raise NotImplementedError

    def _scan(self, issues: list[Issue], item: Item, field: str, text: str, checks: int,
              key: str | None = None) -> None:
        raise NotImplementedError

    def _check_conversation(self, item: Item, value: dict[str, Any], layout: str) -> list[Issue]:
        """Every issue of the conversation item ``value`` of ``layout``."""
        issues: list[Issue] = []
        conversation = conversation_of(value, layout)
        if isinstance(conversation, list):
            for problem in conversation:
                self._add(issues, item, problem.code, problem.field, problem.message)
            return issues
        list_key, content_key = _CONTENT_KEY[layout]
        for index, message in enumerate(conversation.messages):
            where = f"{list_key}.{index}.{content_key}"
            if message.role != "system" and not message.content.strip():
                what = "is empty" if not message.content else "is only whitespace"
                self._add(issues, item, "empty-message", where,
                          f"the {message.role} message {what}: fill it in or drop the turn")
            elif message.content:
                self._scan(issues, item, message.role, message.content, ALL_CHECKS, key=where)
        seen = self._conversations_seen
        if seen is not None:
            first = seen.setdefault(hash(tuple((m.role, m.content) for m in conversation.messages)), item.index)
            if first != item.index:
                self._add(issues, item, "duplicate-conversation", "$",
                          f"the same messages as conversation {first}: it is trained twice", related=first)
        if self.format is not None:
            self._format_verdict(issues, item, conversation, list_key)
        return issues

    def _format_verdict(self, issues: list[Issue], item: Item, conversation: Any, list_key: str) -> None:
        fmt = self.format
        assert fmt is not None
        try:
            verdict = fmt.check_conversation(conversation)
        except ConversationRefused as refused:
            where = list_key if refused.index is None else f"{list_key}.{refused.index}"
            self._add(issues, item, "lossy-in-format", where,
                      f"format {fmt.name} cannot render this conversation at all: {refused.reason} ({refused.code})")
            return
        for loss in verdict.losses:
            self._add(issues, item, "lossy-in-format", loss.field.replace("messages", list_key, 1),
                      f"format {fmt.name} cannot render this conversation losslessly: {loss.message} "
                      f"({loss.reason.value})")
