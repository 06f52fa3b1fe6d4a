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
from ..validation.issues import CHECKS

DETECT_LIMIT = 200
"""How many leading texts ``--from auto`` examines to detect the format."""


IGNORABLE = ("empty-instruction", "empty-output", "whitespace-only-input", "surrounding-whitespace",
             "template-marker", "placeholder", "control-character", "unknown-field")
"""The checks of convert that ``ignore`` may turn off: an ignored error no longer quarantines the
record, an ignored warning is no longer counted. The others describe items that are not records
at all, or are not checked by convert."""


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
    swap_when_empty: bool = False  # read input as the instruction where that is empty (alpaca items)
    ignore: tuple[str, ...] = ()  # checks whose issues neither quarantine nor count (`IGNORABLE`)
    strip_bos: bool = False  # rendered text and prompts written without the target's leading BOS text
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
    swap_when_empty: bool = False,
    ignore: tuple[str, ...] = (),
    strip_bos: bool = False,
    tokens: bool = False,
) -> tuple[Plan, Iterator[Item]]:
    """The `Plan` for ``items``, and the items again (the ones looked at are not lost).

    ``output_layout`` defaults to ``text`` when ``target`` is given, else ``alpaca``. ``input_layout``
    is detected from the first item that is a JSON object unless given. ``source`` is the format of
    rendered input items, or ``"auto"`` to detect it from the first `DETECT_LIMIT` of them (this needs
    ``registry``). ``mapping`` (a `promptfmt.records.mapping.FieldMapping`) reads the record fields of alpaca
    items from other keys; it makes ``alpaca`` the default input layout. ``swap_when_empty`` reads
    the input of an alpaca record as its instruction where the instruction is empty or missing (see
    `promptfmt.validation.Validator`); ``ignore`` names checks of `IGNORABLE` not to apply;
    ``strip_bos`` writes the ``text`` (or ``prompt``) without the target's leading `Format.bos`;
    ``tokens`` allows the ``tokens`` layout, whose items only `promptfmt.tokens` can write.
    Raises `ConvertUsageError` when the options do not fit.
    """
    _check_ignored(ignore)
    layout = output_layout or (layouts.TEXT if target is not None else layouts.ALPACA)
    if layout not in layouts.OUTPUT_LAYOUTS and not (tokens and layout == layouts.TOKENS):
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
    if swap_when_empty and input_layout != layouts.ALPACA:
        raise ConvertUsageError(f"--swap-when-empty reads the input of records as their instruction; the "
                                f"{input_layout} layout has no instruction and input keys")
    notes = _bos_notes(layout, target, strip_bos)
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
        swap_when_empty=swap_when_empty,
        ignore=tuple(ignore),
        strip_bos=strip_bos and target is not None and bool(target.bos),
        notes=tuple(notes),
    )
    return result, items


def _check_ignored(ignore: tuple[str, ...]) -> None:
    for code in ignore:
        if code in IGNORABLE:
            continue
        check = CHECKS.get(code)
        if check is None:
            raise ConvertUsageError(f"unknown check {code!r}; convert can ignore: {', '.join(IGNORABLE)}")
        if check.structural:
            why = "such an item is not a record at all"
        elif code == "lossy-in-format":
            why = "lossy records are written unless --strict asks to quarantine them"
        else:
            why = "convert does not look for it (promptfmt validate does)"
        raise ConvertUsageError(f"--ignore {code}: {why}; convert can ignore: {', '.join(IGNORABLE)}")


def _bos_notes(layout: str, target: Format | None, strip_bos: bool) -> list[str]:
    if not strip_bos:
        return []
    if layout not in layouts.RENDERED_LAYOUTS:
        raise ConvertUsageError(f"--strip-bos applies to rendered text (the {' and '.join(layouts.RENDERED_LAYOUTS)} "
                                f"layouts), not to the {layout} layout")
    if target is not None and not target.bos:
        return [f"--strip-bos has no effect: {target.name} texts do not start with a BOS text"]
    return []


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

