"""Stages: from a record's fields (or a conversation) and metadata to what the output loses of it and
the output item. A record with a system message (the metadata key ``system``) renders as the
conversation it is, so that the format places the system message as its template does (or refuses
it, `ConversationRefused`): it is never dropped or replaced by the template's default."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..conversation import Conversation, Message
from ..format import Format
from ..models import Verdict
from ..records import builders, layouts
from .plan import Plan

Loss = tuple[str, str, str]  # (reason, field, message)
Stage = Callable[[str, str, str, "dict[str, Any] | None"], "tuple[tuple[Loss, ...], dict[str, Any]]"]
ConversationStage = Callable[[Conversation, "dict[str, Any] | None"], "tuple[tuple[Loss, ...], dict[str, Any]]"]


def conversation_stage(plan: Plan) -> ConversationStage:
    """From a conversation of several turns, or with a system message, to the output item (the record
    layouts receive records: `promptfmt.records.layouts.record_of` turns such items into records)."""
    chosen = _conversation_stage(plan)
    return _without_bos(plan, chosen) if plan.strip_bos else chosen


def _conversation_stage(plan: Plan) -> ConversationStage:
    layout = plan.output_layout
    if not layouts.needs_format(layout):
        def conversation(value: Conversation, metadata: dict[str, Any] | None) -> tuple[tuple[Loss, ...], dict[str, Any]]:
            return (), builders.conversation_item(layout, value, metadata)
        return conversation
    fmt = plan.target
    assert fmt is not None

    def rendered(value: Conversation, metadata: dict[str, Any] | None) -> tuple[tuple[Loss, ...], dict[str, Any]]:
        result = fmt.render_conversation(value)
        item = builders.rendered_item(layout, result, value, metadata)
        verdict = fmt.check_conversation(value, result)  # parses the rendering back: exact by construction
        return (() if verdict.lossless else _losses(verdict)), item

    return rendered


def with_system(fmt: Format, instruction: str, input: str, output: str, system: str) -> Conversation:
    """The conversation of a record that carries a system message."""
    record = one_turn_of(fmt)(instruction, input, output)
    return Conversation.model_construct(messages=[Message(role="system", content=system), *record.messages])


def one_turn_of(fmt: Format) -> Callable[[str, str, str], Conversation]:
    """The one-turn conversation of a record's fields, its user message joined as ``fmt`` joins it."""
    separator = getattr(getattr(fmt, "template", None), "separator", layouts.MESSAGE_SEPARATOR)

    def one_turn(instruction: str, input: str, output: str) -> Conversation:
        user = instruction + separator + input if input else instruction
        return Conversation.model_construct(messages=[Message(role="user", content=user),
                                                      Message(role="assistant", content=output)])

    return one_turn


def stage(plan: Plan) -> Stage:
    """From a record's fields and metadata to (what the output loses of it, the output item)."""
    layout = plan.output_layout
    if layouts.needs_format(layout):
        rendered = _rendered_stage(plan)
        return _without_bos(plan, rendered) if plan.strip_bos else rendered
    build = builders.writer(layout)
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
    system_message = builders.system_message
    text_layout = plan.output_layout == layouts.TEXT
    one_turn = one_turn_of(fmt)

    def judged(instruction: str, input: str, output: str) -> tuple[Loss, ...]:
        verdict = check(instruction, input, output)  # formats make this fast for the common, lossless case
        return () if verdict.lossless else _losses(verdict)

    def with_metadata(losses: tuple[Loss, ...], item: dict[str, Any], metadata: dict[str, Any],
                      fields: tuple[str, str, str]) -> tuple[tuple[Loss, ...], dict[str, Any]]:
        system = system_message(metadata)
        if system is not None:  # rendered where the template puts it, or refused: never dropped
            conversation = with_system(fmt, *fields, system)
            rest = {key: value for key, value in metadata.items() if key != layouts.SYSTEM_KEY}
            return losses, builders.rendered_item(plan.output_layout, fmt.render_conversation(conversation),
                                                  conversation, rest)
        item.update(metadata)
        return losses, item

    if plan.output_layout in (layouts.SEGMENTS, layouts.TOKENS):
        def segments(instruction: str, input: str, output: str, metadata: dict[str, Any] | None) -> tuple[tuple[Loss, ...], dict[str, Any]]:
            losses = judged(instruction, input, output)
            fields = (instruction, input, output)
            if system_message(metadata) is not None:
                return with_metadata(losses, {}, metadata or {}, fields)
            conversation = one_turn(*fields)
            return losses, builders.rendered_item(plan.output_layout, fmt.render_conversation(conversation),
                                                  conversation, metadata)

        return segments

    if text_layout:
        text_of = fmt.render_text_fields

        def text(instruction: str, input: str, output: str, metadata: dict[str, Any] | None) -> tuple[tuple[Loss, ...], dict[str, Any]]:
            item = {"text": text_of(instruction, input, output)}
            losses = judged(instruction, input, output)
            return with_metadata(losses, item, metadata, (instruction, input, output)) if metadata else (losses, item)

        return text
    render = fmt.render_fields

    def prompt_completion(instruction: str, input: str, output: str, metadata: dict[str, Any] | None) -> tuple[tuple[Loss, ...], dict[str, Any]]:
        prompt, completion = render(instruction, input, output)
        item = {"prompt": prompt, "completion": completion}
        losses = judged(instruction, input, output)
        return with_metadata(losses, item, metadata, (instruction, input, output)) if metadata else (losses, item)

    return prompt_completion


def _without_bos(plan: Plan, stage: Callable[..., tuple[tuple[Loss, ...], dict[str, Any]]]
                 ) -> Callable[..., tuple[tuple[Loss, ...], dict[str, Any]]]:
    """``stage`` writing its text (or prompt) without the target's BOS text (``--strip-bos``). The
    verdict stays the one on the whole rendering: stripping is the user's choice for the trainer's
    tokenizer, not a loss of the format."""
    assert plan.target is not None
    without_bos = plan.target.without_bos
    key = "text" if plan.output_layout == layouts.TEXT else "prompt"

    def stripped(*args: Any) -> tuple[tuple[Loss, ...], dict[str, Any]]:
        losses, item = stage(*args)
        item[key] = without_bos(item[key])
        return losses, item

    return stripped


def _conversation_losses(instruction: str, input: str) -> tuple[Loss, ...]:
    return tuple(
        (reason, "instruction",
         f"the instruction contains {layouts.MESSAGE_SEPARATOR!r}, so the user message would split into another "
         "instruction and input when the conversation is read back")
        for reason in builders.conversation_losses(instruction, input)
    )


def _losses(verdict: Verdict) -> tuple[Loss, ...]:
    """``(reason, field, message)`` for every loss of a verdict."""
    return tuple((str(getattr(loss.reason, "value", loss.reason)), loss.field, loss.message) for loss in verdict.losses)

