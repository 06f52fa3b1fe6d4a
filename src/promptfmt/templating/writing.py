"""Writing a `TemplateFormat` as a declarative format file (TOML, with ``tomli-w``).

A one-turn format becomes a ``[template]`` table without a ``schema_version`` key, so that any
promptfmt reads it; a chat format described turn by turn becomes a ``[turns]`` table with
``schema_version = 2``. Keys at their defaults are left out, and the written text is read back
and compared before it is returned.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from ..errors import FormatDefinitionError
from .declarative import TURNS_SCHEMA_VERSION, TemplateSpec, TurnsSpec, parse_format_text
from .template import TemplateFormat

__all__ = ["dumps_format", "format_document"]


def format_document(fmt: TemplateFormat, *, preamble: str = "") -> dict[str, Any]:
    """The format-file document of a `TemplateFormat` (keys at their defaults are left out).

    ``preamble`` moves that much of the prefixes into the ``preamble`` key, for readability; both
    prefixes must start with it.
    """
    if fmt.turns is not None:
        return _turns_document(fmt)
    t = fmt.template
    prefix_no_input = t.prefix_no_input
    if preamble and not (t.prefix.startswith(preamble) and (prefix_no_input or preamble).startswith(preamble)):
        raise FormatDefinitionError(f"the preamble {preamble!r} does not start both prefixes")
    table: dict[str, Any] = {"preamble": preamble, "prefix": t.prefix[len(preamble):]}
    if prefix_no_input is not None:
        table["prefix_no_input"] = prefix_no_input[len(preamble):]
    table.update(
        separator=t.separator, prompt_suffix=t.prompt_suffix, response_prefix=t.response_prefix, end=t.end,
        input_block=t.input_block, chat=t.chat, trim=t.trim, trim_output=t.trim_output,
        extra_markers=list(t.extra_markers), output_lstrip=t.output_lstrip, content_dependent=list(t.content_dependent),
    )
    defaults = TemplateSpec.model_fields
    table = {
        key: value for key, value in table.items()
        if key in ("prefix", "separator") or value != defaults[key].default
    }
    document: dict[str, Any] = {"name": fmt.name}
    if fmt.aliases:
        document["aliases"] = list(fmt.aliases)
    document.update(description=fmt.description, reference=fmt.reference, template=table)
    return document


def _turns_document(fmt: TemplateFormat) -> dict[str, Any]:
    """The format-file document of a format described turn by turn (keys at their defaults left out)."""
    assert fmt.turns is not None
    defaults = TurnsSpec.model_fields
    values = {key: list(value) if isinstance(value, tuple) else value for key, value in asdict(fmt.turns).items()}
    table = {key: value for key, value in values.items()
             if key == "user_prefix" or (value != defaults[key].default and value is not None)}
    # [turns] came with schema version 2: say so, so that an older promptfmt names the reason it refuses
    document: dict[str, Any] = {"schema_version": TURNS_SCHEMA_VERSION, "name": fmt.name}
    if fmt.aliases:
        document["aliases"] = list(fmt.aliases)
    document.update(description=fmt.description, reference=fmt.reference, turns=table)
    return document


def dumps_format(fmt: TemplateFormat, *, preamble: str = "", header: str = "") -> str:
    """TOML text of a format file (written with ``tomli-w``); ``header`` becomes leading comment lines."""
    import tomli_w

    document = format_document(fmt, preamble=preamble)
    text = tomli_w.dumps(document)
    comments = "".join(f"# {line}".rstrip() + "\n" for line in header.splitlines())
    result = comments + text
    back = parse_format_text(result, source="<generated>")
    if (back.template, back.turns) != (fmt.template, fmt.turns):  # pragma: no cover - a bug
        raise FormatDefinitionError("the written TOML does not describe the same format")
    return result
