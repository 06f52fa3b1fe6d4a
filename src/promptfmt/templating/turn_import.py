"""Derive a chat template's pieces turn by turn (`ChatTurns`) from sentinel renderings, and verify them.

The importer has already derived and verified the one-turn pieces (``prefix``, ``prompt_suffix``,
``response_prefix``, ``end``). The turns follow from three more renderings:

1. ``[user]`` without the generation prompt: what it shares after the user message with the one-turn
   prompt suffix (cut before a ``<tag>`` it would split) is ``user_suffix``; the rest of that suffix
   is the ``generation_prompt``. (Where one ends and the other starts changes no rendering.)
2. ``[user, assistant, user, assistant]``: between the first answer and the second user message
   stands ``turn_end + user_prefix``. The one-turn ``end`` is ``turn_end + final`` and the one-turn
   ``prefix`` ends with ``user_prefix``; the longest ``turn_end`` that fits both and does not end
   inside a ``<tag>`` is taken (every split that fits both renders the same texts).
3. ``[system, user, assistant]``: where the system sentinel lands says where a system message goes,
   its own turn before the first user turn or inside the first user message, and comparing the text
   before it with the plain rendering gives the BOS text and the template's default system text;
   the ways a template may strip the system text (``trim_system``, ``first_user_trim``) are tried.

Each candidate is verified on generated conversations (1 to 4 turns, with and without a system
message, some ending with a user message, contents mixing the template's own pieces): the template
and the pieces must render every one identically, and lossless ones must parse back. A template
that raises for a system message, leaves it out, or places it in a way no candidate reproduces gets
``system = "refused"`` (a system message is refused with ``system-not-supported``, never dropped).
A template whose turns cannot be derived stays a one-turn format, and the note says why.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from ..conversation import ConversationRefused
from ..errors import FormatDefinitionError
from .pieces import Template
from .sandbox import ChatTemplate, TemplateImportError
from .template import TemplateFormat
from .turns import SYSTEM_IN_FIRST_USER, SYSTEM_REFUSED, SYSTEM_TURN, ChatTurns
from .verification import verification_conversations

_SYSTEM, _USER1, _ANSWER1, _USER2, _ANSWER2 = "qZsystemKq1", "qZuserKq2", "qZanswerKq3", "qZuserKq4", "qZanswerKq5"


@dataclass(frozen=True)
class DerivedTurns:
    """The outcome: the verified turns (None where the template stays one-turn) and what to tell the user."""

    turns: ChatTurns | None
    conversations_checked: int
    notes: tuple[str, ...]


class _NoTurns(Exception):
    """The turns cannot be derived; the message says why."""


def derive_turns(template: ChatTemplate, one_turn: Template, *, name: str, count: int = 48) -> DerivedTurns:
    """The `ChatTurns` of ``template``, whose one-turn pieces are ``one_turn``, verified on ``count``
    generated conversations; `DerivedTurns.turns` is None, with the reason in the notes, otherwise."""
    try:
        base, opening = _turn_pieces(template, one_turn)
    except _NoTurns as exc:
        return DerivedTurns(None, 0, (f"one turn only: {exc}; conversations of several turns are refused",))
    placements, why_refused = _system_placements(template, one_turn, base, opening)
    problem = ""
    for placement in placements:
        for trim_system, first_user_trim in _system_trimmings(placement["system"], base.trim):
            try:  # pieces that collide (a system_prefix that starts like user_prefix) never read back
                turns = replace(base, **placement, trim_system=trim_system, first_user_trim=first_user_trim)
            except FormatDefinitionError as exc:
                problem = str(exc)
                continue
            problem = _verify(template, turns, name, count, with_system=True)
            if not problem:
                return DerivedTurns(turns, count, (_system_note(turns),))
    refused = replace(base, bos=opening)
    failure = _verify(template, refused, name, count, with_system=False)
    if failure:
        return DerivedTurns(None, 0, (f"one turn only: {failure}; conversations of several turns are refused",))
    reason = why_refused or f"no placement promptfmt can describe reproduces it ({problem})"
    return DerivedTurns(refused, count, (f"system messages are refused (system-not-supported): {reason}",))


def _turn_pieces(template: ChatTemplate, t: Template) -> tuple[ChatTurns, str]:
    """The pieces of user and assistant turns, and the opening text (BOS and default system turn)."""
    # where the user turn ends and the generation prompt starts changes no rendering (both are
    # markup before every answer and at the end of a prompt): the text a user message alone ends
    # with, when it is there, tells the template's own split
    alone = _render(template, [("user", _USER1)], generation_prompt=False)
    closing = alone[len(t.prefix) + len(_USER1):] if alone.startswith(t.prefix + _USER1) else ""
    user_suffix = os.path.commonprefix([closing, t.prompt_suffix])
    while _inside_tag(user_suffix):  # `<|end|>\n<|endoftext|>` and `<|end|>\n<|assistant|>\n` share `<|end|>\n<|`
        user_suffix = user_suffix[:max(user_suffix.rfind("<"), user_suffix.rfind("["))]
    two = _render(template, [("user", _USER1), ("assistant", _ANSWER1), ("user", _USER2), ("assistant", _ANSWER2)],
                  generation_prompt=False)
    head, tail = t.prefix + _USER1 + t.after_prompt + _ANSWER1, _USER2 + t.after_prompt + _ANSWER2 + t.end
    if not (two.startswith(head) and two.endswith(tail) and len(two) >= len(head) + len(tail)):
        raise _NoTurns("the second turn does not render like the first (the template treats turns differently)")
    between = two[len(head):len(two) - len(tail)]
    cuts = [cut for cut in range(min(len(between), len(t.end)), -1, -1)
            if t.end.startswith(between[:cut]) and t.prefix.endswith(between[cut:])]
    if not cuts:
        raise _NoTurns(f"the text between two turns ({between!r}) is not the end of a turn then the start of a "
                       "user turn")
    # every cut found renders alike; the longest end of turn outside a <tag> or [TAG] reads as written
    cut = min(cuts, key=lambda cut: _inside_tag(between[:cut]))
    user_prefix = between[cut:]
    try:  # system messages refused until a placement is found and verified
        turns = ChatTurns(
            user_prefix=user_prefix, user_suffix=user_suffix, generation_prompt=t.prompt_suffix[len(user_suffix):],
            response_prefix=t.response_prefix, turn_end=between[:cut], final=t.end[cut:], trim=t.trim,
            trim_output=t.trim_output, separator=t.separator, system=SYSTEM_REFUSED,
        )
    except FormatDefinitionError as exc:
        raise _NoTurns(f"the pieces of a turn do not read back ({exc})") from None
    return turns, t.prefix[:len(t.prefix) - len(user_prefix)]


def _inside_tag(text: str) -> bool:
    """Whether ``text`` ends inside a ``<…>`` or ``[…]`` tag."""
    return text.rfind("<") > text.rfind(">") or text.rfind("[") > text.rfind("]")


def _system_trimmings(system: object, trim: bool) -> tuple[tuple[bool | None, str], ...]:
    """The ``(trim_system, first_user_trim)`` values that render differently for a placement."""
    if system != SYSTEM_IN_FIRST_USER:
        return ((None, "whole"), (not trim, "whole"))
    if not trim:
        return ((None, "whole"), (True, "whole"))
    return ((None, "whole"), (True, "whole"), (None, "content"), (True, "content"))


def _system_placements(
    template: ChatTemplate, t: Template, base: ChatTurns, opening: str
) -> tuple[list[dict[str, Any]], str]:
    """Candidate system placements (the changes to ``base`` that place a system message), or none and the reason."""
    try:
        text = _render(template, [("system", _SYSTEM), ("user", _USER1), ("assistant", _ANSWER1)],
                       generation_prompt=False)
    except _NoTurns as exc:
        return [], f"the template raises for a system message ({exc})"
    found = text.count(_SYSTEM)
    if found != 1:
        return [], ("the template leaves a system message out, or changes its text" if not found
                    else f"the template renders a system message {found} times")
    after = _USER1 + t.after_prompt + _ANSWER1 + t.end
    if not text.endswith(after) or _SYSTEM in text[len(text) - len(after):]:
        return [], "a system message changes how the turn after it renders"
    head = text[:len(text) - len(after)]
    before, behind = head.split(_SYSTEM)
    candidates: list[dict[str, Any]] = []
    if behind.endswith(base.user_prefix):  # its own turn, before the first user turn
        suffix = behind[:len(behind) - len(base.user_prefix)]
        if before.startswith(opening):
            candidates.append(dict(system=SYSTEM_TURN, bos=opening, system_prefix=before[len(opening):],
                                   system_suffix=suffix))
        elif opening.startswith(before) and opening.endswith(suffix) and len(opening) >= len(before) + len(suffix):
            bos = next((token for token in template.tokens.values() if token and before.startswith(token)), "")
            candidates.append(dict(system=SYSTEM_TURN, bos=bos, system_prefix=before[len(bos):], system_suffix=suffix,
                                   default_system=opening[len(before):len(opening) - len(suffix)]))
    if before.startswith(t.prefix):  # inside the first user message
        candidates.append(dict(system=SYSTEM_IN_FIRST_USER, bos=opening, system_prefix=before[len(t.prefix):],
                               system_suffix=behind))
    return candidates, "" if candidates else "it is placed neither as a turn of its own nor inside the first user message"


def _verify(template: ChatTemplate, turns: ChatTurns, name: str, count: int, *, with_system: bool) -> str:
    """"" when the template and ``turns`` render ``count`` generated conversations alike; what differs otherwise."""
    try:
        fmt = TemplateFormat.from_turns(name, turns)
    except FormatDefinitionError as exc:  # pragma: no cover - the turns come from a verified one-turn template
        return f"the pieces make no usable format: {exc}"
    markup = (turns.user_prefix, turns.user_suffix, turns.generation_prompt, turns.response_prefix, turns.turn_end,
              turns.system_prefix, turns.system_suffix, *template.literals())
    for conversation in verification_conversations(count, markup=markup, with_system=with_system):
        messages = [(m.role, m.content) for m in conversation.messages]
        try:
            theirs = _render(template, messages, generation_prompt=conversation.is_prompt)
        except _NoTurns as exc:
            return f"the template refuses a conversation of {len(messages)} messages ({exc})"
        try:
            ours = fmt.render_conversation(conversation).text
        except ConversationRefused as exc:  # pragma: no cover - only system messages are refused, and placed here
            return str(exc)
        if ours != theirs:
            at = len(os.path.commonprefix((ours, theirs)))  # where they part
            return (f"a conversation of {len(messages)} messages renders {theirs[at:at + 40]!r} at offset {at} "
                    f"where the pieces give {ours[at:at + 40]!r}")
        if fmt.check_conversation(conversation).lossless and \
                fmt.parse_conversation(ours).messages != conversation.messages:  # pragma: no cover - engine bug
            return f"{messages!r} does not parse back"
    return ""


def _render(template: ChatTemplate, messages: Sequence[tuple[str, str]], *, generation_prompt: bool) -> str:
    try:
        return template.render([{"role": role, "content": content} for role, content in messages],
                               add_generation_prompt=generation_prompt)
    except TemplateImportError as exc:
        raise _NoTurns(exc.reason) from None


def _system_note(turns: ChatTurns) -> str:
    where = "its own turn" if turns.system == SYSTEM_TURN else "inside the first user message"
    default = "" if turns.default_system is None else \
        f"; the template's default system text {turns.default_system!r} is rendered when a conversation has none"
    return f"conversations of any length: a system message goes {where}{default}"
