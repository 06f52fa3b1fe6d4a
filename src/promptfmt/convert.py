"""Converting a dataset from one layout and prompt style to another, losing nothing.

The service reads `promptfmt.io.Item` values, turns each into a record (`promptfmt.layouts`), has it
checked by validation, checks that the output can carry it exactly, and hands the output item to a
``write`` callable. It never prints and never opens files: the CLI does that.

Nothing is lost (DESIGN.md section 3):

* an item that cannot be converted (invalid JSON, a validation error, a conversation that is not a
  single turn, text the ``--from`` format did not produce ...) is *quarantined*: handed to
  ``quarantine`` with its issues, never written;
* a record that the output cannot carry exactly is *lossy*: counted by reason and written (rendering
  is still wanted for training text) or, with ``strict``, quarantined;
* ``read == written + quarantined`` always holds for the returned `ConvertSummary`.

`plan` decides everything that does not depend on the individual items (layouts, formats, usage
errors) from the first items; `run` is the per-item loop; `convert` does both.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from . import layouts
from .errors import PromptfmtError
from .format import Format
from .io import Item
from .issues import CHECKS, ERROR, Issue
from .models import Verdict

DETECT_LIMIT = 200
"""How many leading texts ``--from auto`` examines to detect the format."""

LOSSY_CODE = "lossy-in-format"
Quarantine = Callable[[Item, list[Issue]], None]
Progress = Callable[[int], None]
PROGRESS_EVERY = 1024


class ConvertUsageError(PromptfmtError, ValueError):
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
    mapping: Any = None  # a `promptfmt.mapping.FieldMapping` for alpaca items (``--map``, ``--profile``)
    notes: tuple[str, ...] = ()  # warnings for the user about the options (the CLI prints them)


@dataclass
class ConvertSummary:
    """The counts of one conversion. ``read == written + quarantined`` always."""

    input_layout: str
    output_layout: str
    source_format: str | None
    target_format: str | None
    strict: bool = False
    read: int = 0
    written: int = 0
    quarantined: int = 0
    lossy_records: int = 0
    lossy: Counter[str] = field(default_factory=Counter)  # records per loss reason
    quarantined_by_code: Counter[str] = field(default_factory=Counter)  # quarantined records per issue code
    warnings: Counter[str] = field(default_factory=Counter)  # validation warnings per code

    @property
    def ok(self) -> bool:
        """True when every record read was written."""
        return self.quarantined == 0

    def merge(self, other: ConvertSummary) -> None:
        """Add the counts of ``other`` (a part of the same conversion) to these."""
        for name in ("read", "written", "quarantined", "lossy_records"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for name in ("lossy", "quarantined_by_code", "warnings"):
            getattr(self, name).update(getattr(other, name))

    def as_dict(self) -> dict[str, Any]:
        return {
            "input_layout": self.input_layout,
            "output_layout": self.output_layout,
            "from": self.source_format,
            "to": self.target_format,
            "strict": self.strict,
            "read": self.read,
            "written": self.written,
            "quarantined": self.quarantined,
            "quarantined_by_code": dict(sorted(self.quarantined_by_code.items())),
            "lossy": {"records": self.lossy_records, "by_reason": dict(sorted(self.lossy.items()))},
            "warnings": dict(sorted(self.warnings.items())),
            "ok": self.ok,
        }


# -- planning ------------------------------------------------------------------------------------


def plan(
    items: Iterator[Item],
    *,
    output_layout: str | None = None,
    target: Format | None = None,
    source: Format | str | None = None,
    input_layout: str | None = None,
    registry: Any = None,
    strict: bool = False,
    drop_metadata: bool = False,
    null_as_empty: bool = False,
    mapping: Any = None,
) -> tuple[Plan, Iterator[Item]]:
    """The `Plan` for ``items``, and the items again (the ones looked at are not lost).

    ``output_layout`` defaults to ``text`` when ``target`` is given, else ``alpaca``. ``input_layout``
    is detected from the first item that is a JSON object unless given. ``source`` is the format of
    rendered input items, or ``"auto"`` to detect it from the first `DETECT_LIMIT` of them (this needs
    ``registry``). ``mapping`` (a `promptfmt.mapping.FieldMapping`) reads the record fields of alpaca
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


def _detect_source(items: Iterator[Item], layout: str, registry: Any) -> tuple[Format, Iterator[Item]]:
    from .detect import detect_format  # detection is only needed here

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


