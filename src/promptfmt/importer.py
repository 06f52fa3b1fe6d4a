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
   parse back. Only then is the format returned.

The import refuses, with the reason, a template whose output cannot be described by literal
pieces: one that raises for a user/assistant conversation (a required system message, other
roles), transforms or drops the content, inserts the current date, repeats a message, trims only
the user message, gives a prompt that is not the start of the training text, or renders some
record differently from the derived format.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import FormatDefinitionError, PromptfmtError
from .models import Record
from .template import Template, TemplateFormat

DEFAULT_SEPARATOR = "\n"

# Mixed case, letters and digits, no whitespace: `upper`, `lower`, `title`, `capitalize` and
# `trim` all change or reveal them, and no real template contains them.
_INSTRUCTION = "qZinstructionKq7"
_INPUT = "qZinputKq8"
_OUTPUT = "qZoutputKq9"
_SECOND_USER = "qZuser2Kq5"
_SECOND_OUTPUT = "qZoutput2Kq4"
_PAD = " \n"
_DATES = ((2001, 2, 3, 4, 5, 6), (2019, 11, 28, 23, 58, 59))


class TemplateImportError(PromptfmtError):
    """A chat template that cannot be imported as a declarative format; the message says why."""

    def __init__(self, origin: str, reason: str) -> None:
        self.origin = origin
        self.reason = reason
        super().__init__(f"cannot import {origin} as a declarative format: {reason}")


class MissingTokensError(TemplateImportError):
    """The template uses special tokens (``bos_token``, ``eos_token``, …) whose text was not given."""

    def __init__(self, origin: str, tokens: list[str]) -> None:
        self.tokens = tokens
        options = " ".join(f"--{name.replace('_', '-')} TEXT" for name in tokens)
        super().__init__(
            origin,
            f"the template uses {', '.join(tokens)} but no text was given for it. Pass {options} "
            "(the model's tokenizer_config.json has them; import that file instead to take them from it), "
            "or an empty text if the model has none.",
        )


class _TemplateRaised(Exception):
    """The template called ``raise_exception``."""


# -- rendering chat templates in a sandbox ----------------------------------------------------------


@dataclass(frozen=True)
class ChatTemplate:
    """A chat template and the special-token texts it is rendered with."""

    source: str
    tokens: Mapping[str, str] = field(default_factory=dict)
    origin: str = "<template>"

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.source.encode("utf-8")).hexdigest()

    def render(
        self, messages: list[dict[str, str]], *, add_generation_prompt: bool, now: tuple[int, ...] = _DATES[0]
    ) -> str:
        """What Hugging Face ``apply_chat_template(messages, tokenize=False)`` gives, in a sandbox.

        ``now`` is the date ``strftime_now`` reports (fixed, so that renderings are reproducible).
        Raises `TemplateImportError` when the template raises or cannot be rendered.
        """
        import datetime

        from jinja2.sandbox import SecurityError

        template = _compile(self.source, self.origin)
        moment = datetime.datetime(*now)
        try:
            return template.render(
                messages=messages,
                add_generation_prompt=add_generation_prompt,
                strftime_now=moment.strftime,
                **self.tokens,
            )
        except _TemplateRaised as exc:
            roles = "/".join(m["role"] for m in messages)
            raise TemplateImportError(
                self.origin,
                f"the template refuses the conversation an instruction record becomes ({roles}): it raised {str(exc)!r}",
            ) from None
        except SecurityError as exc:
            raise TemplateImportError(self.origin, f"the sandbox blocked an unsafe operation of the template: {exc}") from None
        except Exception as exc:  # the template is untrusted code: whatever it raises is a refusal, never a crash
            raise TemplateImportError(self.origin, f"the template failed to render: {type(exc).__name__}: {exc}") from None

    def undeclared_tokens(self) -> list[str]:
        """Special tokens (``*_token`` variables) the template uses but that have no text here."""
        from jinja2 import meta

        _compile(self.source, self.origin)  # a syntax error is reported as such, first
        names = meta.find_undeclared_variables(_environment().parse(self.source))
        return sorted(name for name in names if name.endswith("_token") and name not in self.tokens)


def _raise_exception(message: str) -> None:
    raise _TemplateRaised(message)


