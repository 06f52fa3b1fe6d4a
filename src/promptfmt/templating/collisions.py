"""The definitions a format cannot read back: literal pieces that collide, checked in one place.

`Template` and `ChatTurns` run these checks when they are built, so a format defined in Python (a
plugin) and one read from a TOML file are held to the same rules; a file names the keys
(``fmt.toml: turns.system_prefix, turns.user_prefix: ...``).

Parsing is positional (`promptfmt.templating.template`, `promptfmt.templating.turns`): each content
ends at the first occurrence of the literal that follows it, two literals sought at one place go
to the longer, and a literal is only looked for where the grammar allows it. So most coincidences
are harmless and are not refused: a prefix equal to a suffix, an end-of-turn text equal to the
user prefix, a suffix that starts the end text. A content that holds a literal is the record's
problem, not the format's: `Format.check` reports it (``marker-in-content``).

A definition is refused when records or conversations whose contents share nothing with the
literals still would not read back (docs/architecture.md, "Errors"). The conformance kit and
``tests/test_declarative.py`` check that these rules accept every definition that reads back and
refuse the others.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from ..errors import FormatDefinitionError

if TYPE_CHECKING:
    from .pieces import Template
    from .turns import ChatTurns

Problem = tuple[tuple[str, ...], str]  # the keys involved, what is wrong and how to fix it


class UnusablePieces(FormatDefinitionError):
    """A definition refused by one of the rules here; ``keys`` are the fields (the TOML keys) involved."""

    def __init__(self, keys: tuple[str, ...], detail: str) -> None:
        self.keys = keys
        self.detail = detail
        super().__init__(f"{', '.join(keys)}: {detail}")


def check_template(t: Template) -> None:
    """Raise `UnusablePieces` for the first rule ``t`` breaks."""
    for keys, detail in template_problems(t):
        raise UnusablePieces(keys, detail)


def check_turns(t: ChatTurns) -> None:
    """Raise `UnusablePieces` for the first rule ``t`` breaks (the record `Template` it derives then holds)."""
    for keys, detail in turns_problems(t):
        raise UnusablePieces(keys, detail)


def _show(text: str) -> str:
    return repr(text) if len(text) <= 40 else repr(text[:36]) + "..."


def template_problems(t: Template) -> Iterator[Problem]:
    """What keeps the record format ``t`` from reading back its own renderings."""
    from .pieces import INPUT_BLOCK_RULES

    if t.input_block not in INPUT_BLOCK_RULES:
        yield ("input_block",), f"must be one of {', '.join(INPUT_BLOCK_RULES)}, not {_show(t.input_block)}"
    if not t.separator:
        yield ("separator",), "must not be empty: it marks where the input starts"
    if not t.after_prompt:
        yield ("prompt_suffix", "response_prefix"), (
            "are both empty: nothing would mark where the prompt ends; give one of them the text that ends it")
    if t.input_block == "always" and t.prefix_no_input is not None:
        yield ("prefix_no_input", "input_block"), (
            "prefix_no_input is meaningless when the input block always appears; leave it out")
    if t.chat and t.prefix_no_input not in (None, t.prefix):
        yield ("prefix_no_input", "chat"), (
            "a chat format has one preamble: the user message follows prefix with or without an input, so "
            "prefix_no_input is never rendered and a text without input would not read back; leave it out")
    # an input block that always appears is sought first and alone: there they may be equal
    if t.input_block != "always" and t.separator and t.separator == t.after_prompt:
        yield ("separator", "prompt_suffix", "response_prefix"), (
            f"the separator {_show(t.separator)} equals prompt_suffix + response_prefix, so the input block could "
            "not be told apart: a record without input would read as one whose input is its output; make them differ")


def turns_problems(t: ChatTurns) -> Iterator[Problem]:
    """What keeps the chat format ``t`` from reading back its own conversations (and records)."""
    from .turns import SYSTEM_IN_FIRST_USER, SYSTEM_TURN

    if not t.separator:
        yield ("separator",), "must not be empty: it joins a record's instruction and input"
    yield from _user_and_answer_problems(t)
    if t.system == SYSTEM_TURN and t.system_prefix.startswith(t.user_prefix):
        what = "is empty" if not t.user_prefix else \
            f"{_show(t.user_prefix)} is also " + ("system_prefix" if t.system_prefix == t.user_prefix
                                                  else f"the start of system_prefix {_show(t.system_prefix)}")
        yield ("system_prefix", "user_prefix"), (
            f"user_prefix {what}, so a system turn cannot be told from the first user turn (a system turn is read "
            "where the text does not go on with user_prefix): every system message would be lost; give them "
            'different starts, or set system = "first-user" or "refused"')
    if t.system == SYSTEM_IN_FIRST_USER and t.system_prefix and not t.system_suffix:
        yield ("system_suffix", "system_prefix"), (
            "system_suffix is empty, so nothing marks where a system message inside the first user message ends "
            "and the user's own text starts; give system_suffix the text the template writes after it")
    if t.system == SYSTEM_IN_FIRST_USER and t.trim and t.first_user_trim == "whole" and t.system_prefix[:1].isspace():
        yield ("system_prefix", "trim"), (
            f"system_prefix {_show(t.system_prefix)} starts with whitespace, which trim strips from the first user "
            'message (first_user_trim = "whole"), so the system block would not be found; check the template')


def _user_and_answer_problems(t: ChatTurns) -> Iterator[Problem]:
    after_user = t.user_suffix + t.generation_prompt
    if not after_user:
        yield ("user_suffix", "generation_prompt"), (
            "are both empty: nothing marks where a user message ends and its answer starts; give one of them the "
            "text the template writes after a user message")
    if not t.turn_end and not t.user_prefix:
        yield ("turn_end", "user_prefix"), (
            "are both empty: nothing marks where an answer ends and the next user message starts; give one of "
            "them the text the template writes there")
    if not t.turn_end and t.user_prefix and t.final.find(t.user_prefix) > 0:
        yield ("turn_end", "user_prefix", "final"), (
            f"turn_end is empty, so an answer runs to the next user_prefix {_show(t.user_prefix)}, which final "
            f"{_show(t.final)} holds after its start: the last answer would read as ending with "
            f"{_show(t.final[:t.final.find(t.user_prefix)])}; give turn_end the end-of-turn text")
    if t.last_answer_prefix and t.response_prefix.startswith(t.last_answer_prefix):
        yield ("response_prefix", "last_answer_prefix"), (
            f"response_prefix {_show(t.response_prefix)} starts with last_answer_prefix "
            f"{_show(t.last_answer_prefix)}, so every answer would read as the last one; make them differ")
    record_after_prompt = after_user + t.last_answer_prefix + t.response_prefix
    if t.separator and t.separator == record_after_prompt:
        keys = ("user_suffix", "generation_prompt", "last_answer_prefix", "response_prefix")
        yield ("separator", *(key for key in keys if getattr(t, key))), (
            f"the separator {_show(t.separator)} equals the text between a user message and its answer, so a "
            "record's input could not be told apart: a record without input would read as one whose input is its "
            "answer; choose another separator")
