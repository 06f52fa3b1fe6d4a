"""Formats described by their literal pieces: one description from which render, parse and check derive.

Every built-in format, and every declarative (TOML) format, is a `Template`:

    prompt     = prefix + instruction [+ separator + input] + prompt_suffix
    completion = response_prefix + output + end
    text       = prompt + completion

* The input block (``separator + input``) appears when the input is non-empty
  (``input_block="non-empty"``, the Stanford Alpaca rule) or always (``"always"``).
* ``prefix_no_input`` is the preamble used when there is no input, for styles that have two
  (Stanford Alpaca); by default both cases share ``prefix``.
* ``chat=True`` marks chat-style formats: instruction, separator and input form one user message.
* ``trim=True`` mirrors templates that apply ``| trim`` / ``.strip()`` to message contents
  (the user message as a whole and the output); ``trim_output=True`` mirrors templates that trim
  the output alone (Mistral v0.3 trims the assistant message, not the user message).

Parsing is deterministic: each field ends at the first occurrence of the literal that follows it
(ties go to the longer literal), the output at the first occurrence of ``end``, and text the format
could not have produced is rejected with a `ParseError`. `TemplateFormat.check` predicts, from the
positions the renderer gives each field, exactly which records that parse gives back; the
conformance kit proves the prediction right.
"""

from __future__ import annotations

from ..conversation import Conversation, Message, RenderedConversation, Segment, conversation_verdict, messages_of
from ..errors import FormatDefinitionError, ParseError
from ..format import Format
from ..models import Loss, LossReason, Query, Record, Rendered, Verdict
from .analysis import LOSSLESS, LosslessnessAnalysis
from .pieces import EITHER, INPUT, INPUT_BLOCK_RULES, NO_INPUT, Template, earliest
from .turns import SYSTEM_IN_FIRST_USER, ChatTurns

__all__ = ["INPUT_BLOCK_RULES", "LOSSLESS", "ChatTurns", "Template", "TemplateFormat"]