# -- the per-item loop ---------------------------------------------------------------------------


def run(
    plan: Plan,
    items: Iterable[Item],
    write: Callable[[dict[str, Any]], None],
    *,
    quarantine: Quarantine | None = None,
    progress: Progress | None = None,
    registry: Any = None,
) -> ConvertSummary:
    """Convert ``items`` as ``plan`` says; output items go to ``write``, refused ones to ``quarantine``.

    ``registry`` holds the formats whose markers validation looks for (``template-marker``, a
    warning); None looks for none (the target format's own markers are checked anyway: they make a
    record lossy). ``progress(read)`` is called every `PROGRESS_EVERY` items and at the end.
    """
    summary = ConvertSummary(
        input_layout=plan.input_layout,
        output_layout=plan.output_layout,
        source_format=plan.source.name if plan.source is not None else None,
        target_format=plan.target.name if plan.target is not None else None,
        strict=plan.strict,
    )
    refuse = _refuser(summary, quarantine)
    read_fields = None if plan.input_layout == layouts.ALPACA else layouts.reader(plan.input_layout, plan.source)
    checker = validator(plan, registry)
    check = checker.check
    quick = checker.quick if read_fields is None else None  # clean records skip the full check
    stage = _stage(plan)
    colliding = _COLLIDING.get(plan.output_layout)
    keep_metadata = not plan.drop_metadata
    strict = plan.strict
    lossy = summary.lossy
    read = written = lossy_records = 0
    for item in items:
        read += 1
        if progress is not None and not read % PROGRESS_EVERY:
            progress(read)
        fields = quick(item) if quick is not None else None
        if fields is not None:  # a clean record without metadata
            losses, output_item = stage(*fields, None)
        else:
            if read_fields is not None and item.error is None:
                value = read_fields(item.value)
                if type(value) is list:
                    refuse(item, [_issue(item, problem.code, problem.field, problem.message) for problem in value])
                    continue
                checked = check(Item(item.index, item.line, value))
            else:
                checked = check(item)
            if not checked.ok:
                refuse(item, [issue for issue in checked.issues if issue.severity == ERROR])
                continue
            metadata = checked.metadata
            if not keep_metadata:
                metadata = None
            elif metadata and colliding is not None and not colliding.isdisjoint(metadata):
                refuse(item, [_issue(item, p.code, p.field, p.message)
                              for p in layouts.metadata_collisions(plan.output_layout, metadata)])
                continue
            losses, output_item = stage(*checked.fields, metadata)
        if losses:
            if strict:
                refuse(item, [_lossy_issue(item, plan, *loss) for loss in losses])
                continue
            lossy_records += 1
            lossy.update({reason for reason, _, _ in losses})
        write(output_item)
        written += 1
    if progress is not None:
        progress(read)
    summary.warnings.update({code: n for code, n in checker.counts.items() if CHECKS[code].severity != ERROR})
    summary.read = read
    summary.written = written
    summary.lossy_records = lossy_records
    if summary.read != summary.written + summary.quarantined:  # the promise of DESIGN.md section 3
        raise AssertionError(f"read {summary.read} != written {summary.written} + quarantined {summary.quarantined}")
    return summary


def convert(
    items: Iterable[Item],
    write: Callable[[dict[str, Any]], None],
    *,
    quarantine: Quarantine | None = None,
    progress: Progress | None = None,
    **options: Any,
) -> ConvertSummary:
    """`plan` then `run`: the whole conversion of ``items`` (``options`` are those of `plan`)."""
    chosen, rest = plan(iter(items), **options)
    return run(chosen, rest, write, quarantine=quarantine, progress=progress, registry=options.get("registry"))


# Output layouts whose own keys a metadata key could overwrite.
_COLLIDING = {layout: keys for layout, keys in layouts.LAYOUT_KEYS.items() if layout != layouts.ALPACA}


def _refuser(summary: ConvertSummary, quarantine: Quarantine | None) -> Quarantine:
    by_code = summary.quarantined_by_code

    def refuse(item: Item, issues: list[Issue]) -> None:
        summary.quarantined += 1
        for code in {issue.code for issue in issues}:
            by_code[code] += 1
        if quarantine is not None:
            quarantine(item, issues)

    return refuse


def _issue(item: Item, code: str, where: str, message: str) -> Issue:
    return Issue(code, ERROR, item.index, item.line, where, message)


