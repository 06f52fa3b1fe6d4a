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

import re
from dataclasses import dataclass

from .errors import FormatDefinitionError, ParseError
from .format import Format
from .models import Loss, LossReason, Query, Record, Rendered, Verdict

INPUT_BLOCK_RULES = ("non-empty", "always")

LOSSLESS = Verdict()

_INPUT = "input"
_NO_INPUT = "no-input"
_EITHER = "either"


@dataclass(frozen=True)
class Template:
    """The literal pieces of a prompt style (see the module docstring for how they are joined)."""

    prefix: str
    separator: str
    prompt_suffix: str = ""
    response_prefix: str = ""
    end: str = ""
    prefix_no_input: str | None = None
    input_block: str = "non-empty"
    chat: bool = False
    trim: bool = False
    extra_markers: tuple[str, ...] = ()
    trim_output: bool = False

    def __post_init__(self) -> None:
        if self.input_block not in INPUT_BLOCK_RULES:
            raise FormatDefinitionError(
                f"input_block must be one of {', '.join(INPUT_BLOCK_RULES)}, not {self.input_block!r}"
            )
        if not self.separator:
            raise FormatDefinitionError("separator must not be empty: it marks where the input starts")
        if not self.after_prompt:
            raise FormatDefinitionError(
                "prompt_suffix and response_prefix are both empty: nothing would mark where the prompt ends"
            )
        if not (self.response_prefix or self.end):
            raise FormatDefinitionError(
                "response_prefix and end are both empty: a prompt alone could not be told from an empty output"
            )
        if self.separator == self.after_prompt:
            raise FormatDefinitionError(
                "separator equals prompt_suffix + response_prefix: the input block could not be told apart"
            )
        if self.input_block == "always" and self.prefix_no_input is not None:
            raise FormatDefinitionError("prefix_no_input is meaningless when the input block always appears")

    @property
    def after_prompt(self) -> str:
        """The literal between the last prompt field and the output."""
        return self.prompt_suffix + self.response_prefix

    @property
    def trims_output(self) -> bool:
        """Whether the output is stripped of surrounding whitespace (``trim`` or ``trim_output``)."""
        return self.trim or self.trim_output

    @property
    def markers(self) -> tuple[str, ...]:
        """Distinctive lines of the literal pieces, plus any declared extra markers."""
        pieces = (self.prefix, self.prefix_no_input or "", self.separator, self.prompt_suffix,
                  self.response_prefix, self.end, *self.extra_markers)
        found: dict[str, None] = {}
        for piece in pieces:
            for line in piece.splitlines():
                line = line.strip()
                if len(line) >= 3:
                    found[line] = None
        return tuple(found)


