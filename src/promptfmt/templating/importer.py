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

import random
from collections.abc import Callable
from dataclasses import dataclass

from ..errors import FormatDefinitionError
from ..models import Record
from .declarative import check_format_name
from .sandbox import DATES, ChatTemplate, MissingTokensError, TemplateImportError, load_chat_template
from .template import Template, TemplateFormat
from .turn_import import derive_turns
from .writing import dumps_format

__all__ = [
    "ChatTemplate", "ImportResult", "MissingTokensError", "TemplateImportError", "import_chat_template",
    "load_chat_template", "verification_records",
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

    def toml(self, header: str = "") -> str:
        return dumps_format(self.format, preamble=self.preamble, header=header)


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
) -> ImportResult:
    """Derive a `TemplateFormat` from ``template`` and verify it; `TemplateImportError` says why not.

    ``separator`` joins instruction and input into the user message (``"\\n"`` by default, as the
    built-in chat formats do).
    """
    origin = template.origin
    _check_name(name)
    if not separator:
        raise FormatDefinitionError("the separator must not be empty: it joins instruction and input")
    missing = template.undeclared_tokens()
    if missing:
        raise MissingTokensError(origin, missing)

    def refuse(reason: str) -> TemplateImportError:
        return TemplateImportError(origin, reason)

    user = _INSTRUCTION + separator + _INPUT
    text = template.render([_user(user), _assistant(_OUTPUT)], add_generation_prompt=False)
    prompt = template.render([_user(user)], add_generation_prompt=True)
    if template.render([_user(user), _assistant(_OUTPUT)], add_generation_prompt=False, now=DATES[1]) != text:
        raise refuse("the training text changes with the date (the template calls strftime_now), so no fixed text describes it")

    user_at = _find_once(text, user, "user message", separator, refuse)
    output_at = _find_once(text, _OUTPUT, "assistant message", separator, refuse)
    if output_at < user_at:
        raise refuse("the assistant message is rendered before the user message")
    prefix = text[:user_at]
    between = text[user_at + len(user) : output_at]
    end = text[output_at + len(_OUTPUT) :]
    if not prompt.startswith(prefix + user):
        raise refuse(
            "the prompt (the user message alone, with the generation prompt) does not start like the training text: "
            f"{_excerpt(prompt)} versus {_excerpt(text)}"
        )
    prompt_tail = prompt[len(prefix) + len(user) :]
    if not between.startswith(prompt_tail):
        raise refuse(
            f"after the user message the prompt continues with {prompt_tail!r} but the training text with {between!r}: "
            "the prompt is not the start of the training text"
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
        raise refuse(f"its literal pieces do not make a usable format: {exc}") from None
    fmt = TemplateFormat(
        name,
        derived,
        description=description or f"Imported from the chat template {origin} (promptfmt import-template).",
        reference=reference or f"chat template {origin} (sha256 {template.sha256[:12]})",
    )
    checked = _verify(template, fmt, separator, verify_records, refuse)
    return _turn_by_turn(template, fmt, separator, checked, notes)


def _turn_by_turn(
    template: ChatTemplate, fmt: TemplateFormat, separator: str, checked: int, notes: list[str]
) -> ImportResult:
    """The result with the format described turn by turn where the turns derive and verify, else one-turn."""
    chat = derive_turns(template, fmt.template, name=fmt.name)
    notes += chat.notes
    if chat.turns is None:
        return ImportResult(fmt, _preamble(template, fmt, separator), checked, notes)
    fmt = TemplateFormat.from_turns(fmt.name, chat.turns, description=fmt.description, reference=fmt.reference)
    return ImportResult(fmt, "", checked, notes, chat.conversations_checked)


def _check_name(name: str) -> None:
    try:
        check_format_name(name)
    except ValueError as exc:
        raise FormatDefinitionError(f"format name {name!r}: {exc}") from None


def _find_once(text: str, sentinel: str, what: str, separator: str, refuse: Callable[[str], Exception]) -> int:
    count = text.count(sentinel)
    if count == 1:
        return text.index(sentinel)
    if count > 1:
        raise refuse(f"the {what} appears {count} times in the rendering; a format renders each field once")
    if what == "user message" and _INSTRUCTION in text and _INPUT in text:
        raise refuse(f"the user message is changed around the separator {separator!r} (try another --separator)")
    raise refuse(f"the {what} is not rendered verbatim: the template transforms or drops the content")


def _trimming(
    template: ChatTemplate, separator: str, prefix: str, between: str, end: str, refuse: Callable[[str], Exception]
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
                     "which a declarative format cannot describe")
    raise refuse("the template changes whitespace around the contents in a way a declarative format cannot describe "
                 f"(padded contents render as {_excerpt(padded, 120)})")


def _verify(
    template: ChatTemplate, fmt: TemplateFormat, separator: str, count: int, refuse: Callable[[str], Exception]
) -> int:
    """Render generated records through the template and the format; any difference refuses the import."""
    records = verification_records(fmt, count)
    for record in records:
        user = record.instruction + separator + record.input if record.input else record.instruction
        text = template.render([_user(user), _assistant(record.output)], add_generation_prompt=False)
        prompt = template.render([_user(user)], add_generation_prompt=True)
        rendered = fmt.render(record)
        for what, ours, theirs in (("text", rendered.text, text), ("prompt", rendered.prompt, prompt)):
            if ours != theirs:
                at = next((i for i, (a, b) in enumerate(zip(ours, theirs)) if a != b), min(len(ours), len(theirs)))
                raise refuse(
                    "verification failed: the template renders some records differently from its literal pieces "
                    f"(it changes or drops content, or depends on it). For {record.fields()!r}, at offset {at} of the "
                    f"{what} the template renders {theirs[at:at + 40]!r} but the pieces give {ours[at:at + 40]!r}"
                )
        if fmt.check(record).lossless and fmt.parse(rendered.text) != record:  # pragma: no cover - engine bug
            raise refuse(f"verification failed: {record.fields()!r} does not parse back")
    return len(records)


_PIECES = (
    "Hello", "world", "Translate to French:", "What is 2 + 2?", "Bonjour", "4", " ", "  ", "\n", "\n\n", "\t",
    "\r\n", "日本語", "é", "🙂", "{{ x }}", "{% if %}", "'", '"', "\\n", "<s>", "</s>", "[INST]", "<|", "|>",
    "### Response:", "User:", "Assistant:", "system",
)


def verification_records(fmt: TemplateFormat, count: int = 64, seed: int = 0) -> list[Record]:
    """Deterministic records for verification: plain ones, edge cases, and random mixes of hostile pieces."""
    t = fmt.template
    pieces = [*_PIECES, *(p for p in (t.prefix, t.separator, t.prompt_suffix, t.response_prefix, t.end) if p)]
    fixed = [
        Record(instruction="Name a colour.", output="Blue."),
        Record(instruction="Translate to French.", input="Good morning", output="Bonjour"),
        Record(instruction="Summarise.", input="  ", output="Nothing."),
        Record(instruction="  Padded instruction.\n", input="\nPadded input \t", output=" Padded output.\n\n"),
        Record(instruction="Multi\nline\n\ninstruction", input="multi\nline", output="multi\n\nline"),
        Record(instruction="Empty output.", output=""),
        Record(instruction="", input="Only an input.", output="ok"),
    ]
    rng = random.Random(seed)

    def content() -> str:
        return "".join(rng.choice(pieces) for _ in range(rng.randint(0, 5)))

    generated = [
        Record(instruction=content(), input=content() if rng.random() < 0.6 else "", output=content())
        for _ in range(max(0, count - len(fixed)))
    ]
    return fixed + generated


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