class TemplateFormat(LosslessnessAnalysis, Format):
    """A `Format` whose render, parse and check all derive from one `Template`."""

    def __init__(
        self,
        name: str,
        template: Template,
        *,
        aliases: tuple[str, ...] = (),
        description: str = "",
        reference: str = "",
        turns: ChatTurns | None = None,
        extends: str | None = None,
        append_eos: bool = False,
    ) -> None:
        if turns is not None and turns.template() != template:
            raise FormatDefinitionError(f"{name}: the turns and the template describe different records")
        self.name = name
        self.template = template
        self.turns = turns
        self.multi_turn = turns is not None
        self.bos = turns.bos if turns is not None else ""
        self.extends = extends
        self.append_eos = append_eos
        self.aliases = tuple(aliases)
        self.description = description
        self.reference = reference
        t = template
        self._prefix_input = t.prefix
        self._prefix_no_input = t.prefix if t.prefix_no_input is None else t.prefix_no_input
        self._always = t.input_block == "always"
        self._quick_probes = self._probes()
        self._trims_output = t.trims_output
        self._output_as_is = not (t.trims_output or t.output_lstrip)  # the common case: no method call
        # render_text_fields in one join when nothing is trimmed (a chat message has one preamble)
        self._joinable = not (t.trim or t.trims_output or t.output_lstrip)
        self._text_prefixes = (t.prefix, t.prefix) if t.chat else (self._prefix_input, self._prefix_no_input)
        self._separator, self._after_prompt, self._end = t.separator, t.after_prompt, t.end
        literals = {t.separator, t.after_prompt, t.end} - {""}
        self._proper_prefixes = {literal: tuple(literal[:k] for k in range(1, len(literal))) for literal in literals}

    @classmethod
    def from_turns(cls, name: str, turns: ChatTurns, **details: str | tuple[str, ...]) -> TemplateFormat:
        """A chat format described turn by turn; records render through the one-turn `Template` of
        the same pieces (``details``: ``aliases``, ``description``, ``reference``, ``extends``)."""
        return cls(name, turns.template(), turns=turns, **details)  # type: ignore[arg-type]

    @property
    def markers(self) -> tuple[str, ...]:
        return self.template.markers

    # -- conversations --------------------------------------------------------------------

    def parse_conversation(self, text: str) -> Conversation:
        if self.turns is not None:
            return self.turns.parse(text, self.name)
        return super().parse_conversation(text)

    def check_conversation(self, conversation: Conversation, rendered: RenderedConversation | None = None) -> Verdict:
        if self.turns is None:
            return super().check_conversation(conversation, rendered)
        rendered = rendered or self.turns.render(conversation, self.name)
        if self.turns.content_dependent or self.turns.system_content_dependent:
            dependent = self._content_dependent(conversation)
            if dependent is not None:
                return dependent
        try:  # the round trip on plain pairs: models are built only for a conversation that does not come back
            back = self.turns.read(rendered.text, self.name)
        except ValueError:
            return self._conversation_verdict(conversation, None)
        if back == [(message.role, message.content) for message in conversation.messages]:
            return LOSSLESS
        return self._conversation_verdict(conversation, messages_of(back))

    def _content_dependent(self, conversation: Conversation) -> Verdict | None:
        """The loss of the first answer (or system message) holding a text the official template renders
        otherwise, if any."""
        assert self.turns is not None
        watched = {"assistant": self.turns.content_dependent, "system": self.turns.system_content_dependent}
        for index, message in enumerate(conversation.messages):
            held = [text for text in watched.get(message.role, ()) if text in message.content]
            if held:
                return Verdict((Loss(LossReason.CONTENT_DEPENDENT, f"messages.{index}",
                                     f"message {index} ({message.role}) holds {held[0]!r}, which the official template "
                                     f"of {self.name} renders otherwise"),))
        return None

    def _conversation_verdict(self, conversation: Conversation, back: list[Message] | None) -> Verdict:
        if self.turns is not None:
            turns = self.turns
            return conversation_verdict(conversation, back, self.name, trimmed_roles=turns.trimmed_roles,
                                        default_system=turns.default_system,
                                        unmarked_system=turns.system == SYSTEM_IN_FIRST_USER and not turns.system_prefix)
        t = self.template
        trimmed = {"user", "assistant"} if t.trim else {"assistant"} if t.trims_output else set()
        return conversation_verdict(conversation, back, self.name, trimmed_roles=frozenset(trimmed))

    def render_conversation(self, conversation: Conversation) -> RenderedConversation:
        """Any number of turns for a format described by `ChatTurns`; one turn otherwise."""
        if self.turns is not None:
            return self.turns.render(conversation, self.name)
        generic = super().render_conversation(conversation)  # refuses what one turn cannot hold
        turns = conversation.turns
        t = self.template
        user = turns[0].content
        content = user.strip() if t.trim else user
        head = self._prefix_input if self._always else self._prefix_no_input
        prompt = self.render_prompt(user, "")
        if not prompt.startswith(head + content):  # pragma: no cover - the render rules above
            return generic
        index = len(conversation.messages) - len(turns)
        pieces = [Segment(head), Segment(content, index), Segment(prompt[len(head) + len(content):])]
        if len(turns) == 2:
            output = turns[1].content if self._output_as_is else t.shown_output(turns[1].content)
            pieces.append(Segment(t.response_prefix + output + t.end, index + 1, True))
        return RenderedConversation(tuple(p for p in pieces if p.text or p.message is not None))

    # -- render ---------------------------------------------------------------------------

    def render(self, record: Query) -> Rendered:
        prompt = self.render_prompt(record.instruction, record.input)
        if not isinstance(record, Record):  # a Query: a prompt alone, whatever its metadata holds
            return Rendered(prompt, "")
        output = record.output
        t = self.template
        return Rendered(prompt, t.response_prefix + (output if self._output_as_is else t.shown_output(output)) + t.end)

    def render_prompt(self, instruction: str, input: str = "") -> str:
        t = self.template
        has_input = self._always or input != ""
        if t.chat:
            message = instruction + t.separator + input if has_input else instruction
            if t.trim:
                message = message.strip()
            return t.prefix + message + t.prompt_suffix
        if t.trim:
            instruction, input = instruction.strip(), input.strip()
        if has_input:
            return self._prefix_input + instruction + t.separator + input + t.prompt_suffix
        return self._prefix_no_input + instruction + t.prompt_suffix

    def render_fields(self, instruction: str, input: str, output: str) -> tuple[str, str]:
        """``(prompt, completion)`` from plain strings: the fast path for batch conversion."""
        t = self.template
        return (
            self.render_prompt(instruction, input),
            t.response_prefix + (output if self._output_as_is else t.shown_output(output)) + t.end,
        )

    def render_text_fields(self, instruction: str, input: str, output: str) -> str:
        """The text from plain strings, built in one join (the fast path for text output)."""
        if not self._joinable:
            prompt, completion = self.render_fields(instruction, input, output)
            return prompt + completion
        if self._always or input != "":
            return "".join((self._text_prefixes[0], instruction, self._separator, input, self._after_prompt, output,
                            self._end))
        return "".join((self._text_prefixes[1], instruction, self._after_prompt, output, self._end))

    # -- parse ----------------------------------------------------------------------------

    def parse(self, text: str) -> Query:
        t = self.template
        mode, pos = self._match_prefix(text)
        fields_start, input_start = pos, None
        input, output = "", None
        seek = self._instruction_terminators(mode)
        literal, at = earliest(text, pos, seek)
        if literal is None:  # a prompt alone, without input
            if mode == INPUT:
                raise self._error(text, pos, f"the separator {t.separator!r} before the input")
            instruction = self._prompt_tail(text, pos, seek)
        else:
            instruction, pos = text[pos:at], at + len(literal)
            if literal == t.separator:
                input_start = pos
                literal, at = earliest(text, pos, (t.after_prompt,))
                if literal is None:  # a prompt alone, with input
                    input = self._prompt_tail(text, pos, (t.after_prompt,))
                else:
                    input, pos = text[pos:at], at + len(literal)
                if input == "" and not self._always:
                    raise self._error(
                        text, input_start, "a non-empty input",
                        "This format leaves the input block out when the input is empty.",
                    )
            if literal is not None:
                output = self._parse_output(text, pos)
        self._check_untrimmed(text, fields_start, instruction, input_start, input)
        if output is None:
            return Query(instruction=instruction, input=input)
        return Record(instruction=instruction, input=input, output=output)

    def _parse_output(self, text: str, pos: int) -> str | None:
        """The output that starts at ``pos``, or None where the text is a prompt alone."""
        t = self.template
        if pos == len(text) and not t.response_prefix:  # nothing after the prompt: a prompt, never an empty output
            return None
        if t.end:
            at = text.find(t.end, pos)
            if at < 0:
                raise self._error(text, len(text), f"the end text {t.end!r}")
            if at + len(t.end) != len(text):
                raise self._error(text, at + len(t.end), "the end of the text after the end text")
            output = text[pos:at]
        else:
            output = text[pos:]
        if t.trims_output:
            self._check_stripped(text, pos, output)
        elif t.output_lstrip and output[:1] and output[0] in t.output_lstrip:
            raise self._error(text, pos, f"an output not starting with {t.output_lstrip!r}", "This template strips it.")
        return output

    def _check_untrimmed(
        self, text: str, start: int, instruction: str, input_start: int | None, input: str
    ) -> None:
        """Reject parsed content with whitespace that a trimming template could not have emitted."""
        if not self.template.trim:
            return
        if self.template.chat:
            stop = start + len(instruction) if input_start is None else input_start + len(input)
            self._check_stripped(text, start, text[start:stop])
            return
        self._check_stripped(text, start, instruction)
        if input_start is not None:
            self._check_stripped(text, input_start, input)

    def _check_stripped(self, text: str, start: int, value: str) -> None:
        if value != value.strip():
            offset = start if value[:1].isspace() else start + len(value) - 1
            raise self._error(text, offset, "content without surrounding whitespace", "This template trims it.")

    def _match_prefix(self, text: str) -> tuple[str, int]:
        """The variant the preamble announces, and where the instruction starts."""
        candidates: tuple[tuple[str, str], ...]
        if self._always:
            candidates = ((self._prefix_input, INPUT),)
        elif self._prefix_input == self._prefix_no_input:
            candidates = ((self._prefix_input, EITHER),)
        else:  # the longer preamble first, so that one that extends the other wins
            candidates = tuple(sorted(
                ((self._prefix_input, INPUT), (self._prefix_no_input, NO_INPUT)),
                key=lambda pair: -len(pair[0]),
            ))
        for prefix, mode in candidates:
            if text.startswith(prefix):
                return mode, len(prefix)
        expected = " or ".join(repr(prefix) for prefix, _ in candidates)
        raise self._error(text, 0, f"the preamble {expected}")

    def _instruction_terminators(self, mode: str) -> tuple[str, ...]:
        if mode == INPUT:
            return (self.template.separator,)
        if mode == NO_INPUT:
            return (self.template.after_prompt,)
        return (self.template.separator, self.template.after_prompt)

    def _prompt_tail(self, text: str, pos: int, sought: tuple[str, ...]) -> str:
        """The last field of a prompt given alone (inference): it runs up to the prompt suffix."""
        suffix = self.template.prompt_suffix
        if not suffix:
            return text[pos:]
        if text.endswith(suffix) and len(text) - len(suffix) >= pos:
            return text[pos : len(text) - len(suffix)]
        expected = " or ".join(repr(s) for s in (*sought, suffix))
        raise self._error(text, len(text), expected)

    def _error(self, text: str, offset: int, expected: str, hint: str = "") -> ParseError:
        return ParseError(self.name, offset, expected, text, hint)

