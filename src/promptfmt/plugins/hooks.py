"""The two hook implementations of a plugin that provides a fixed set of formats.

Every built-in format module ends with::

    FORMATS = (LLAMA2, LLAMA3)
    promptfmt_register_formats, promptfmt_detect_format = format_hooks(*FORMATS)

pluggy finds the two functions by their names, exactly as if they were written out with
``@hookimpl`` in the module (plugin packages may do either).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from ..format import Format, Match, match_text
from .hookspecs import hookimpl

RegisterHook = Callable[[Callable[[Format], None]], None]
DetectHook = Callable[[str, Format], "Match | None"]


def format_hooks(*formats: Format) -> tuple[RegisterHook, DetectHook]:
    """``promptfmt_register_formats`` registering ``formats``, and ``promptfmt_detect_format`` answering for them."""

    @hookimpl
    def promptfmt_register_formats(register: Callable[[Format], None]) -> None:
        for fmt in formats:
            register(fmt)

    @hookimpl
    def promptfmt_detect_format(text: str, format: Format) -> Match | None:
        return answer_for(formats, text, format)

    return promptfmt_register_formats, promptfmt_detect_format


def answer_for(formats: Iterable[Format], text: str, format: Format) -> Match | None:
    """A plugin's ``promptfmt_detect_format``: a `Match` when ``format`` is one of ``formats``, else None."""
    if any(format is own for own in formats):
        return match_text(format, text)
    return None
