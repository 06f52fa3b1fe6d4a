"""Import a Jinja chat template (a ``.jinja`` file or a ``tokenizer_config.json``) as a declarative format.

How it works (and why it can say "exact"):

1. The template is rendered in a Jinja **sandbox** (``ImmutableSandboxedEnvironment`` with
   ``trim_blocks``/``lstrip_blocks``, ``raise_exception``, ``tojson``, ``strftime_now`` and the
   ``{% generation %}`` tag, like Hugging Face ``apply_chat_template``). Nothing else of the
   template runs, and promptfmt never renders Jinja per record afterwards.
2. Sentinel contents (unique mixed-case strings without whitespace) go into the conversation an
   instruction record becomes: ``[user, assistant]`` without the generation prompt (the training
   text) and ``[user]`` with it (the prompt). The user message holds the instruction, the
   separator and the input, so a separator the template changes is caught.
3. The literal pieces around the sentinels are the format: ``prefix`` before the user message,
   ``prompt_suffix`` = what the generation prompt adds after it, ``response_prefix`` = the rest
   up to the assistant message, ``end`` after it. Rendering with whitespace-padded sentinels
   shows whether the template trims the user message and/or the output.
4. The derived format is verified: generated records (newlines, padding, unicode, empty and
   whitespace-only fields, the format's own markers) are rendered through the template and
   through the format; text and prompt must be equal for every one, and lossless ones must
   parse back.
5. The pieces turn by turn (`turn_import`): more sentinel conversations (two turns, a system
   message) give the user, assistant and system pieces, verified on generated conversations. A
   template whose turns cannot be derived stays a one-turn format, and a note says why; one that
   raises for a system message, leaves it out or places it beyond description refuses system
   messages (``system-not-supported``). Only then is the format returned.

The import refuses, with the reason, a template whose output cannot be described by literal
pieces: one that raises for a user/assistant conversation (a required system message, other
roles), transforms or drops the content, inserts the current date, repeats a message, trims only
the user message, gives a prompt that is not the start of the training text, or renders some
record differently from the derived format.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from ..errors import FormatDefinitionError
from ..models import Record
from .declarative import check_format_name
from .limits import Limits, run_limited
from .sandbox import DATES, ChatTemplate, MissingTokensError, TemplateImportError, load_chat_template
from .template import Template, TemplateFormat
from .turn_import import derive_turns
from .verification import verification_records
from .writing import dumps_format, format_document

__all__ = [
    "ChatTemplate", "ImportResult", "MissingTokensError", "TemplateImportError", "import_chat_template",
    "load_chat_template", "refusal_report", "verification_records",
]

DEFAULT_SEPARATOR = "\n"

# Mixed case, letters and digits, no whitespace: `upper`, `lower`, `title`, `capitalize` and
# `trim` all change or reveal them, and no real template contains them.
_INSTRUCTION = "qZinstructionKq7"
_INPUT = "qZinputKq8"
_OUTPUT = "qZoutputKq9"
_SECOND_USER = "qZuser2Kq5"
_SECOND_OUTPUT = "qZoutput2Kq4"
_PAD = " \n"


# -- deriving the literal pieces --------------------------------------------------------------------


@dataclass
class ImportResult:
    """A format derived from a chat template, verified against it."""

    format: TemplateFormat
    preamble: str
    records_checked: int
    notes: list[str]
    conversations_checked: int = 0
    template: ChatTemplate | None = None

    def toml(self, header: str = "") -> str:
        return dumps_format(self.format, preamble=self.preamble, header=header)

    def report(self) -> dict[str, Any]:
        """What was derived, for tools (``import-template --json``): the pieces as the format file
        holds them, the variables and tokens the template was rendered with, what was verified."""
        document = format_document(self.format, preamble=self.preamble)
        turns = self.format.turns
        template = self.template
        return {
            "imported": True, "name": self.format.name,
            "template": None if template is None else {"origin": template.origin, "sha256": template.sha256},
            "tokens": {} if template is None else dict(template.tokens),
            "variables": {} if template is None else dict(template.variables),
            "table": "turns" if turns is not None else "template",
            "pieces": document["turns" if turns is not None else "template"],
            "system": None if turns is None else turns.system,
            "records_verified": self.records_checked, "conversations_verified": self.conversations_checked,
            "notes": list(self.notes),
        }


def refusal_report(error: TemplateImportError) -> dict[str, Any]:
    """``import-template --json`` for a template that is not imported: the reason's code and its words."""
    return {"imported": False, "origin": error.origin, "code": error.code, "reason": error.reason}


