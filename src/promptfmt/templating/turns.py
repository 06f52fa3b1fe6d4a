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
  before it goes inside the first user message; False: never stripped on its own);
  ``first_user_trim`` says what ``trim`` strips of a first user message that holds the system
  block: ``"whole"`` (Llama-2: the block and the message together) or ``"content"`` (Gemma 3: the
  user's own text, the block as it is);
* ``last_answer_prefix`` is markup before the last answer only, also ending a prompt (Qwen3's
  empty think block), and ``last_answer_lstrip`` the characters the template strips from the start
  of the last answer; an answer holding one of ``content_dependent`` renders otherwise in the
  official template (Qwen3 splits at ``</think>``): such conversations are reported lossy;
  ``answer_lstrip`` strips the start of every answer, ``system_rstrip`` the end of the system text
  (one left empty renders as none), and a system message holding one of ``system_content_dependent``
  renders otherwise in the official template (SmolLM3's ``/think``), reported lossy too.

The segments say which text belongs to which message; an assistant message's segment is
``response_prefix + content + turn_end`` (and ``final`` after the last one): the trainable text.
`ChatTurns.template` is the one-turn `Template` of the same pieces, so a record renders exactly as a
one-turn conversation does.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..conversation import Conversation, ConversationRefused, RenderedConversation, Segment, messages_of
from ..errors import ParseError
from .collisions import check_turns
from .pieces import Template

SYSTEM_TURN, SYSTEM_IN_FIRST_USER, SYSTEM_REFUSED = "turn", "first-user", "refused"
SYSTEM_PLACEMENTS = (SYSTEM_TURN, SYSTEM_IN_FIRST_USER, SYSTEM_REFUSED)
FIRST_USER_TRIMS = ("whole", "content")


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
    first_user_trim: str = "whole"
    last_answer_prefix: str = ""
    last_answer_lstrip: str = ""
    content_dependent: tuple[str, ...] = ()
    answer_lstrip: str = ""
    system_rstrip: bool = False
    system_content_dependent: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.system not in SYSTEM_PLACEMENTS:
            raise ValueError(f"system must be one of {', '.join(SYSTEM_PLACEMENTS)}, not {self.system!r}")
        if self.first_user_trim not in FIRST_USER_TRIMS:
            raise ValueError(f"first_user_trim must be one of {', '.join(FIRST_USER_TRIMS)}, not {self.first_user_trim!r}")
        check_turns(self)  # the pieces must read back what they render (`promptfmt.templating.collisions`)

    def template(self) -> Template:
        """The one-turn `Template`: what a record (one user and one assistant message) renders as."""
        default = ""
        if self.default_system is not None and self.system == SYSTEM_TURN:
            default = self.system_prefix + self.default_system + self.system_suffix
        return Template(
            prefix=self.bos + default + self.user_prefix,
            separator=self.separator,
            prompt_suffix=self.user_suffix + self.generation_prompt + self.last_answer_prefix,
            response_prefix=self.response_prefix,
            end=self.turn_end + self.final,
            chat=True,
            trim=self.trim,
            trim_output=self.trim_output,
            extra_markers=self.extra_markers,
            output_lstrip="".join(dict.fromkeys(self.answer_lstrip + self.last_answer_lstrip)),
            content_dependent=self.content_dependent,
        )

    def render(self, conversation: Conversation, format_name: str) -> RenderedConversation:
        """The segments of ``conversation``; `ConversationRefused` for a system message it cannot place.

        ``markup`` gathers the template text not yet emitted, so that consecutive markup forms one
        segment and empty markup none (a loop of plain statements: it runs for every conversation).
        """
        messages = conversation.messages
        segments: list[Segment] = []
        markup = self.bos
        wrapped: list[Segment] = []  # the system block to put inside the first user message
        system = messages[0].content.rstrip() if self.system_rstrip else messages[0].content
        if messages[0].role == "system" and self.system_rstrip and not system and self.default_system is not None:
            segments.append(Segment("", 0))  # rendered as none (SmolLM3): the default turn stands in its place
            markup += self.system_prefix + self.default_system + self.system_suffix
        elif messages[0].role == "system":
            if self.system == SYSTEM_REFUSED:
                raise ConversationRefused(
                    "system-not-supported", 0,
                    f"{format_name} has no place for a system message (its chat template raises, leaves it out, or "
                    "places it where promptfmt cannot follow exactly); drop the system message, or choose a format "
                    "that takes one")
            if self.system == SYSTEM_TURN:
                if markup + self.system_prefix:
                    segments.append(Segment(markup + self.system_prefix))
                segments.append(Segment(system.strip() if self._trims_system else system, 0))
                markup = self.system_suffix
            else:
                wrapped = [Segment(self.system_prefix), Segment(system.strip() if self.trim_system else system, 0),
                           Segment(self.system_suffix)]
        elif self.default_system is not None and self.system == SYSTEM_TURN:
            markup += self.system_prefix + self.default_system + self.system_suffix
        last = len(messages) - 1
        trim_answer = self.trim or self.trim_output
        for index in range(1 if messages[0].role == "system" else 0, last + 1):
            content = messages[index].content
            if messages[index].role == "user":
                markup += self.user_prefix
                if wrapped:
                    markup = _merge(segments, markup, self._wrapped_user(wrapped, content, index))
                    wrapped = []
                else:
                    if markup:
                        segments.append(Segment(markup))
                    segments.append(Segment(content.strip() if self.trim else content, index))
                    markup = ""
                markup += self.user_suffix
            else:
                markup += self.generation_prompt
                if index == last:
                    markup += self.last_answer_prefix
                if markup:
                    segments.append(Segment(markup))
                answer = content.strip() if trim_answer else content.lstrip(self.answer_lstrip) if self.answer_lstrip \
                    else content
                if index == last and self.last_answer_lstrip:
                    answer = answer.lstrip(self.last_answer_lstrip)
                segments.append(Segment(self.response_prefix + answer + self.turn_end
                                        + (self.final if index == last else ""), index, True))
                markup = ""
        if conversation.is_prompt:
            markup += self.generation_prompt + self.last_answer_prefix
        if markup:
            segments.append(Segment(markup))
        return RenderedConversation(tuple(segments))

    def parse(self, text: str, format_name: str) -> Conversation:
        """The conversation that renders as ``text``; `ParseError` (offset, what was expected) otherwise."""
        return Conversation.model_construct(messages=messages_of(self.read(text, format_name)))

    def read(self, text: str, format_name: str) -> list[tuple[str, str]]:
        """The ``(role, content)`` of every message that renders as ``text`` (`parse` without the models).

        Deterministic, like the rendering: each content ends at the first occurrence of the literal
        that follows it. A text that starts with the default system turn has no system message.
        """
        cursor = _Cursor(text, format_name)
        cursor.expect(self.bos, "the start of the text")
        messages: list[tuple[str, str]] = []
        default = None if self.default_system is None else self.system_prefix + self.default_system + self.system_suffix
        if self.system == SYSTEM_TURN:
            if default is not None and cursor.at(default + self.user_prefix):
                cursor.expect(default, "the default system turn")
            elif cursor.at(self.system_prefix) and not cursor.at(self.user_prefix):
                cursor.expect(self.system_prefix, "a system turn")
                # the first user turn always follows: it ends the system message
                messages.append(("system", cursor.until(self.system_suffix + self.user_prefix, keep=len(self.user_prefix))))
        cursor.expect(self.user_prefix, "a user turn")
        if not messages and self.system == SYSTEM_IN_FIRST_USER and self.system_prefix and cursor.at(self.system_prefix):
            cursor.expect(self.system_prefix, "the system block")
            messages.append(("system", cursor.until(self.system_suffix)))
        return self._read_turns(text, cursor.pos, messages, format_name)

    def _read_turns(self, text: str, pos: int, messages: list[tuple[str, str]],
                    format_name: str) -> list[tuple[str, str]]:
        """From the first user message at ``pos`` on: every user message and answer (the loop of
        parsing, on plain locals: it runs for every message a conversion judges)."""
        after_user, response_prefix, turn_end = self.user_suffix + self.generation_prompt, self.response_prefix, \
            self.turn_end
        user_prefix, final, size, last_prefix = self.user_prefix, self.final, len(text), self.last_answer_prefix
        while True:
            at = _find(text, after_user, pos, format_name)
            messages.append(("user", text[pos:at]))
            pos = at + len(after_user)
            if pos == size or (last_prefix and size - pos == len(last_prefix) and text.endswith(last_prefix)):
                return messages  # a prompt
            # only the last answer has the last-answer markup: one that holds it and is followed by more
            # turns does not read back (it is content-dependent there anyway)
            prefixed = bool(last_prefix) and text.startswith(last_prefix, pos)
            pos += len(last_prefix) if prefixed else 0
            if not text.startswith(response_prefix, pos):
                raise ParseError(format_name, pos, f"{response_prefix!r} (the answer)", text)
            pos += len(response_prefix)
            if turn_end:
                at = _find(text, turn_end, pos, format_name)
            else:  # nothing closes an answer (ChatGLM, SOLAR): it runs to the next user turn, or to the final text
                at = text.find(user_prefix, pos) if user_prefix else -1
                if at < 0:
                    at = size - len(final) if text.endswith(final) and size - len(final) >= pos else size
            messages.append(("assistant", text[pos:at]))
            pos = at + len(turn_end)
            if size - pos == len(final) and text.endswith(final):
                if prefixed != bool(last_prefix):
                    raise ParseError(format_name, at, f"{last_prefix!r} before the last answer", text)
                return messages
            if prefixed:
                raise ParseError(format_name, pos, f"the end of the text after the answer after {last_prefix!r}", text)
            if not text.startswith(user_prefix, pos):
                raise ParseError(format_name, pos, f"{user_prefix!r} (a user turn)", text)
            pos += len(user_prefix)

    @property
    def trimmed_roles(self) -> frozenset[str]:
        """The roles whose contents the template strips."""
        roles = {"user", "assistant"} if self.trim else \
            {"assistant"} if self.trim_output or self.last_answer_lstrip or self.answer_lstrip else set()
        return frozenset(roles | {"system"} if self._trims_system or self.system_rstrip else roles)

    @property
    def _trims_system(self) -> bool:
        if self.trim_system is not None:
            return self.trim_system
        return self.trim and (self.system != SYSTEM_IN_FIRST_USER or self.first_user_trim == "whole")

    def _wrapped_user(self, system_block: list[Segment], user: str, index: int) -> list[Segment]:
        """The first user message with the system block inside it, trimmed (when ``trim``) as one text
        or its own content alone (``first_user_trim``)."""
        if self.trim and self.first_user_trim == "content":
            return [*system_block, Segment(user.strip(), index)]
        pieces = [*system_block, Segment(user, index)]
        return _strip(pieces) if self.trim else pieces


def _merge(segments: list[Segment], markup: str, pieces: list[Segment]) -> str:
    """Append ``pieces`` after the pending ``markup`` (merged with their leading markup); the markup
    they leave pending."""
    for piece in pieces:
        if piece.message is None:
            markup += piece.text
            continue
        if markup:
            segments.append(Segment(markup))
        segments.append(piece)
        markup = ""
    return markup


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


def _find(text: str, literal: str, pos: int, format_name: str) -> int:
    """Where the next ``literal`` starts (the end of the text when it is empty); `ParseError` when none does."""
    at = text.find(literal, pos) if literal else len(text)
    if at < 0:
        raise ParseError(format_name, len(text), repr(literal), text)
    return at


class _Cursor:
    """Where parsing stands in a text."""

    def __init__(self, text: str, format_name: str) -> None:
        self.text, self.pos, self.format_name = text, 0, format_name

    def at(self, literal: str) -> bool:
        return self.text.startswith(literal, self.pos)

    def expect(self, literal: str, what: str) -> None:
        if not self.at(literal):
            raise ParseError(self.format_name, self.pos, f"{literal!r} ({what})", self.text)
        self.pos += len(literal)

    def until(self, literal: str, keep: int = 0) -> str:
        """The text up to the next ``literal`` (to the end when it is empty), and past it but for its
        last ``keep`` characters."""
        at = _find(self.text, literal, self.pos, self.format_name)
        found, self.pos = self.text[self.pos:at], at + len(literal) - keep
        return found