def _lossy_issue(item: Item, plan: Plan, reason: str, where: str, message: str) -> Issue:
    into = plan.target.name if plan.target is not None else f"the {plan.output_layout} layout"
    return _issue(item, LOSSY_CODE, where, f"{reason}: {message} ({into} cannot carry this record exactly; --strict refuses it)")


# -- checks ----------------------------------------------------------------------------------------

IGNORED_CHECKS = ("unknown-field",)
"""Validation checks convert does not report: metadata keys are carried over, by design."""


def validator(plan: Plan, registry: Any = None) -> Any:
    """The `promptfmt.validate.Validator` convert uses: no duplicate tracking (memory stays flat)."""
    from .validate import Validator

    return Validator(
        registry=registry if registry is not None else (),
        null_as_empty=plan.null_as_empty,
        mapping=plan.mapping,
        duplicates=False,
        ignore=IGNORED_CHECKS,
        max_issues=0,
    )


Loss = tuple[str, str, str]  # (reason, field, message)
Stage = Callable[[str, str, str, "dict[str, Any] | None"], "tuple[tuple[Loss, ...], dict[str, Any]]"]


def _stage(plan: Plan) -> Stage:
    """From a record's fields and metadata to (what the output loses of it, the output item)."""
    layout = plan.output_layout
    if layouts.needs_format(layout):
        return _rendered_stage(plan)
    build = layouts.writer(layout)
    if layout in layouts.CONVERSATION_LAYOUTS:
        def conversation(instruction: str, input: str, output: str, metadata: dict[str, Any] | None) -> tuple[tuple[Loss, ...], dict[str, Any]]:
            return _conversation_losses(instruction, input), build(instruction, input, output, metadata, None)
        return conversation

    def record(instruction: str, input: str, output: str, metadata: dict[str, Any] | None) -> tuple[tuple[Loss, ...], dict[str, Any]]:
        return (), build(instruction, input, output, metadata, None)
    return record


def _rendered_stage(plan: Plan) -> Stage:
    fmt = plan.target
    assert fmt is not None
    check = fmt.check_fields
    system_message = layouts.system_message
    where = (" and --drop-metadata drops it" if plan.drop_metadata
             else f"; it stays in the metadata key {layouts.SYSTEM_KEY!r}")
    system_loss = (layouts.SYSTEM_NOT_RENDERED, layouts.SYSTEM_KEY,
                   f"the record has a system message, which {fmt.name} text rendered from a record does not hold{where}")

    def judged(instruction: str, input: str, output: str) -> tuple[Loss, ...]:
        verdict = check(instruction, input, output)  # formats make this fast for the common, lossless case
        return () if verdict.lossless else _losses(verdict)

    def with_metadata(losses: tuple[Loss, ...], item: dict[str, Any], metadata: dict[str, Any]) -> tuple[tuple[Loss, ...], dict[str, Any]]:
        if system_message(metadata) is not None:
            losses += (system_loss,)
        item.update(metadata)
        return losses, item

    if plan.output_layout == layouts.TEXT:
        text_of = fmt.render_text_fields

        def text(instruction: str, input: str, output: str, metadata: dict[str, Any] | None) -> tuple[tuple[Loss, ...], dict[str, Any]]:
            item = {"text": text_of(instruction, input, output)}
            losses = judged(instruction, input, output)
            return with_metadata(losses, item, metadata) if metadata else (losses, item)

        return text
    render = fmt.render_fields

    def prompt_completion(instruction: str, input: str, output: str, metadata: dict[str, Any] | None) -> tuple[tuple[Loss, ...], dict[str, Any]]:
        prompt, completion = render(instruction, input, output)
        item = {"prompt": prompt, "completion": completion}
        losses = judged(instruction, input, output)
        return with_metadata(losses, item, metadata) if metadata else (losses, item)

    return prompt_completion


def _conversation_losses(instruction: str, input: str) -> tuple[Loss, ...]:
    return tuple(
        (reason, "instruction",
         f"the instruction contains {layouts.MESSAGE_SEPARATOR!r}, so the user message would split into another "
         "instruction and input when the conversation is read back")
        for reason in layouts.conversation_losses(instruction, input)
    )


def _losses(verdict: Verdict) -> tuple[Loss, ...]:
    """``(reason, field, message)`` for every loss of a verdict."""
    return tuple((str(getattr(loss.reason, "value", loss.reason)), loss.field, loss.message) for loss in verdict.losses)