def _tojson(value: Any, ensure_ascii: bool = False, indent: int | None = None,
            separators: Any = None, sort_keys: bool = False) -> str:
    return json.dumps(value, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


_ENVIRONMENT: Any = None


def _environment() -> Any:
    """The sandboxed Jinja environment (built on first use: jinja2 is imported only by the importer)."""
    global _ENVIRONMENT
    if _ENVIRONMENT is None:
        from jinja2.ext import Extension, loopcontrols
        from jinja2.sandbox import ImmutableSandboxedEnvironment

        class GenerationTag(Extension):
            """``{% generation %}…{% endgeneration %}`` (Hugging Face's assistant-mask tag): renders its body."""

            tags = {"generation"}

            def parse(self, parser: Any) -> Any:
                next(parser.stream)
                return parser.parse_statements(("name:endgeneration",), drop_needle=True)

        env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[GenerationTag, loopcontrols])
        env.filters["tojson"] = _tojson
        env.globals["raise_exception"] = _raise_exception
        _ENVIRONMENT = env
    return _ENVIRONMENT


_COMPILED: dict[str, Any] = {}


def _compile(source: str, origin: str) -> Any:
    from jinja2 import TemplateSyntaxError

    if source not in _COMPILED:
        try:
            _COMPILED[source] = _environment().from_string(source)
        except TemplateSyntaxError as exc:
            raise TemplateImportError(origin, f"not a valid Jinja template: line {exc.lineno}: {exc.message}") from None
    return _COMPILED[source]


def load_chat_template(
    path: str | Path, *, template_name: str | None = None, tokens: Mapping[str, str] | None = None
) -> ChatTemplate:
    """A chat template from a ``.jinja`` file, or from a ``tokenizer_config.json`` with its special tokens.

    From a tokenizer config: ``chat_template`` (a string, or a list of named templates, of which
    ``template_name`` or else ``"default"`` is taken) and every ``*_token`` entry (a string or an
    ``{"content": …}`` object). ``tokens`` add to, or override, those texts.
    """
    path = Path(path)
    origin = path.name
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise TemplateImportError(str(path), f"cannot read it: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise TemplateImportError(str(path), "it is not UTF-8 text") from None
    found: dict[str, str] = {}
    if path.suffix == ".json":
        text, found = _from_tokenizer_config(text, str(path), template_name)
    elif template_name is not None:
        raise TemplateImportError(str(path), "--template-name applies to a tokenizer_config.json only")
    return ChatTemplate(text, {**found, **(tokens or {})}, origin)


def _from_tokenizer_config(text: str, origin: str, template_name: str | None) -> tuple[str, dict[str, str]]:
    try:
        config = json.loads(text)
    except json.JSONDecodeError as exc:
        raise TemplateImportError(origin, f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    if not isinstance(config, dict) or "chat_template" not in config:
        raise TemplateImportError(origin, "it has no chat_template key (is it a tokenizer_config.json of a chat model?)")
    chat_template = config["chat_template"]
    if isinstance(chat_template, list):
        named = {item.get("name"): item.get("template") for item in chat_template if isinstance(item, dict)}
        wanted = template_name or "default"
        if not isinstance(named.get(wanted), str):
            choices = ", ".join(repr(n) for n in named)
            raise TemplateImportError(origin, f"chat_template has no template named {wanted!r}; pass --template-name, one of {choices}")
        chat_template = named[wanted]
    elif template_name is not None:
        raise TemplateImportError(origin, "chat_template is a single template; leave out --template-name")
    if not isinstance(chat_template, str):
        raise TemplateImportError(origin, "chat_template must be a string or a list of {name, template} objects")
    tokens = {}
    for key, value in config.items():
        if key.endswith("_token"):
            token = value.get("content") if isinstance(value, dict) else value
            if isinstance(token, str):
                tokens[key] = token
    return chat_template, tokens


# -- deriving the literal pieces --------------------------------------------------------------------


@dataclass
class ImportResult:
    """A format derived from a chat template, verified against it."""

    format: TemplateFormat
    preamble: str
    records_checked: int
    notes: list[str]

    def toml(self, header: str = "") -> str:
        from .declarative import dumps_format

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
    if template.render([_user(user), _assistant(_OUTPUT)], add_generation_prompt=False, now=_DATES[1]) != text:
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
    return ImportResult(fmt, _preamble(template, fmt, separator), checked, notes)


def _check_name(name: str) -> None:
    from .declarative import check_format_name

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
