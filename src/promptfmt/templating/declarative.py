"""Declarative formats: a prompt style described by a small TOML file, no Python.

A format file maps one to one onto a `Template` (render, parse and the losslessness check all
derive from it, so they cannot drift apart), plus the format's name, aliases, description and the
reference it follows::

    name = "house-qa"
    aliases = ["qa"]
    description = "Our team's question/answer style."
    reference = "https://wiki.example.org/prompt-style"

    [template]
    preamble = "You answer questions about our products.\\n\\n"   # optional system/preamble text
    prefix = "Question: "
    separator = "\\nContext: "        # opens the input block (joins instruction and input in chat styles)
    prompt_suffix = "\\nAnswer:"
    response_prefix = " "
    end = "\\n"                       # end-of-turn text after the output

Keys of ``[template]`` are the fields of `Template` (see `promptfmt.templating.template`), with one
addition: ``preamble`` is text placed before everything else (a system prompt, a BOS text); it is
prepended to ``prefix`` (and to ``prefix_no_input`` when that is given). TOML has no null: leave
``prefix_no_input`` out to share ``prefix``.

The pydantic model `FormatFile` is the source of truth of ``schemas/format.schema.json``. A file is
checked against that checked-in schema with ``jsonschema`` (every message names the key path:
``house-qa.toml: template.separator: must not be empty``), then the `Template` or `ChatTurns` is
built, whose rules (`promptfmt.templating.collisions`: pieces that could not read back) name the
file and keys too. Nothing in a format file is ever executed.

Format files reach the registry as ordinary plugins, one per file, named ``file:PATH``
(`promptfmt.plugins.sources`).
"""

from __future__ import annotations

import difflib
import os
import re
import stat
import sys
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic.json_schema import SkipJsonSchema

from ..errors import FormatDefinitionError
from ..schema_files import load as load_schema
from .collisions import UnusablePieces
from .template import Template, TemplateFormat
from .turns import ChatTurns

SCHEMA_NAME = "format.schema.json"
SCHEMA_VERSION = 2
"""The newest format-file schema this promptfmt reads: 1 has ``[template]``, 2 adds ``[turns]``."""
TURNS_SCHEMA_VERSION = 2
FILE_PLUGIN_PREFIX = "file:"

# Constraints written as "must not contain" patterns: unanchored, so that Python's ``re`` (used by
# jsonschema) and pydantic's regex engine agree ("$" differs between them before a final newline).
_NAME_FORBIDDEN = "[^A-Za-z0-9._+-]"
NAME_MAX_LENGTH = 64
"""The longest format name or alias (the built-in ones are at most 24 characters long)."""
_LINE_BREAK = "[\r\n]"
_NOT_PATTERN_MESSAGES = {
    _NAME_FORBIDDEN: "may contain only letters, digits and the characters . _ + -",
    _LINE_BREAK: "must be one line",
}


def check_format_name(value: str) -> str:
    """``value`` if it is a valid format name or alias, else a `ValueError` saying why."""
    if not value:
        raise ValueError("must not be empty")
    if len(value) > NAME_MAX_LENGTH:
        raise ValueError(_too_long(len(value)))
    if re.search(_NAME_FORBIDDEN, value):
        raise ValueError(_NOT_PATTERN_MESSAGES[_NAME_FORBIDDEN])
    return value


def _too_long(length: int) -> str:
    return f"must be at most {NAME_MAX_LENGTH} characters long, not {length}"


def _check_one_line(value: str) -> str:
    if re.search(_LINE_BREAK, value):
        raise ValueError(_NOT_PATTERN_MESSAGES[_LINE_BREAK])
    return value


FormatName = Annotated[
    str,
    Field(min_length=1, max_length=NAME_MAX_LENGTH, json_schema_extra={"not": {"pattern": _NAME_FORBIDDEN}}),
    AfterValidator(check_format_name),
]
OneLine = Annotated[
    str,
    Field(min_length=1, json_schema_extra={"not": {"pattern": _LINE_BREAK}}),
    AfterValidator(_check_one_line),
]


def _drop_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