def _user(content: str) -> dict[str, str]:
    return {"role": "user", "content": content}


def _assistant(content: str) -> dict[str, str]:
    return {"role": "assistant", "content": content}


def import_chat_template(
    template: ChatTemplate,
    *,
    name: str,
    separator: str = DEFAULT_SEPARATOR,
    description: str | None = None,
    reference: str | None = None,
    verify_records: int = 64,
    limits: Limits | None = None,
) -> ImportResult:
    """Derive a `TemplateFormat` from ``template`` and verify it; `TemplateImportError` says why not.

    ``separator`` joins instruction and input into the user message (``"\\n"`` by default, as the
    built-in chat formats do). With ``limits`` (for a template you do not trust) the import runs in a
    process of its own bounded in time and memory (`limits.run_limited`); without, here, unbounded.
    """
    if limits is not None:
        return run_limited(partial(import_chat_template, template, name=name, separator=separator, description=description,
                                   reference=reference, verify_records=verify_records), template.origin, limits)
    origin = template.origin
    _check_name(name)
    if not separator:
        raise FormatDefinitionError("the separator must not be empty: it joins instruction and input")
    if missing := template.undeclared_tokens():
        raise MissingTokensError(origin, missing)

    def refuse(reason: str, code: str) -> TemplateImportError:
        return TemplateImportError(origin, reason, code)

    user = _INSTRUCTION + separator + _INPUT
    text = template.render([_user(user), _assistant(_OUTPUT)], add_generation_prompt=False)
    prompt = template.render([_user(user)], add_generation_prompt=True)
    if template.render([_user(user), _assistant(_OUTPUT)], add_generation_prompt=False, now=DATES[1]) != text:
        raise refuse(_date_reason(template), "date-dependent")

    user_at = _find_once(text, user, "user message", separator, refuse)
    output_at = _find_once(text, _OUTPUT, "assistant message", separator, refuse)
    if output_at < user_at:
        raise refuse("the assistant message is rendered before the user message", "not-pieces")
    prefix = text[:user_at]
    between = text[user_at + len(user) : output_at]
    end = text[output_at + len(_OUTPUT) :]
    if not prompt.startswith(prefix + user):
        raise refuse(
            "the prompt (the user message alone, with the generation prompt) does not start like the training text: "
            f"{_excerpt(prompt)} versus {_excerpt(text)}", "prompt-not-prefix"
        )
    prompt_tail = prompt[len(prefix) + len(user) :]
    if not between.startswith(prompt_tail):
        raise refuse(
            f"after the user message the prompt continues with {prompt_tail!r} but the training text with {between!r}: "
            "the prompt is not the start of the training text", "prompt-not-prefix"
        )
    trim, trim_output, notes = _trimming(template, separator, prefix, between, end, refuse)
    try:
        derived = Template(
            prefix=prefix,
            separator=separator,
            prompt_suffix=prompt_tail,
            response_prefix=between[len(prompt_tail) :],
            end=end,
            chat=True,
            trim=trim,
            trim_output=trim_output,
        )
    except FormatDefinitionError as exc:
        raise refuse(f"its literal pieces do not make a usable format: {exc}", "not-pieces") from None
    fmt = TemplateFormat(
        name,
        derived,
        description=description or f"Imported from the chat template {origin} (promptfmt import-template).",
        reference=reference or f"chat template {origin} (sha256 {template.sha256[:12]}){_with_variables(template)}",
    )
    checked = _verify(template, fmt, separator, verify_records, refuse)
    notes += _invalid_record_notes(template, fmt, separator)
    return _turn_by_turn(template, fmt, separator, checked, notes)


def _with_variables(template: ChatTemplate) -> str:
    """`` rendered with date_string="26 Jul 2024"``: the variables a format depends on, in its reference."""
    if not template.variables:
        return ""
    return " rendered with " + ", ".join(f"{name}={json.dumps(value)}" for name, value in sorted(template.variables.items()))


