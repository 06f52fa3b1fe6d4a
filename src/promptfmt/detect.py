"""Detection: which registered format produced a set of rendered texts.

A format *accepts* a text when the text is exactly what the format renders for some record (a full
text) or for some instruction and input (a prompt alone): the text parses, and what it parses to
renders back to the same text. Each plugin answers for its own formats through the
``promptfmt_detect_format`` hook (`answer_for` is the usual implementation); a format that no plugin
answers for is matched with `match_text`.

`detect_format` asks the formats about every text and drops a format at the first text it rejects.
One text is weak evidence, so detection over a dataset uses many: Stanford ``alpaca`` and
``alpaca-llmfs`` render a record without input identically, and only texts with an input tell them
apart. Among the formats that accept every text, the one that accounts for more characters with its
own literal pieces (and fewer with record content) is the more specific description of the texts and
is named: Llama-2 text ``<s>[INST] u [/INST] a </s>`` also parses as legacy Mistral whose output is
`` a ``, but only Llama-2 explains the spaces. Of a tie between a format and one that ``extends`` it
(renders every record as it does, and more: ``gemma3`` extends ``gemma``) the simpler one is named.
Other formats that tie on that count make the detection *ambiguous*: no format is named, and all of
them are listed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from .format import Format, Match, match_text
from .plugins.hooks import answer_for
from .plugins.registry import FormatRegistry

__all__ = ["Detection", "Match", "Rejection", "answer_for", "detect_format", "match_text", "text_of"]


@dataclass(frozen=True, slots=True)
class Rejection:
    """A format ruled out: the first text it rejected (0-based, among the texts examined), why, and where."""

    format: str
    index: int
    reason: str
    offset: int = 0


@dataclass(frozen=True, slots=True)
class Detection:
    """The verdict of `detect_format`.

    * ``candidates``: the formats that accept every examined text and tie as the most specific; one
      candidate is the detected format (``name``), several make the detection ambiguous.
    * ``also_accepted``: formats that accept every text too but explain less of it.
    * ``rejections``: the other formats, closest first (the later the text it rejected, and the
      further into that text it got, the closer).
    """

    candidates: tuple[str, ...]
    examined: int
    also_accepted: tuple[str, ...] = ()
    rejections: tuple[Rejection, ...] = ()
    extending: tuple[str, ...] = ()  # formats that render the texts alike but extend a candidate

    @property
    def name(self) -> str | None:
        """The detected format, or None when no format or more than one fits."""
        return self.candidates[0] if len(self.candidates) == 1 else None

    @property
    def ambiguous(self) -> bool:
        return len(self.candidates) > 1

    def describe(self) -> str:
        """One sentence for people: what was found, or why nothing was. Texts are counted from 0."""
        if self.examined == 0:
            return "there is no text to examine"
        every = "the text" if self.examined == 1 else f"all {self.examined} texts"
        if self.name is not None:
            also = ""
            fewer = tuple(name for name in self.also_accepted if name not in self.extending)
            if fewer:
                s = "s" if len(fewer) == 1 else ""
                also = f"; {_names(fewer)} also parse{s} them but explain{s} fewer characters as markup"
            if self.extending:
                also += f"; {_names(self.extending)} render{'s' if len(self.extending) == 1 else ''} them alike, " \
                        f"extending {self.name}"
            return f"{self.name} renders {every} exactly{also}"
        if self.ambiguous:
            return (
                f"ambiguous: {_names(self.candidates)} each render {every} exactly and alike. More varied texts "
                "(full texts rather than prompts, records with an input) could tell them apart; otherwise name the format"
            )
        if not self.rejections:
            return "no format is registered"
        closest = self.rejections[0]
        return f"no registered format renders every text. Closest: {closest.format}, which rejects text {closest.index}: {closest.reason}"


def text_of(value: Any) -> str | None:
    """The rendered text a dataset item holds, or None.

    Accepted items: a string; ``{"text": ...}``; ``{"prompt": ..., "completion": ...}`` (joined) or
    ``{"prompt": ...}`` alone (a prompt); ``{"segments": [{"text": ...}, ...]}`` (joined, the
    ``segments`` layout). ``text`` wins when an item has both.
    """
    if isinstance(value, str):
        return value
    if not isinstance(value, dict):
        return None
    text = value.get("text")
    if isinstance(text, str):
        return text
    prompt, completion = value.get("prompt"), value.get("completion", "")
    if isinstance(prompt, str) and isinstance(completion, str):
        return prompt + completion
    segments = value.get("segments")
    if isinstance(segments, list) and segments and all(
            isinstance(segment, dict) and isinstance(segment.get("text"), str) for segment in segments):
        return "".join(segment["text"] for segment in segments)
    return None


def detect_format(texts: Iterable[str], registry: FormatRegistry, *, limit: int | None = None) -> Detection:
    """Which format of ``registry`` produced every one of ``texts`` (at most ``limit`` of them).

    Streams: ``texts`` may be a generator over a large file. Texts are examined until ``limit`` is
    reached or no format is left in the running.
    """
    ask = _asker(registry)
    running = {fmt.name: (fmt, 0) for fmt in registry}
    rejections: list[Rejection] = []
    examined = 0
    for text in texts:
        if (limit is not None and examined >= limit) or not running:
            break
        for name, (fmt, structure) in list(running.items()):
            match = ask(fmt, text)
            if match.accepted:
                running[name] = (fmt, structure + match.structure)
            else:
                del running[name]
                rejections.append(Rejection(name, examined, match.reason, match.offset))
        examined += 1
    if examined == 0:
        return Detection((), 0)
    ranked = sorted(running.items(), key=lambda item: -item[1][1])  # stable: registration order on ties
    best = ranked[0][1][1] if ranked else 0
    tied = {name for name, (_, structure) in ranked if structure == best}
    # a format that extends another tied one renders these texts exactly as it does: the simpler one is named
    named = {name for name in tied if running[name][0].extends not in tied}
    return Detection(
        candidates=tuple(name for name, _ in ranked if name in named),
        examined=examined,
        also_accepted=tuple(name for name, _ in ranked if name not in named),
        extending=tuple(name for name, _ in ranked if name in tied and name not in named),
        rejections=tuple(sorted(rejections, key=lambda rejection: (-rejection.index, -rejection.offset))),
    )


def _asker(registry: FormatRegistry) -> Callable[[Format, str], Match]:
    """Ask the plugins through the hook; fall back to parsing where no plugin answers."""
    manager = registry.manager
    if manager is None:
        return match_text
    hook = manager.hook.promptfmt_detect_format

    def ask(fmt: Format, text: str) -> Match:
        answer = hook(text=text, format=fmt)
        return match_text(fmt, text) if answer is None else answer

    return ask


def _names(names: tuple[str, ...]) -> str:
    return ", ".join(names)