class TemplateSpec(BaseModel):
    """The ``[template]`` table: the literal pieces of the prompt style (see `promptfmt.templating.template`)."""

    model_config = ConfigDict(extra="forbid", strict=True, title="template")

    preamble: str = Field("", description="Text before everything else (a system prompt, a BOS text); prepended to prefix and prefix_no_input.")
    prefix: str = Field("", description="Text before the instruction (after the preamble).")
    prefix_no_input: str | SkipJsonSchema[None] = Field(
        None,
        description="Text before the instruction when there is no input, for styles with two preambles; leave it out to use prefix.",
        json_schema_extra=_drop_default,
    )
    separator: str = Field(
        min_length=1,
        description="Text between the instruction and the input: opens the input block; in chat styles it joins them into one user message.",
    )
    prompt_suffix: str = Field("", description="Text that ends the prompt (after the instruction or the input).")
    response_prefix: str = Field("", description="Text that opens the completion, before the output.")
    end: str = Field("", description="End-of-turn text after the output (end-of-turn marker, EOS text).")
    input_block: Literal["non-empty", "always"] = Field(
        "non-empty", description="When the input block appears: for a non-empty input only, or always."
    )
    chat: bool = Field(False, description="Instruction, separator and input form one chat user message.")
    trim: bool = Field(False, description="The template strips surrounding whitespace of the user message and the output.")
    trim_output: bool = Field(False, description="The template strips surrounding whitespace of the output only.")
    extra_markers: list[str] = Field(
        [], description="More texts that betray this format inside content (for example a system-turn marker)."
    )
    output_lstrip: str = Field("", description="Characters the template strips from the start of the output.")
    content_dependent: list[str] = Field(
        [], description="Texts the official template renders otherwise when an output holds them (reported lossy).")

    @field_validator("prefix_no_input", mode="before")
    @classmethod
    def _no_null(cls, value: object) -> object:
        if value is None:  # TOML has no null; JSON documents must not use it either
            raise ValueError("must be a string; leave the key out to use prefix")
        return value

    def to_template(self) -> Template:
        return Template(
            prefix=self.preamble + self.prefix,
            prefix_no_input=None if self.prefix_no_input is None else self.preamble + self.prefix_no_input,
            separator=self.separator,
            prompt_suffix=self.prompt_suffix,
            response_prefix=self.response_prefix,
            end=self.end,
            input_block=self.input_block,
            chat=self.chat,
            trim=self.trim,
            trim_output=self.trim_output,
            extra_markers=tuple(self.extra_markers),
            output_lstrip=self.output_lstrip,
            content_dependent=tuple(self.content_dependent),
        )


class TurnsSpec(BaseModel):
    """The ``[turns]`` table: a chat format turn by turn (see `promptfmt.templating.turns`); render,
    parse and the losslessness verdict of conversations and records all derive from it."""

    model_config = ConfigDict(extra="forbid", strict=True, title="turns")

    bos: str = Field("", description="Text before everything else, once (a BOS text).")
    user_prefix: str = Field(description="Text before each user message.")
    user_suffix: str = Field("", description="Text after each user message.")
    generation_prompt: str = Field("", description="Text that opens an assistant turn; a prompt ends with it.")
    response_prefix: str = Field("", description="Trained text before each answer (after the generation prompt).")
    turn_end: str = Field("", description="Trained end-of-turn text after each answer.")
    final: str = Field("", description="Trained text after the last answer (an EOS text).")
    system: Literal["turn", "first-user", "refused"] = Field(
        "turn", description="Where a system message goes: its own turn, inside the first user message, or refused.")
    system_prefix: str = Field("", description="Text before the system message.")
    system_suffix: str = Field("", description="Text after the system message.")
    default_system: str | SkipJsonSchema[None] = Field(
        None, description="The template's own system text, rendered only when a conversation has none.",
        json_schema_extra=_drop_default,
    )
    separator: str = Field("\n", min_length=1, description="Joins a record's instruction and input into the user message.")
    trim: bool = Field(False, description="The template strips surrounding whitespace of every content.")
    trim_output: bool = Field(False, description="The template strips surrounding whitespace of the answers only.")
    trim_system: bool | SkipJsonSchema[None] = Field(None, json_schema_extra=_drop_default, description="Overrides "
        "trim for the system content: true strips it on its own (also inside the first user message), false never.")
    first_user_trim: Literal["whole", "content"] = Field("whole", description="What trim strips of a first user "
        "message holding the system block: the whole message (Llama-2) or the user's own content (Gemma 3).")
    last_answer_prefix: str = Field("", description="Markup before the last answer only, also ending a prompt "
                                    "(Qwen3's empty think block).")
    last_answer_lstrip: str = Field("", description="Characters the template strips from the start of the last answer.")
    content_dependent: list[str] = Field(
        [], description="Texts the official template renders otherwise when an answer holds them (reported lossy).")
    answer_lstrip: str = Field("", description="Characters the template strips from the start of every answer.")
    system_rstrip: bool = Field(False, description="The template strips the end of the system text; "
                                "one left empty renders as none.")
    system_content_dependent: list[str] = Field(
        [], description="Texts the official template renders otherwise when the system message holds them.")
    extra_markers: list[str] = Field([], description="More texts that betray this format inside content.")

    @field_validator("default_system", "trim_system", mode="before")
    @classmethod
    def _no_null(cls, value: object) -> object:
        if value is None:
            raise ValueError("must not be null; leave the key out instead")
        return value

    def to_turns(self) -> ChatTurns:
        values = self.model_dump()
        for key in ("extra_markers", "content_dependent", "system_content_dependent"):
            values[key] = tuple(values[key])
        return ChatTurns(**values)