def _turn_by_turn(
    template: ChatTemplate, fmt: TemplateFormat, separator: str, checked: int, notes: list[str]
) -> ImportResult:
    """The result with the format described turn by turn where the turns derive and verify, else one-turn."""
    chat = derive_turns(template, fmt.template, name=fmt.name)
    notes += chat.notes
    if chat.turns is None:
        return ImportResult(fmt, _preamble(template, fmt, separator), checked, notes, template=template)
    fmt = TemplateFormat.from_turns(fmt.name, chat.turns, description=fmt.description, reference=fmt.reference)
    return ImportResult(fmt, "", checked, notes, chat.conversations_checked, template)


def _date_reason(template: ChatTemplate) -> str:
    """Why a template that renders today's date cannot be imported, and the variable that fixes it."""
    reason = "the training text changes with the date (the template calls strftime_now), so no fixed text describes it"
    if "date_string" in template.undeclared_variables():
        return reason + '; fix the date the template renders with --var date_string="26 Jul 2024"'
    return reason + "; fix the date with the --var NAME=VALUE the template reads instead of calling strftime_now"


def _check_name(name: str) -> None:
    try:
        check_format_name(name)
    except ValueError as exc:
        raise FormatDefinitionError(f"format name {_excerpt(name)}: {exc}") from None


def _find_once(text: str, sentinel: str, what: str, separator: str, refuse: Callable[[str, str], Exception]) -> int:
    count = text.count(sentinel)
    if count == 1:
        return text.index(sentinel)
    if count > 1:
        raise refuse(f"the {what} appears {count} times in the rendering; a format renders each field once",
                     "content-changed")
    if what == "user message" and _INSTRUCTION in text and _INPUT in text:
        raise refuse(f"the user message is changed around the separator {separator!r} (try another --separator)",
                     "content-changed")
    raise refuse(f"the {what} is not rendered verbatim: the template transforms or drops the content", "content-changed")


def _trimming(
    template: ChatTemplate, separator: str, prefix: str, between: str, end: str, refuse: Callable[[str, str], Exception]
) -> tuple[bool, bool, list[str]]:
    """``(trim, trim_output, notes)`` from a rendering with whitespace-padded contents."""
    user = _INSTRUCTION + separator + _INPUT
    padded = template.render(
        [_user(_PAD + user + _PAD), _assistant(_PAD + _OUTPUT + _PAD)], add_generation_prompt=False
    )
    variants = {
        (False, False): prefix + _PAD + user + _PAD + between + _PAD + _OUTPUT + _PAD + end,
        (True, False): prefix + user + between + _OUTPUT + end,
        (False, True): prefix + _PAD + user + _PAD + between + _OUTPUT + end,
    }
    for (trim, trim_output), expected in variants.items():
        if padded == expected:
            notes = []
            if trim or trim_output:
                stripped = "the user message and the output" if trim else "the output"
                notes.append(
                    f"the template strips surrounding whitespace of {stripped}: records with such whitespace "
                    "render exactly like the template but are reported lossy (trimmed-whitespace)"
                )
            return trim, trim_output, notes
    if padded == prefix + user + between + _PAD + _OUTPUT + _PAD + end:
        raise refuse("the template strips whitespace around the user message but not around the output, "
                     "which a declarative format cannot describe", "whitespace")
    raise refuse("the template changes whitespace around the contents in a way a declarative format cannot describe "
                 f"(padded contents render as {_excerpt(padded, 120)})", "whitespace")