class TemplateFormat(Format):
    """A `Format` whose render, parse and check all derive from one `Template`."""

    def __init__(
        self,
        name: str,
        template: Template,
        *,
        aliases: tuple[str, ...] = (),
        description: str = "",
        reference: str = "",
    ) -> None:
        self.name = name
        self.template = template
        self.aliases = tuple(aliases)
        self.description = description
        self.reference = reference
        t = template
        self._prefix_input = t.prefix
        self._prefix_no_input = t.prefix if t.prefix_no_input is None else t.prefix_no_input
        self._always = t.input_block == "always"
        self._quick_probes = self._probes()
        self._trims_output = t.trims_output
        # render_text_fields in one join when nothing is trimmed (a chat message has one preamble)
        self._joinable = not (t.trim or t.trims_output)
        self._text_prefixes = (t.prefix, t.prefix) if t.chat else (self._prefix_input, self._prefix_no_input)
        self._separator, self._after_prompt, self._end = t.separator, t.after_prompt, t.end
        literals = {t.separator, t.after_prompt, t.end} - {""}
        self._proper_prefixes = {literal: tuple(literal[:k] for k in range(1, len(literal))) for literal in literals}

    @property
    def markers(self) -> tuple[str, ...]:
        return self.template.markers

    # -- render ---------------------------------------------------------------------------

    def render(self, record: Query) -> Rendered:
        output = getattr(record, "output", None)
        prompt = self.render_prompt(record.instruction, record.input)
        if output is None:
            return Rendered(prompt, "")
        t = self.template
        return Rendered(prompt, t.response_prefix + (output.strip() if self._trims_output else output) + t.end)

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
            t.response_prefix + (output.strip() if self._trims_output else output) + t.end,
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
        literal, at = _earliest(text, pos, seek)
        if literal is None:  # a prompt alone, without input
            if mode == _INPUT:
                raise self._error(text, pos, f"the separator {t.separator!r} before the input")
            instruction = self._prompt_tail(text, pos, seek)
        else:
            instruction, pos = text[pos:at], at + len(literal)
            if literal == t.separator:
                input_start = pos
                literal, at = _earliest(text, pos, (t.after_prompt,))
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
        if t.end:
            if pos == len(text) and not t.response_prefix:
                return None
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
        if self._always:
            candidates = ((self._prefix_input, _INPUT),)
        elif self._prefix_input == self._prefix_no_input:
            candidates = ((self._prefix_input, _EITHER),)
        else:  # the longer preamble first, so that one that extends the other wins
            candidates = tuple(sorted(
                ((self._prefix_input, _INPUT), (self._prefix_no_input, _NO_INPUT)),
                key=lambda pair: -len(pair[0]),
            ))
        for prefix, mode in candidates:
            if text.startswith(prefix):
                return mode, len(prefix)
        expected = " or ".join(repr(prefix) for prefix, _ in candidates)
        raise self._error(text, 0, f"the preamble {expected}")

    def _instruction_terminators(self, mode: str) -> tuple[str, ...]:
        if mode == _INPUT:
            return (self.template.separator,)
        if mode == _NO_INPUT:
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

    # -- check ----------------------------------------------------------------------------

    def check(self, record: Query) -> Verdict:
        return self.check_fields(record.instruction, record.input, getattr(record, "output", None))

    def check_fields(self, instruction: str, input: str = "", output: str | None = None) -> Verdict:
        """`check` on plain strings (``output=None`` for a prompt alone): the fast path for batches.

        `check` delegates here, so a subclass that changes the verdict overrides this method.
        """
        t = self.template
        if output is not None and self.clearly_lossless(instruction, input, output):
            return LOSSLESS
        losses = self._trim_losses(instruction, input, output)
        if losses:
            return Verdict(tuple(losses))
        has_input = self._always or input != ""
        prompt = self.render_prompt(instruction, input)
        text = prompt if output is None else prompt + t.response_prefix + output + t.end
        expected_mode = _INPUT if has_input else _NO_INPUT
        mode, start = self._match_prefix(text)
        if mode not in (expected_mode, _EITHER):
            losses.append(Loss(
                LossReason.MARKER_IN_CONTENT, "instruction",
                f"the text starts like the {'with' if mode == _INPUT else 'without'}-input preamble",
            ))
            return Verdict(tuple(losses))
        stop = start + len(instruction)
        last = output is None and not has_input
        used = t.separator if has_input else t.after_prompt
        losses += self._intrusions(text, "instruction", start, stop, self._instruction_terminators(mode), used, last)
        if has_input:
            start = stop + len(t.separator)
            stop = start + len(input)
            losses += self._intrusions(text, "input", start, stop, (t.after_prompt,), t.after_prompt, output is None)
        if output is not None and t.end:
            start = stop + len(t.after_prompt)
            losses += self._intrusions(text, "output", start, start + len(output), (t.end,), t.end)
        return Verdict(tuple(losses))

    def _trim_losses(self, instruction: str, input: str, output: str | None) -> list[Loss]:
        t = self.template
        losses = []
        if t.trim:
            if t.chat:
                message = instruction + t.separator + input if self._always or input != "" else instruction
                padded = message != message.strip()
            else:
                padded = instruction != instruction.strip() or input != input.strip()
            if padded:
                losses = self._prompt_trim_losses(instruction, input)
        if self._trims_output and output is not None and output != output.strip():
            losses.append(_trim_loss("output", "surrounding"))
        return losses

    def _prompt_trim_losses(self, instruction: str, input: str) -> list[Loss]:
        t = self.template
        losses = []
        has_input = self._always or input != ""
        if t.chat:  # name every field the stripped ends of the one user message reach into
            message = instruction + t.separator + input if has_input else instruction
            spans = [("instruction", 0, len(instruction))]
            if has_input:
                spans.append(("input", len(message) - len(input), len(message)))
            lead = len(message) - len(message.lstrip())
            trail = len(message.rstrip())
            for side, start, stop, fallback in (("leading", 0, lead, spans[0][0]), ("trailing", trail, len(message), spans[-1][0])):
                if start == stop:
                    continue
                reached = [name for name, begin, end in spans if begin < end and begin < stop and start < end]
                losses += [_trim_loss(name, side) for name in reached or [fallback]]
        else:
            for name, value in (("instruction", instruction), ("input", input)):
                if value != value.strip():
                    losses.append(_trim_loss(name, "surrounding"))
        return losses

    def _probes(self) -> dict[bool, tuple[tuple[str, ...], tuple[tuple[int, str | re.Pattern[str], tuple[tuple[str, frozenset[str]], ...]], ...]]] | None:
        """Per has-input case: the longer literals that could tie with the one that ends the
        instruction, and per field (field index, its first-character filter, (literal, the literal's
        characters but its last) for every literal the parser looks for in the field).

        None when the preambles overlap: such formats always take the full analysis.
        """
        t = self.template
        if self._prefix_input != self._prefix_no_input and (
            self._prefix_input.startswith(self._prefix_no_input) or self._prefix_no_input.startswith(self._prefix_input)
        ):
            return None
        cases = {}
        for has_input in (True, False):
            if not has_input and self._always:
                continue
            either = self._prefix_input == self._prefix_no_input and not self._always
            mode = _EITHER if either else (_INPUT if has_input else _NO_INPUT)
            fields = [(0, self._instruction_terminators(mode), t.separator if has_input else t.after_prompt)]
            if has_input:
                fields.append((1, (t.after_prompt,), t.after_prompt))
            if t.end:
                fields.append((2, (t.end,), t.end))
            sought, used = fields[0][1], fields[0][2]  # only the instruction is sought with two literals
            ties = tuple(other for other in sought if len(other) > len(used) and other.startswith(used))
            cases[has_input] = (ties, tuple(
                (
                    index,
                    _first_characters(sought),
                    tuple((literal, frozenset(literal[:-1])) for literal in sought),
                )
                for index, sought, _ in fields
            ))
        return cases

    def clearly_lossless(self, instruction: str, input: str, output: str) -> bool:
        """True when no literal the parser looks for can start inside a field: a cheap, exact sufficient test.

        An occurrence of literal ``L`` that starts inside a field holds ``L``'s first character and
        either lies wholly in the field, or the field ends with a proper prefix of ``L``; when that
        holds for no sought literal, the parser ends every field where the renderer put it. False
        means "look closer" (`check_fields` then runs the full analysis), not "lossy". A trimming
        template must also have nothing to trim.
        """
        probes = self._quick_probes
        if probes is None:
            return False
        if (self.template.trim or self._trims_output) and self._trim_losses(instruction, input, output):
            return False
        has_input = self._always or input != ""
        ties, fields = probes[has_input]
        # a longer literal starting right after the instruction would win the tie there
        if ties and self._following(0, has_input, input, output).startswith(ties):
            return False
        values = (instruction, input, output)
        for index, first, literals in fields:
            value = values[index]
            if (first not in value) if type(first) is str else (first.search(value) is None):
                continue
            for literal, tail_chars in literals:
                if literal in value:
                    return False
                if value[-1:] in tail_chars and value.endswith(self._proper_prefixes[literal]):
                    # the field ends with the start of the literal: does the text after it complete it?
                    tail = value[1 - len(literal):]
                    following = self._following(index, has_input, input, output)[: len(literal) - 1]
                    if 0 <= (tail + following).find(literal) < len(tail):
                        return False
        return True

    def _following(self, index: int, has_input: bool, input: str, output: str) -> str:
        """The rendered text after field ``index`` (0 instruction, 1 input, 2 output) of a full record."""
        t = self.template
        if index == 0 and has_input:
            return t.separator + input + t.after_prompt + output + t.end
        if index < 2:
            return t.after_prompt + output + t.end
        return t.end

    def _intrusions(
        self, text: str, field: str, start: int, stop: int, sought: tuple[str, ...], used: str,
        prompt_alone: bool = False,
    ) -> list[Loss]:
        """A loss when the parser would not end ``field`` (``text[start:stop]``) at ``stop`` with ``used``.

        For the last field of a prompt given alone nothing may be found, except the prompt suffix
        itself where it is the whole literal after the prompt.
        """
        literal, at = _earliest(text, start, sought)
        if prompt_alone:
            fine = literal is None or (at == stop and literal == used and not self.template.response_prefix)
        else:
            fine = literal == used and at == stop
        if fine:
            return []
        if literal is None:
            return [Loss(LossReason.MARKER_IN_CONTENT, field, f"{used!r} is missing after the {field}")]
        separator = literal == self.template.separator and self.template.chat and field == "instruction"
        reason = LossReason.SEPARATOR_IN_INSTRUCTION if separator else LossReason.MARKER_IN_CONTENT
        where = f"at offset {at - start} of the {field}" if at < stop else f"right after the {field}"
        return [Loss(reason, field, f"{literal!r} of format {self.name} occurs {where}")]


def _first_characters(literals: tuple[str, ...]) -> str | re.Pattern[str]:
    """What finds the first character of any of ``literals``: the character itself when they share it."""
    characters = "".join(dict.fromkeys(literal[0] for literal in literals))
    return characters if len(characters) == 1 else re.compile("[" + re.escape(characters) + "]")


def _trim_loss(field: str, side: str) -> Loss:
    return Loss(LossReason.TRIMMED_WHITESPACE, field, f"{side} whitespace of the {field} is trimmed by the template")


def _earliest(text: str, pos: int, literals: tuple[str, ...]) -> tuple[str | None, int]:
    """The literal that occurs first at or after ``pos`` (the longer one on a tie), and where."""
    best: str | None = None
    best_at = -1
    for literal in literals:
        at = text.find(literal, pos)
        if at < 0:
            continue
        if best is None or at < best_at or (at == best_at and len(literal) > len(best)):
            best, best_at = literal, at
    return best, best_at