class FormatFile(BaseModel):
    """A declarative prompt-style file (TOML): a format's name and metadata, and either its one-turn
    `Template` (``[template]``) or its chat turns (``[turns]``)."""

    model_config = ConfigDict(
        extra="forbid", strict=True, title="promptfmt declarative format",
        json_schema_extra={"oneOf": [{"required": ["template"]}, {"required": ["turns"]}]},
    )

    schema_version: Annotated[int, Field(ge=1, le=SCHEMA_VERSION)] | SkipJsonSchema[None] = Field(
        None, json_schema_extra=_drop_default,
        description=f"The format-file schema the file is written for (1: [template]; 2: adds [turns]); newer "
        f"than {SCHEMA_VERSION} needs a newer promptfmt. Leave it out to mean any version this promptfmt reads.")
    name: FormatName = Field(description="The format's name, as given to --format.")
    aliases: list[FormatName] = Field([], description="Other names of the format.")
    description: OneLine = Field(description="One line: what the format is.")
    reference: OneLine = Field(description="The reference the format follows (a model card, a template, a document).")
    template: TemplateSpec | SkipJsonSchema[None] = Field(
        None, description="One turn: the literal pieces around instruction, input and output.",
        json_schema_extra=_drop_default)
    turns: TurnsSpec | SkipJsonSchema[None] = Field(
        None, description="A chat format turn by turn: any number of turns and a system message.",
        json_schema_extra=_drop_default)

    @model_validator(mode="after")
    def _one_description(self) -> FormatFile:
        if (self.template is None) == (self.turns is None):
            raise ValueError(_ONE_TABLE)
        if self.turns is not None and self.schema_version is not None and self.schema_version < TURNS_SCHEMA_VERSION:
            raise ValueError(f"a [turns] table needs schema_version {TURNS_SCHEMA_VERSION} or later "
                             f"(the file says {self.schema_version}); raise it or leave the key out")
        return self

    def to_format(self) -> TemplateFormat:
        aliases = tuple(self.aliases)
        if self.turns is not None:
            return TemplateFormat.from_turns(self.name, self.turns.to_turns(), aliases=aliases,
                                             description=self.description, reference=self.reference)
        assert self.template is not None
        return TemplateFormat(self.name, self.template.to_template(), aliases=aliases,
                              description=self.description, reference=self.reference)


_ONE_TABLE = "give either a [template] table (one turn) or a [turns] table (a chat format turn by turn), not both"


# -- reading ---------------------------------------------------------------------------------------


def _toml():
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    return tomllib


@lru_cache(maxsize=1)
def _validator():
    import jsonschema  # ~100 ms: imported when a format file is read

    return jsonschema.Draft202012Validator(load_schema(SCHEMA_NAME))


