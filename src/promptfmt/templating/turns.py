"""Chat formats described turn by turn: how a template renders any number of turns and a system message.

`ChatTurns` holds the literal pieces per role. A conversation renders as::

    bos + [system] + (user_prefix + user + user_suffix
                      + generation_prompt + response_prefix + assistant + turn_end) ... [+ final]

* the system message is placed as the template places it (``system``): its own turn
  (``system_prefix + system + system_suffix``), inside the first user message
  (``system_prefix + system + system_suffix + user``, Llama-2's ``<<SYS>>`` block), or refused
  (``system-not-supported``) where the official template raises. ``default_system`` is the
  template's own system text, rendered (as markup) only when the conversation has none;
* the prompt of a conversation ending with a user message ends with the generation prompt;
* ``final`` (an EOS text such as Phi-3's ``<|endoftext|>``) follows the last assistant message;
* ``trim`` strips the user and system contents (as ``| trim`` does, the whole first user message
  with the system block inside it for Llama-2), ``trim_output`` the assistant contents;
  ``trim_system`` overrides ``trim`` for the system content alone (True: stripped on its own, also
  before it goes inside the first user message; False: never stripped on its own).

The segments say which text belongs to which message; an assistant message's segment is
``response_prefix + content + turn_end`` (and ``final`` after the last one): the trainable text.
`ChatTurns.template` is the one-turn `Template` of the same pieces, so a record renders exactly as a
one-turn conversation does.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..conversation import (
    Conversation,
    ConversationRefused,
    Message,
    RenderedConversation,
    Segment,
)
from ..errors import ParseError
from .pieces import Template

SYSTEM_TURN, SYSTEM_IN_FIRST_USER, SYSTEM_REFUSED = "turn", "first-user", "refused"
SYSTEM_PLACEMENTS = (SYSTEM_TURN, SYSTEM_IN_FIRST_USER, SYSTEM_REFUSED)


@dataclass(frozen=True)
class ChatTurns:
    """The literal pieces of a chat template, per role (see the module docstring)."""

    user_prefix: str
    user_suffix: str
    generation_prompt: str = ""
    response_prefix: str = ""
    turn_end: str = ""
    final: str = ""
    bos: str = ""
    system: str = SYSTEM_TURN
    system_prefix: str = ""
    system_suffix: str = ""
    default_system: str | None = None
    trim: bool = False
    trim_output: bool = False
    separator: str = "\n"
    extra_markers: tuple[str, ...] = ()
    trim_system: bool | None = None

    def __post_init__(self) -> None:
        if self.system not in SYSTEM_PLACEMENTS:
            raise ValueError(f"system must be one of {', '.join(SYSTEM_PLACEMENTS)}, not {self.system!r}")

    def template(self) -> Template:
        """The one-turn `Template`: what a record (one user and one assistant message) renders as."""
        default = ""
        if self.default_system is not None and self.system == SYSTEM_TURN:
            default = self.system_prefix + self.default_system + self.system_suffix
        return Template(
            prefix=self.bos + default + self.user_prefix,
            separator=self.separator,
            prompt_suffix=self.user_suffix + self.generation_prompt,
            response_prefix=self.response_prefix,
            end=self.turn_end + self.final,
            chat=True,
            trim=self.trim,
            trim_output=self.trim_output,
            extra_markers=self.extra_markers,
        )

    def render(self, conversation: Conversation, format_name: str) -> RenderedConversation:
        """The segments of ``conversation``; `ConversationRefused` for a system message it cannot place."""
        out = _Segments()
        out.markup(self.bos)
        messages = conversation.messages
        first_user_wrap: int | None = None  # the system message's index, to wrap into the first user message
        if messages[0].role == "system":
            if self.system == SYSTEM_REFUSED:
                raise ConversationRefused(
                    "system-not-supported", 0,
                    f"{format_name} has no place for a system message (its chat template raises, leaves it out, or "
                    "places it where promptfmt cannot follow exactly); drop the system message, or choose a format "
                    "that takes one")
            if self.system == SYSTEM_TURN:
                out.markup(self.system_prefix)
                out.content(messages[0].content.strip() if self._trims_system else messages[0].content, 0)
                out.markup(self.system_suffix)
            else:
                first_user_wrap = 0
        elif self.default_system is not None and self.system == SYSTEM_TURN:
            out.markup(self.system_prefix + self.default_system + self.system_suffix)
        last = len(messages) - 1
        for index, message in enumerate(messages):
            if message.role == "user":
                out.markup(self.user_prefix)
                if first_user_wrap is not None:
                    system = messages[first_user_wrap].content
                    self._wrapped_user(out, system.strip() if self.trim_system else system, message.content,
                                       first_user_wrap, index)
                    first_user_wrap = None
                else:
                    out.content(self._trimmed(message.content), index)
                out.markup(self.user_suffix)
            elif message.role == "assistant":
                content = message.content.strip() if self.trim or self.trim_output else message.content
                out.markup(self.generation_prompt)
                out.trainable(self.response_prefix + content + self.turn_end + (self.final if index == last else ""),
                              index)
        if conversation.is_prompt:
            out.markup(self.generation_prompt)
        return RenderedConversation(out.result())

    def parse(self, text: str, format_name: str) -> Conversation:
        """The conversation that renders as ``text``; `ParseError` (offset, what was expected) otherwise.

        Deterministic, like the rendering: each content ends at the first occurrence of the literal
        that follows it. A text that starts with the default system turn has no system message.
        """
        cursor = _Cursor(text, format_name)
        cursor.expect(self.bos, "the start of the text")
        messages: list[Message] = []
        default = None if self.default_system is None else self.system_prefix + self.default_system + self.system_suffix
        if self.system == SYSTEM_TURN:
            if default is not None and cursor.at(default + self.user_prefix):
                cursor.expect(default, "the default system turn")
            elif (self.system_prefix or default is not None) and cursor.at(self.system_prefix) \
                    and not cursor.at(self.user_prefix):
                cursor.expect(self.system_prefix, "a system turn")
                # the first user turn always follows: it ends the system message
                content = cursor.until(self.system_suffix + self.user_prefix, keep=len(self.user_prefix))
                messages.append(Message.model_construct(role="system", content=content))
        after_user = self.user_suffix + self.generation_prompt
        while True:
            cursor.expect(self.user_prefix, "a user turn")
            if not messages and self.system == SYSTEM_IN_FIRST_USER and self.system_prefix and cursor.at(self.system_prefix):
                cursor.expect(self.system_prefix, "the system block")
                messages.append(Message.model_construct(role="system", content=cursor.until(self.system_suffix)))
            user = cursor.until(after_user)
            messages.append(Message.model_construct(role="user", content=user))
            if cursor.done():
                return Conversation.model_construct(messages=messages)
            cursor.expect(self.response_prefix, "the answer")
            answer = cursor.until(self.turn_end)
            messages.append(Message.model_construct(role="assistant", content=answer))
            if cursor.rest() == self.final:
                return Conversation.model_construct(messages=messages)

    @property
    def trimmed_roles(self) -> frozenset[str]:
        """The roles whose contents the template strips."""
        roles = {"user", "assistant"} if self.trim else {"assistant"} if self.trim_output else set()
        return frozenset(roles | {"system"} if self._trims_system else roles)

    @property
    def _trims_system(self) -> bool:
        return self.trim if self.trim_system is None else self.trim_system

    def _trimmed(self, text: str) -> str:
        return text.strip() if self.trim else text

    def _wrapped_user(self, out: _Segments, system: str, user: str, system_index: int, user_index: int) -> None:
        """The first user message with the system block inside it, trimmed as one text when ``trim``."""
        pieces = [Segment(self.system_prefix), Segment(system, system_index), Segment(self.system_suffix),
                  Segment(user, user_index)]
        for piece in _strip(pieces) if self.trim else pieces:
            if piece.message is None:
                out.markup(piece.text)
            else:
                out.content(piece.text, piece.message)


class _Segments:
    """Segments in the making: consecutive markup is merged; empty markup is dropped."""

    def __init__(self) -> None:
        self._done: list[Segment] = []
        self._markup = ""

    def markup(self, text: str) -> None:
        self._markup += text

    def content(self, text: str, message: int) -> None:
        self._flush()
        self._done.append(Segment(text, message, False))

    def trainable(self, text: str, message: int) -> None:
        self._flush()
        self._done.append(Segment(text, message, True))

    def result(self) -> tuple[Segment, ...]:
        self._flush()
        return tuple(self._done)

    def _flush(self) -> None:
        if self._markup:
            self._done.append(Segment(self._markup))
            self._markup = ""


def _strip(pieces: list[Segment]) -> list[Segment]:
    """``pieces`` with the whitespace around their joined text removed, as ``str.strip`` would."""
    result = list(pieces)
    for order in (range(len(result)), range(len(result) - 1, -1, -1)):
        for index in order:
            piece = result[index]
            text = piece.text.lstrip() if order.step == 1 else piece.text.rstrip()
            result[index] = Segment(text, piece.message, piece.trainable)
            if text:
                break
    return result


class _Cursor:
    """Where parsing stands in a text."""

    def __init__(self, text: str, format_name: str) -> None:
        self.text, self.pos, self.format_name = text, 0, format_name

    def at(self, literal: str) -> bool:
        return self.text.startswith(literal, self.pos)

    def done(self) -> bool:
        return self.pos == len(self.text)

    def rest(self) -> str:
        return self.text[self.pos:]

    def expect(self, literal: str, what: str) -> None:
        if not self.at(literal):
            raise ParseError(self.format_name, self.pos, f"{literal!r} ({what})", self.text)
        self.pos += len(literal)

    def until(self, literal: str, keep: int = 0) -> str:
        """The text up to the next ``literal`` (to the end when it is empty), and past it but for its
        last ``keep`` characters."""
        at = self.text.find(literal, self.pos) if literal else len(self.text)
        if at < 0:
            raise ParseError(self.format_name, len(self.text), repr(literal), self.text)
        found, self.pos = self.text[self.pos:at], at + len(literal) - keep
        return found
