"""The properties of the conformance kit, one example each (docs/architecture.md, "Properties")."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..conversation import Conversation, ConversationRefused
from ..errors import ParseError
from ..format import Format
from ..models import LossReason, Query, Record
from ..templating.sandbox import TemplateImportError
from ..templating.template import TemplateFormat

if TYPE_CHECKING:
    from ..templating.sandbox import ChatTemplate


def prop_lossless_round_trip(fmt: Format, record: Record) -> None:
    """Property 1: a record the format calls lossless comes back exactly, and so does its prompt."""
    if fmt.check(record).lossless:
        rendered = fmt.render(record)
        back = fmt.parse(rendered.text)
        assert isinstance(back, Record), f"{fmt.name}: parsing a full text gave no output: {back!r}"
        assert back.fields() == record.fields(), f"{fmt.name}: round trip changed {record!r} into {back!r}"
    query = Query(instruction=record.instruction, input=record.input)
    if fmt.check(query).lossless:
        back = fmt.parse(fmt.render(query).prompt)
        assert not isinstance(back, Record), f"{fmt.name}: a prompt alone parsed with an output: {back!r}"
        assert back.fields() == query.fields(), f"{fmt.name}: prompt round trip changed {query!r} into {back!r}"


def prop_lossy_verdict_is_right(fmt: Format, record: Record) -> None:
    """Property 2: a lossy verdict gives declared reasons, and the round trip indeed fails."""
    for subject in (record, Query(instruction=record.instruction, input=record.input)):
        verdict = fmt.check(subject)
        if verdict.lossless:
            continue
        assert verdict.losses, f"{fmt.name}: lossy verdict without a reason"
        for loss in verdict.losses:
            assert loss.reason in set(LossReason), f"{fmt.name}: undeclared reason {loss.reason!r}"
            assert loss.field in ("instruction", "input", "output"), f"{fmt.name}: unknown field {loss.field!r}"
            assert loss.message, f"{fmt.name}: a loss without a message"
        if verdict.reasons == {LossReason.CONTENT_DEPENDENT}:
            continue  # a loss of fidelity to the official template, not of the round trip
        rendered = fmt.render(subject)
        text = rendered.text if isinstance(subject, Record) else rendered.prompt
        try:
            back = fmt.parse(text)
        except ParseError:
            continue
        same = back.fields() == subject.fields() and isinstance(back, Record) == isinstance(subject, Record)
        assert not same, f"{fmt.name}: called {subject!r} lossy ({verdict.losses}) but it round-trips"


def prop_reparse(fmt: Format, text: str) -> None:
    """Property 3: accepted text renders back to itself; rejected text names an offset and an expectation."""
    try:
        parsed = fmt.parse(text)
    except ParseError as exc:
        assert 0 <= exc.offset <= len(text), f"{fmt.name}: offset {exc.offset} outside the text"
        assert exc.expected, f"{fmt.name}: a parse error that does not say what was expected"
        assert str(exc.offset) in str(exc), f"{fmt.name}: the message does not name the offset: {exc}"
        return
    rendered = fmt.render(parsed)
    again = rendered.text if isinstance(parsed, Record) else rendered.prompt
    assert again == text, f"{fmt.name}: parse accepted {text!r} but renders it as {again!r}"


def prop_prompt_is_prefix(fmt: Format, record: Record, other_output: str) -> None:
    """Property 4: the prompt is a prefix of the text and does not depend on the output."""
    rendered = fmt.render(record)
    assert rendered.text == rendered.prompt + rendered.completion
    assert rendered.text.startswith(rendered.prompt), f"{fmt.name}: prompt is not a prefix of the text"
    changed = record.model_copy(update={"output": other_output})
    assert fmt.render(changed).prompt == rendered.prompt, f"{fmt.name}: the prompt depends on the output"
    query = Query(instruction=record.instruction, input=record.input)
    assert fmt.render(query).prompt == rendered.prompt, f"{fmt.name}: a Query renders another prompt"


def prop_empty_input(fmt: Format, instruction: str, input: str, output: str) -> None:
    """Property 5: a missing input and "" render identically; a non-empty input appears in the prompt."""
    missing = Record.model_validate({"instruction": instruction, "output": output})
    empty = Record.model_validate({"instruction": instruction, "input": "", "output": output})
    assert fmt.render(missing) == fmt.render(empty), f"{fmt.name}: missing input and '' render differently"
    if input:
        record = Record(instruction=instruction, input=input, output=output)
        trimmed = any(loss.field == "input" and loss.reason is LossReason.TRIMMED_WHITESPACE
                      for loss in fmt.check(record).losses)
        if not trimmed:
            assert input in fmt.render(record).prompt, f"{fmt.name}: the input {input!r} is not in the prompt"


def prop_fast_paths_agree(fmt: Format, record: Record) -> None:
    """The plain-string fast paths (`Format.render_fields`, ``render_text_fields``, ``check_fields``)
    give exactly what `Format.render` and `Format.check` give on the record; a `TemplateFormat`'s
    ``clearly_lossless`` says True only of records `Format.check` finds lossless."""
    fields = (record.instruction, record.input, record.output)
    rendered = fmt.render(record)
    assert fmt.render_fields(*fields) == (rendered.prompt, rendered.completion), f"{fmt.name}: render_fields differs"
    assert fmt.render_text_fields(*fields) == rendered.text, f"{fmt.name}: render_text_fields differs"
    assert fmt.check_fields(*fields) == fmt.check(record), f"{fmt.name}: check_fields differs from check"
    if isinstance(fmt, TemplateFormat) and fmt.clearly_lossless(*fields):
        assert fmt.check(record).lossless, f"{fmt.name}: clearly_lossless on a record that check finds lossy"
    query = Query(instruction=record.instruction, input=record.input)
    assert fmt.check_fields(record.instruction, record.input) == fmt.check(query), f"{fmt.name}: check_fields (prompt)"


def prop_conversion(source: Format, target: Format, record: Record) -> None:
    """Property 6: text converted A -> B -> A is the original text when the record is lossless in both."""
    if not (source.check(record).lossless and target.check(record).lossless):
        return
    text_a = source.render(record).text
    text_b = target.render(source.parse(text_a)).text
    assert target.render(record).text == text_b, f"{source.name} -> {target.name} is not the direct rendering"
    assert source.render(target.parse(text_b)).text == text_a, f"{source.name} -> {target.name} -> back changed"


def prop_golden(fmt: Format, record: Query, expected: str) -> None:
    """Golden: ``record`` renders to exactly ``expected`` (the text, or the prompt of a `Query`) and parses back."""
    rendered = fmt.render(record)
    got = rendered.text if isinstance(record, Record) else rendered.prompt
    assert got == expected, f"{fmt.name}: golden {'text' if isinstance(record, Record) else 'prompt'} differs for {record!r}:\n{got!r}\n!=\n{expected!r}"
    if fmt.check(record).lossless:
        back = fmt.parse(expected)
        assert back.fields() == record.fields() and isinstance(back, Record) == isinstance(record, Record), (
            f"{fmt.name}: golden text parses as {back!r}, not {record!r}"
        )


def prop_matches_chat_template(fmt: Format, template: ChatTemplate, record: Record, separator: str = "\n") -> None:
    """Fidelity: the text equals the chat template's ``[user, assistant]`` rendering, the prompt its
    ``[user]`` rendering with the generation prompt (docs/architecture.md, "Semantics").

    The user message is the instruction, then ``separator`` and the input when the input is non-empty.
    """
    user = record.instruction + separator + record.input if record.input else record.instruction
    messages = [{"role": "user", "content": user}]
    text = template.render([*messages, {"role": "assistant", "content": record.output}], add_generation_prompt=False)
    prompt = template.render(messages, add_generation_prompt=True)
    rendered = fmt.render(record)
    assert rendered.text == text, f"{fmt.name}: text differs from {template.origin} for {record!r}:\n{rendered.text!r}\n!=\n{text!r}"
    assert rendered.prompt == prompt, f"{fmt.name}: prompt differs from {template.origin} for {record!r}:\n{rendered.prompt!r}\n!=\n{prompt!r}"



def prop_conversation_matches_chat_template(fmt: Format, template: ChatTemplate, conversation: Conversation) -> None:
    """Fidelity for conversations: the text equals the chat template's rendering (with the generation
    prompt when the conversation ends with a user message); a conversation the format refuses for
    its system message is one the template raises for or leaves the system message out of."""
    messages = [{"role": m.role, "content": m.content} for m in conversation.messages]
    try:
        ours: str | None = fmt.render_conversation(conversation).text
    except ConversationRefused as refused:
        assert refused.code in ("system-not-supported", "multi-turn-not-supported"), f"{fmt.name}: {refused}"
        ours = None
    try:
        theirs: str | None = template.render(messages, add_generation_prompt=conversation.is_prompt)
    except TemplateImportError:  # the template raises for it
        theirs = None
    if ours is None:
        system = conversation.system
        assert not fmt.multi_turn or system is not None, f"{fmt.name} refuses {conversation!r}"
        return
    assert ours == theirs, f"{fmt.name}: text differs from {template.origin} for {conversation!r}:\n{ours!r}\n!=\n{theirs!r}"


def prop_conversation_round_trip(fmt: Format, conversation: Conversation) -> None:
    """Property 8: a conversation renders into segments that join to the text, the trainable ones
    exactly its assistant messages; it parses back exactly when the format calls it lossless, and a
    lossy verdict names a declared reason and a message. A refusal is the same for render and check."""
    try:
        rendered = fmt.render_conversation(conversation)
    except ConversationRefused as refused:
        try:
            fmt.check_conversation(conversation)
        except ConversationRefused as again:
            assert again.code == refused.code, f"{fmt.name}: check and render refuse differently"
            return
        raise AssertionError(f"{fmt.name}: render refuses {conversation!r} ({refused}) but check does not") from None
    assert "".join(s.text for s in rendered.segments) == rendered.text
    assert all(s.text or s.message is not None for s in rendered.segments), f"{fmt.name}: empty markup segment"
    roles = [m.role for m in conversation.messages]
    trained = [s.message for s in rendered.segments if s.trainable]
    assert trained == [i for i, role in enumerate(roles) if role == "assistant"], f"{fmt.name}: {rendered.segments!r}"
    verdict = fmt.check_conversation(conversation)
    try:
        back = fmt.parse_conversation(rendered.text).messages
    except ValueError:
        back = None
    if verdict.lossless:
        assert back == conversation.messages, f"{fmt.name}: lossless verdict but {conversation!r} came back as {back!r}"
    elif verdict.reasons != {LossReason.CONTENT_DEPENDENT}:  # that one is fidelity to the template, not the round trip
        assert back != conversation.messages, f"{fmt.name}: lossy verdict {verdict} but the round trip is exact"
        assert all(loss.reason in set(LossReason) and loss.field.startswith("messages.") for loss in verdict.losses)