def load_format_file(path: str | Path) -> TemplateFormat:
    """The format a TOML file describes; a `FormatDefinitionError` naming the file and key otherwise."""
    path = Path(path)
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):  # a FIFO nobody writes to would wait forever
            raise FormatDefinitionError(f"{path}: not a regular file (a folder, a FIFO or a device)")
        data = path.read_bytes()
    except OSError as exc:
        raise FormatDefinitionError(f"{path}: cannot read the format file: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FormatDefinitionError(f"{path}: not UTF-8 text (byte {exc.start}); save the file as UTF-8") from None
    return parse_format_text(text, source=str(path))


def parse_format_text(text: str, *, source: str = "<format>") -> TemplateFormat:
    """The format described by TOML ``text``; ``source`` names it in error messages."""
    tomllib = _toml()
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise FormatDefinitionError(_toml_error(source, exc)) from None
    return parse_format_document(document, source=source)


def parse_format_document(document: object, *, source: str = "<format>") -> TemplateFormat:
    """The format of an already-parsed document: schema check, model, then `Template` checks."""
    version = document.get("schema_version") if isinstance(document, dict) else None
    if type(version) is int and version > SCHEMA_VERSION:  # first: its keys may be unknown here
        raise FormatDefinitionError(
            f"{source}: schema_version: the file is written for format-file schema version {version}, and this "
            f"promptfmt reads versions up to {SCHEMA_VERSION}: upgrade promptfmt (pip install -U promptfmt)")
    problems = [f"{source}: {location}: {message}" for location, message in schema_problems(document)]
    if problems:
        raise FormatDefinitionError("\n".join(problems))
    try:
        spec = FormatFile.model_validate(document)
    except ValidationError as exc:  # the schema and the model agree (tested); this is a safety net
        first = exc.errors()[0]
        location = ".".join(map(str, first["loc"])) or "(top level)"
        raise FormatDefinitionError(f"{source}: {location}: {first['msg']}") from None
    _check_aliases(spec, source)
    table = "turns" if spec.turns is not None else "template"
    try:
        return spec.to_format()
    except UnusablePieces as exc:
        keys = ", ".join(f"{table}.{key}" for key in exc.keys)
        raise FormatDefinitionError(f"{source}: {keys}: {exc.detail}") from None
    except FormatDefinitionError as exc:
        raise FormatDefinitionError(f"{source}: {table}: {exc}") from None


def _check_aliases(spec: FormatFile, source: str) -> None:
    """Each alias once, none the format's own name (a rule past the schema, as the pieces' rules are)."""
    seen = {spec.name}
    for index, alias in enumerate(spec.aliases):
        if alias in seen:
            what = "is the format's name" if alias == spec.name else "is listed twice"
            raise FormatDefinitionError(f"{source}: aliases.{index}: {alias!r} {what}; remove it")
        seen.add(alias)


def schema_problems(document: object) -> list[tuple[str, str]]:
    """``(key path, message)`` for every way ``document`` breaks ``schemas/format.schema.json``."""
    problems = [problem for error in _validator().iter_errors(document) for problem in _describe(error)]
    return sorted(set(problems))  # one jsonschema error per missing key names them all: keep each once


_JSON_TYPES = {"string": "a string", "boolean": "true or false", "array": "a list", "object": "a table"}


def _describe(error: Any) -> list[tuple[str, str]]:
    """Key paths and messages that say what is wrong and how to fix it."""
    path = [str(part) for part in error.absolute_path]
    kind, value, instance = error.validator, error.validator_value, error.instance
    if kind == "required":
        return [(".".join([*path, key]), "is missing (a required key)") for key in value if key not in instance]
    if kind == "additionalProperties":
        known = sorted(error.schema.get("properties", {}))
        return [(".".join([*path, key]), _unknown_key(key, known)) for key in instance if key not in known]
    where = ".".join(path) or "(top level)"
    if kind == "type":
        expected = " or ".join(_JSON_TYPES.get(t, t) for t in ([value] if isinstance(value, str) else value))
        return [(where, f"must be {expected}, not {_toml_type(instance)}")]
    if kind == "minLength":
        return [(where, "must not be empty")]
    if kind == "maxLength":
        return [(where, _too_long(len(instance)))]
    if kind == "enum":
        return [(where, f"must be one of {', '.join(repr(v) for v in value)}, not {instance!r}")]
    if kind == "oneOf" and not path:
        return [("(top level)", _ONE_TABLE)]
    if kind == "not" and isinstance(value, dict) and value.get("pattern") in _NOT_PATTERN_MESSAGES:
        return [(where, _NOT_PATTERN_MESSAGES[value["pattern"]])]
    return [(where, error.message)]


def _unknown_key(key: str, known: list[str]) -> str:
    close = difflib.get_close_matches(key, known, n=1)
    hint = f"did you mean {close[0]!r}?" if close else f"the keys here are: {', '.join(known)}"
    return f"unknown key; {hint}"


def _toml_type(value: object) -> str:
    names = {bool: "a boolean", int: "an integer", float: "a float", str: "a string", list: "a list", dict: "a table"}
    return names.get(type(value), f"a {type(value).__name__} value")


def _toml_error(source: str, exc: Exception) -> str:
    message = str(exc)
    match = re.search(r"\s*\(at line (\d+), column (\d+)\)$", message)
    if match:
        return f"{source}:{match[1]}:{match[2]}: invalid TOML: {message[: match.start()]}"
    return f"{source}: invalid TOML: {message}"
