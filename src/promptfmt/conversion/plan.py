"""Planning a conversion: everything that does not depend on the individual items (layouts, formats,
usage errors), decided from the options and the first items."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass

from ..detect import detect_format
from ..errors import UsageError
from ..format import Format
from ..io import Item
from ..plugins import FormatRegistry
from ..records import layouts
from ..records.mapping import FieldMapping

DETECT_LIMIT = 200
"""How many leading texts ``--from auto`` examines to detect the format."""


class ConvertUsageError(UsageError):
    """Options that do not fit together or do not fit the data (the CLI exits 2)."""


@dataclass(frozen=True)
class Plan:
    """What a conversion does, decided before the first record is converted."""

    input_layout: str
    output_layout: str
    source: Format | None = None  # parses rendered input items (``--from``)
    target: Format | None = None  # renders text and prompt-completion output items (``--to``)
    strict: bool = False
    drop_metadata: bool = False
    null_as_empty: bool = False
    mapping: FieldMapping | None = None  # for alpaca items (``--map``, ``--profile``)
    notes: tuple[str, ...] = ()  # warnings for the user about the options (the CLI prints them)



def plan(
    items: Iterator[Item],
    *,
    output_layout: str | None = None,
    target: Format | None = None,
    source: Format | str | None = None,
    input_layout: str | None = None,
    registry: FormatRegistry | None = None,
    strict: bool = False,
    drop_metadata: bool = False,
    null_as_empty: bool = False,
    mapping: FieldMapping | None = None,
) -> tuple[Plan, Iterator[Item]]:
    """The `Plan` for ``items``, and the items again (the ones looked at are not lost).

    ``output_layout`` defaults to ``text`` when ``target`` is given, else ``alpaca``. ``input_layout``
    is detected from the first item that is a JSON object unless given. ``source`` is the format of
    rendered input items, or ``"auto"`` to detect it from the first `DETECT_LIMIT` of them (this needs
    ``registry``). ``mapping`` (a `promptfmt.records.mapping.FieldMapping`) reads the record fields of alpaca
    items from other keys; it makes ``alpaca`` the default input layout. Raises `ConvertUsageError`
    when the options do not fit.
    """
    layout = output_layout or (layouts.TEXT if target is not None else layouts.ALPACA)
    if layout not in layouts.OUTPUT_LAYOUTS:
        raise ConvertUsageError(f"unknown output layout {layout!r}; choose one of {', '.join(layouts.OUTPUT_LAYOUTS)}")
    if layouts.needs_format(layout) and target is None:
        raise ConvertUsageError(f"the {layout} layout holds rendered text: name the format with --to FORMAT")
    if not layouts.needs_format(layout) and target is not None:
        raise ConvertUsageError(
            f"--to {target.name} has no effect on the {layout} layout, which holds the record itself, not rendered text. "
            "Drop --to, or use --layout text or --layout prompt-completion."
        )
    if input_layout is not None and input_layout not in layouts.INPUT_LAYOUTS:
        raise ConvertUsageError(f"unknown input layout {input_layout!r}; choose one of {', '.join(layouts.INPUT_LAYOUTS)}")
    mapped = mapping is not None and not mapping.identity
    if mapped and input_layout not in (None, layouts.ALPACA):
        raise ConvertUsageError(f"--map and --profile read records from other keys; the {input_layout} layout has fixed keys")
    if mapped:
        input_layout = layouts.ALPACA
    head: list[Item] = []
    if input_layout is None:
        input_layout = _detect_layout(items, head)
    items = itertools.chain(head, items)
    notes: list[str] = []
    if layouts.needs_format(input_layout):
        if source is None:
            raise ConvertUsageError(
                f"the items are rendered text ({input_layout} layout): name the format they were rendered in "
                "with --from FORMAT, or let promptfmt detect it with --from auto"
            )
        if source == "auto":
            source, items = _detect_source(items, input_layout, registry)
    elif source is not None:
        name = source if isinstance(source, str) else source.name
        notes.append(f"--from {name} is ignored: the items are {input_layout} items, not rendered text")
        source = None
    result = Plan(
        input_layout=input_layout,
        output_layout=layout,
        source=source,  # type: ignore[arg-type]
        target=target,
        strict=strict,
        drop_metadata=drop_metadata,
        null_as_empty=null_as_empty,
        mapping=mapping if mapped else None,
        notes=tuple(notes),
    )
    return result, items


def _detect_layout(items: Iterator[Item], head: list[Item]) -> str:
    """The layout of the first item that is a JSON object (consumed items are appended to ``head``)."""
    for item in items:
        head.append(item)
        if item.error is None and isinstance(item.value, dict):
            return layouts.detect_layout(item.value)
    return layouts.ALPACA


def _detect_source(items: Iterator[Item], layout: str, registry: FormatRegistry | None) -> tuple[Format, Iterator[Item]]:
    if registry is None:
        raise ConvertUsageError("--from auto needs the registry of formats to choose from")
    head = list(itertools.islice(items, DETECT_LIMIT))
    texts = [text for text in (_text_of(item, layout) for item in head) if text is not None]
    detection = detect_format(texts, registry, limit=DETECT_LIMIT)
    if detection.name is None:
        raise ConvertUsageError(
            f"--from auto could not tell the format from the first {len(texts)} text(s): {detection.describe()}. "
            "Pass --from FORMAT (see 'promptfmt formats')."
        )
    return registry.get(detection.name), itertools.chain(head, items)


def _text_of(item: Item, layout: str) -> str | None:
    value = item.value
    if item.error is not None or not isinstance(value, dict):
        return None
    if layout == layouts.TEXT:
        text = value.get("text")
        return text if isinstance(text, str) else None
    prompt, completion = value.get("prompt"), value.get("completion")
    return prompt + completion if isinstance(prompt, str) and isinstance(completion, str) else None

