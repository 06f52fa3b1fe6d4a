"""Converting a dataset from one layout and prompt style to another, losing nothing.

The service reads `promptfmt.io.Item` values, turns each into a record (`promptfmt.records.layouts`), has it
checked by validation, checks that the output can carry it exactly, and hands the output item to a
``write`` callable. It never prints and never opens files: the CLI does that.

Nothing is lost (docs/architecture.md, "Semantics"):

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

from collections.abc import Callable, Iterable
from typing import Any

from ..conversation import Conversation, ConversationRefused
from ..io import Item
from ..plugins import FormatRegistry
from ..records import builders, layouts
from ..records.mapping import FieldMapping
from ..validation.issues import CHECKS, ERROR, Issue
from ..validation.validator import Validator
from .plan import Plan, plan
from .stages import Loss, conversation_stage
from .stages import stage as _stage
from .summary import ConvertSummary

LOSSY_CODE = "lossy-in-format"
Quarantine = Callable[[Item, list[Issue]], None]
Progress = Callable[[int], None]
PROGRESS_EVERY = 1024


def run(
    plan: Plan,
    items: Iterable[Item],
    write: Callable[..., None],
    *,
    quarantine: Quarantine | None = None,
    progress: Progress | None = None,
    registry: FormatRegistry | None = None,
    with_item: bool = False,
) -> ConvertSummary:
    """Convert ``items`` as ``plan`` says; output items go to ``write``, refused ones to ``quarantine``.
    ``with_item``: ``write`` is called with the item read and its output item (to refuse it later).

    ``registry`` holds the formats whose markers validation looks for (``template-marker``, a
    warning); None looks for none (the target format's own markers are checked anyway: they make a
    record lossy). ``progress(read)`` is called every `PROGRESS_EVERY` items and at the end.
    """
    summary = ConvertSummary.of(plan)
    refuse = _refuser(summary, quarantine)
    slow = _Items(plan, registry, refuse, summary)
    quick = slow.checker.quick if slow.read_fields is None else None  # clean records skip the full check
    stage = slow.stage
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
            converted = slow(item)
            if converted is None:
                continue
            losses, output_item = converted
        if losses:
            if strict:
                refuse(item, [_lossy_issue(item, plan, *loss) for loss in losses])
                continue
            lossy_records += 1
            lossy.update({reason for reason, _, _ in losses})
        if with_item:
            write(item, output_item)
        else:
            write(output_item)
        written += 1
    if progress is not None:
        progress(read)
    counts = slow.checker.counts
    summary.swapped = slow.checker.swapped
    summary.warnings.update({code: n for code, n in counts.items() if CHECKS[code].severity != ERROR})
    return summary.close(read, written, lossy_records)


class _Items:
    """Everything but the clean record: items read through a layout, checked by validation, records
    with metadata, conversations; refused items go to ``refuse`` with their issues."""

    def __init__(self, plan: Plan, registry: FormatRegistry | None, refuse: Quarantine, summary: ConvertSummary) -> None:
        self.plan, self.refuse, self.summary = plan, refuse, summary
        # rendered in a chat format, a one-turn conversation is judged as the conversation it is; a record
        # format splits its user message into instruction and input instead
        chat = layouts.needs_format(plan.output_layout) and plan.target is not None and plan.target.multi_turn
        self.read_fields = None if plan.input_layout == layouts.ALPACA else layouts.reader(
            plan.input_layout, plan.source, one_turn_records=not chat)
        self.checker = validator(plan, registry)
        self.stage = _stage(plan)
        self.conversation = conversation_stage(plan)
        self.colliding = _COLLIDING.get(plan.output_layout)
        self.keep_metadata = not plan.drop_metadata
        self.records_only = plan.output_layout == layouts.ALPACA

    def __call__(self, item: Item) -> tuple[tuple[Loss, ...], dict[str, Any]] | None:
        """(losses, output item), or None when the item was refused."""
        plan, refuse = self.plan, self.refuse
        if self.read_fields is not None and item.error is None:
            value = self.read_fields(item.value)
            if type(value) is Conversation and self.records_only:
                value = layouts.record_of(value, plan.input_layout)
            if type(value) is list:
                refuse(item, [_issue(item, problem.code, problem.field, problem.message) for problem in value])
                return None
            if type(value) is Conversation:
                return self._conversation(item, value)
            checked = self.checker.check(Item(item.index, item.line, value))
        else:
            checked = self.checker.check(item)
        if plan.mapping is not None and checked.ok and plan.mapping.shadowed(item.value):
            refuse(item, _shadowed_issues(item, plan.mapping))
            return None
        if not checked.ok:
            refuse(item, [issue for issue in checked.issues if issue.severity == ERROR])
            return None
        kept, metadata = self._metadata(item, checked.metadata)
        if not kept:
            return None
        fields = checked.fields
        if fields is None:  # a conversation among records: its layout was not the file's
            layout = layouts.conversation_layout(item.value) or "messages"
            refuse(item, [_issue(item, "not-a-record", "$", f"a {layout} conversation in a file of records: convert "
                                 f"such items with --input-layout {layout}, or keep one layout per file")])
            return None
        try:
            return self.stage(*fields, metadata)
        except ConversationRefused as refused:  # a record's system message the format cannot render
            refuse(item, [_issue(item, refused.code, layouts.SYSTEM_KEY, refused.reason)])
            return None

    def _conversation(self, item: Item, value: Conversation) -> tuple[tuple[Loss, ...], dict[str, Any]] | None:
        kept, metadata = self._metadata(item, value.metadata)
        if not kept:
            return None
        try:
            converted = self.conversation(value, metadata)
        except ConversationRefused as refused:
            where = layouts.message_field(self.plan.input_layout, refused.index)
            self.refuse(item, [_issue(item, refused.code, where, refused.reason)])
            return None
        if len(value.turns) > 2 or value.system is not None:  # what a record could not hold
            self.summary.conversations += 1
        return converted

    def _metadata(self, item: Item, metadata: dict[str, Any] | None) -> tuple[bool, dict[str, Any] | None]:
        """(False, None) when a key collides with the output layout's own (the item is refused), else
        (True, the metadata to write)."""
        if not self.keep_metadata:
            return True, None
        if metadata and self.colliding is not None and not self.colliding.isdisjoint(metadata):
            self.refuse(item, [_issue(item, p.code, p.field, p.message)
                               for p in builders.metadata_collisions(self.plan.output_layout, metadata)])
            return False, None
        return True, metadata or None


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


def _shadowed_issues(item: Item, mapping: FieldMapping) -> list[Issue]:
    return [
        _issue(item, "metadata-collision", key,
               f"the item has a key {key!r}, but {key} is read from {mapping.key(key)!r} (--map/--profile): its "
               f"value would be lost; drop or rename the {key!r} key, or map {key} from it")
        for key in mapping.shadowed(item.value)
    ]


def _issue(item: Item, code: str, where: str, message: str) -> Issue:
    return Issue(code, ERROR, item.index, item.line, where, message)


def _lossy_issue(item: Item, plan: Plan, reason: str, where: str, message: str) -> Issue:
    into = plan.target.name if plan.target is not None else f"the {plan.output_layout} layout"
    return _issue(item, LOSSY_CODE, where, f"{reason}: {message} ({into} cannot carry this record exactly; --strict refuses it)")


# -- checks ----------------------------------------------------------------------------------------

IGNORED_CHECKS = ("unknown-field",)
"""Validation checks convert does not report: metadata keys are carried over, by design."""


def validator(plan: Plan, registry: FormatRegistry | None = None) -> Validator:
    """The `Validator` convert uses: no duplicate tracking (memory stays flat)."""
    return Validator(
        registry=registry if registry is not None else (),
        null_as_empty=plan.null_as_empty,
        mapping=plan.mapping,
        swap_when_empty=plan.swap_when_empty,
        duplicates=False,
        ignore=(*IGNORED_CHECKS, *plan.ignore),
        max_issues=0,
    )

