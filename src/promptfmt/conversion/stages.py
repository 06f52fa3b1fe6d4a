"""Stages: from a record's fields and metadata to what the output loses of it and the output item."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..models import Verdict
from ..records import layouts
from .plan import Plan

Loss = tuple[str, str, str]  # (reason, field, message)
Stage = Callable[[str, str, str, "dict[str, Any] | None"], "tuple[tuple[Loss, ...], dict[str, Any]]"]


def stage(plan: Plan) -> Stage:
    """From a record's fields and metadata to (what the output loses of it, the output item)."""
    layout = plan.output_layout
    if layouts.needs_format(layout):
        return _rendered_stage(plan)
    build = layouts.writer(layout)
    if layout in layouts.CONVERSATION_LAYOUTS:
        def conversation(instruction: str, input: str, output: str, metadata: dict[str, Any] | None) -> tuple[tuple[Loss, ...], dict[str, Any]]:
            return _conversation_losses(instruction, input), build(instruction, input, output, metadata)
        return conversation

    def record(instruction: str, input: str, output: str, metadata: dict[str, Any] | None) -> tuple[tuple[Loss, ...], dict[str, Any]]:
        return (), build(instruction, input, output, metadata)
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