def _verify(
    template: ChatTemplate, fmt: TemplateFormat, separator: str, count: int, refuse: Callable[[str, str], Exception]
) -> int:
    """Render generated records through the template and the format; any difference refuses the import.

    The records are ones `promptfmt validate` accepts (an instruction and an output with text), their
    contents mixing the format's pieces and the template's own string constants.
    """
    records = verification_records(fmt, count, literals=template.literals())
    for record in records:
        user = record.instruction + separator + record.input if record.input else record.instruction
        text = template.render([_user(user), _assistant(record.output)], add_generation_prompt=False)
        prompt = template.render([_user(user)], add_generation_prompt=True)
        rendered = fmt.render(record)
        for what, ours, theirs in (("text", rendered.text, text), ("prompt", rendered.prompt, prompt)):
            if ours != theirs:
                at = len(os.path.commonprefix((ours, theirs)))  # where they part
                held = _triggers(template, fmt, separator, record)
                why = (f"the template is content-dependent: content holding {' or '.join(map(repr, held))} renders "
                       "otherwise, which literal pieces cannot describe") if held else \
                    "it changes or drops content, or depends on it"
                raise refuse(
                    f"verification failed: the template renders some records differently from its literal pieces ({why}). "
                    f"For {record.fields()!r}, at offset {at} of the {what} the template renders {theirs[at:at + 40]!r} "
                    f"but the pieces give {ours[at:at + 40]!r}", "content-dependent" if held else "verification-failed"
                )
        if fmt.check(record).lossless and fmt.parse(rendered.text) != record:  # pragma: no cover - engine bug
            raise refuse(f"verification failed: {record.fields()!r} does not parse back", "verification-failed")
    return len(records)


def _triggers(template: ChatTemplate, fmt: TemplateFormat, separator: str, record: Record) -> list[str]:
    """The template's string constants in ``record`` that alone make a plain record render otherwise."""
    held = [literal for literal in template.literals() if any(literal in v for v in record.fields().values())]
    found = []
    for literal in held:
        for probe in (Record(instruction=f"Hi {literal} there", output="Yo"), Record(instruction="Hi", output=f"Yo {literal}!")):
            text = template.render([_user(probe.instruction), _assistant(probe.output)], add_generation_prompt=False)
            if text != fmt.render(probe).text:
                found.append(literal)
                break
    return found


# Records `promptfmt validate` refuses: how the template renders them is reported, never a reason to refuse it.
_INVALID_RECORDS = (
    ("an empty output", Record(instruction="Name a colour.", output="")),
    ("an empty instruction", Record(instruction="", input="Only an input.", output="ok")),
)


def _invalid_record_notes(template: ChatTemplate, fmt: TemplateFormat, separator: str) -> list[str]:
    notes = []
    for what, record in _INVALID_RECORDS:
        user = record.instruction + separator + record.input if record.input else record.instruction
        try:
            text = template.render([_user(user), _assistant(record.output)], add_generation_prompt=False)
        except TemplateImportError:
            text = None
        if text != fmt.render(record).text:
            notes.append(f"a record with {what} renders differently in the template (it skips or refuses such "
                         "a message); promptfmt validate refuses such records, so they are not training data")
    return notes


def _preamble(template: ChatTemplate, fmt: TemplateFormat, separator: str) -> str:
    """The part of the prefix before the user turn (a BOS text, a default system prompt), or "".

    Found from a two-turn rendering: the text before the second user message, minus what ends
    the first turn, is the user-turn opener; the prefix minus that opener is the preamble. Used
    for readability of the TOML only (``preamble`` + ``prefix`` is the same prefix); any doubt
    gives "".
    """
    t = fmt.template
    try:
        two_turns = template.render(
            [_user(_INSTRUCTION), _assistant(_OUTPUT), _user(_SECOND_USER), _assistant(_SECOND_OUTPUT)],
            add_generation_prompt=False,
        )
    except TemplateImportError:
        return ""
    start, stop = two_turns.find(_OUTPUT), two_turns.find(_SECOND_USER)
    if start < 0 or stop < start:
        return ""
    middle = two_turns[start + len(_OUTPUT) : stop]
    for cut in range(len(middle), -1, -1):
        if not t.end.startswith(middle[:cut]):
            continue
        opener = middle[cut:]
        if opener and t.prefix.endswith(opener):
            preamble = t.prefix[: len(t.prefix) - len(opener)]
            tokens = [v for v in template.tokens.values() if v]
            if preamble.endswith("\n") or any(preamble.endswith(tok) for tok in tokens) or (t.end and preamble.endswith(t.end)):
                return preamble
        return ""
    return ""


def _excerpt(text: str, limit: int = 60) -> str:
    return repr(text[:limit] + ("…" if len(text) > limit else ""))

