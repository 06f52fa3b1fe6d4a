"""The literal pieces of a prompt style (`Template`) and the literal search that parse and check share."""

from __future__ import annotations

from dataclasses import dataclass

from .collisions import check_template

INPUT_BLOCK_RULES = ("non-empty", "always")

# The preamble a text starts with tells whether the record has an input (two preambles), or not (one).
INPUT, NO_INPUT, EITHER = "input", "no-input", "either"


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
    output_lstrip: str = ""
    content_dependent: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        check_template(self)  # the rules every definition meets (`promptfmt.templating.collisions`)

    @property
    def after_prompt(self) -> str:
        """The literal between the last prompt field and the output."""
        return self.prompt_suffix + self.response_prefix

    def shown_output(self, output: str) -> str:
        """The output as the template writes it: stripped (``trim``, ``trim_output``), or its leading
        ``output_lstrip`` characters removed (Qwen3's ``content.lstrip('\n')``)."""
        if self.trim or self.trim_output:
            return output.strip()
        return output.lstrip(self.output_lstrip) if self.output_lstrip else output

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



def earliest(text: str, pos: int, literals: tuple[str, ...]) -> tuple[str | None, int]:
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

