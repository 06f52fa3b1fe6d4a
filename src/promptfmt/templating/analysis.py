"""Losslessness of a `TemplateFormat`: which records parse back exactly, and why the others do not.

`LosslessnessAnalysis.check_fields` predicts, from the positions the renderer gives each field, what
the parser of `promptfmt.templating.template` will find: a literal of the format inside a field
(``marker-in-content``), the chat separator inside the instruction (``separator-in-instruction``),
or whitespace the template trims (``trimmed-whitespace``). `clearly_lossless` is its cheap, exact
sufficient test for the common case. The conformance kit proves the verdicts right.
"""

from __future__ import annotations

import re

from ..models import Loss, LossReason, Query, Record, Verdict
from .pieces import EITHER, INPUT, NO_INPUT, Template, earliest

LOSSLESS = Verdict()
Probes = dict[bool, tuple[tuple[str, ...], tuple[tuple[int, str | re.Pattern[str], tuple[tuple[str, frozenset[str]], ...]], ...]]]


class LosslessnessAnalysis:
    """The check half of `TemplateFormat` (a mixin: the class provides the pieces and the parser's rules)."""

    name: str
    template: Template
    _always: bool
    _trims_output: bool
    _prefix_input: str
    _prefix_no_input: str
    _proper_prefixes: dict[str, tuple[str, ...]]
    _quick_probes: Probes | None

    def render_prompt(self, instruction: str, input: str = "") -> str:
        raise NotImplementedError

    def _match_prefix(self, text: str) -> tuple[str, int]:
        raise NotImplementedError

    def _instruction_terminators(self, mode: str) -> tuple[str, ...]:
        raise NotImplementedError

    def check(self, record: Query) -> Verdict:
        return self.check_fields(record.instruction, record.input, record.output if isinstance(record, Record) else None)

    def check_fields(self, instruction: str, input: str = "", output: str | None = None) -> Verdict:
        """`check` on plain strings (``output=None`` for a prompt alone): the fast path for batches.

        `check` delegates here, so a subclass that changes the verdict overrides this method.
        """
        t = self.template
        if output is not None and self.clearly_lossless(instruction, input, output):
            return LOSSLESS  # never for an empty output where nothing follows the answer (no quick probes there)
        if t.content_dependent and output is not None and any(text in output for text in t.content_dependent):
            held = next(text for text in t.content_dependent if text in output)
            return Verdict((Loss(LossReason.CONTENT_DEPENDENT, "output", f"the official template of {self.name} renders "
                                 f"an answer holding {held!r} otherwise"),))
        if output == "" and not (t.response_prefix or t.end):
            return Verdict((Loss(LossReason.EMPTY_OUTPUT, "output", f"{self.name} writes nothing after the answer, so "
                                 "an empty output reads back as a prompt (validate refuses empty outputs)"),))
        losses = self._trim_losses(instruction, input, output)
        if losses:
            return Verdict(tuple(losses))
        has_input = self._always or input != ""
        prompt = self.render_prompt(instruction, input)
        text = prompt if output is None else prompt + t.response_prefix + output + t.end
        expected_mode = INPUT if has_input else NO_INPUT
        mode, start = self._match_prefix(text)
        if mode not in (expected_mode, EITHER):
            losses.append(Loss(
                LossReason.MARKER_IN_CONTENT, "instruction",
                f"the text starts like the {'with' if mode == INPUT else 'without'}-input preamble",
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
        elif t.output_lstrip and output and output[0] in t.output_lstrip:
            losses.append(_trim_loss("output", "leading"))
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

    def _probes(self) -> Probes | None:
        """Per has-input case: the longer literals that could tie with the one that ends the
        instruction, and per field (field index, its first-character filter, (literal, the literal's
        characters but its last) for every literal the parser looks for in the field).

        None when the preambles overlap, or when nothing follows the answer (an empty output is
        lossy there): such formats always take the full analysis.
        """
        t = self.template
        if not (t.response_prefix or t.end):
            return None
        if self._prefix_input != self._prefix_no_input and (
            self._prefix_input.startswith(self._prefix_no_input) or self._prefix_no_input.startswith(self._prefix_input)
        ):
            return None
        cases = {}
        for has_input in (True, False):
            if not has_input and self._always:
                continue
            either = self._prefix_input == self._prefix_no_input and not self._always
            mode = EITHER if either else (INPUT if has_input else NO_INPUT)
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
        t = self.template
        if (t.trim or self._trims_output or t.output_lstrip) and self._trim_losses(instruction, input, output):
            return False
        if t.content_dependent and any(text in output for text in t.content_dependent):
            return False
        has_input = self._always or input != ""
        ties, fields = probes[has_input]
        # a longer literal starting right after the instruction would win the tie there
        if ties and self._following(0, has_input, input, output).startswith(ties):
            return False
        values = (instruction, input, output)
        for index, first, literals in fields:
            value = values[index]
            # type() rather than isinstance: this runs for every field of every record
            if (first not in value) if type(first) is str else (first.search(value) is None):  # type: ignore[union-attr]
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
        literal, at = earliest(text, start, sought)
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

