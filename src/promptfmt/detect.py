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

Only the plugin that registered a format is asked about it (the hook's contract: the others answer
None). A format whose plugin fails on a text (its hook or its format raises, or answers with the
wrong type) is skipped with a note naming the format and the plugin (`Detection.skipped`); the
other formats are still asked, and plugin code runs as `promptfmt.plugins.guard` describes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pluggy

from .errors import PluginFormatError
from .format import Format, Match, match_text
from .plugins.guard import PluginCode
from .plugins.guarded import unguarded
from .plugins.hooks import answer_for
from .plugins.registry import FormatRegistry

__all__ = ["Detection", "Match", "Rejection", "Skipped", "answer_for", "detect_format", "match_text", "text_of"]


@dataclass(frozen=True, slots=True)
class Rejection:
    """A format ruled out: the first text it rejected (0-based, among the texts examined), why, and where."""

    format: str
    index: int
    reason: str
    offset: int = 0


@dataclass(frozen=True, slots=True)
class Skipped:
    """A format left out because its plugin failed on a text (0-based ``index``): what went wrong."""

    format: str
    plugin: str
    index: int
    reason: str


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
    skipped: tuple[Skipped, ...] = ()  # formats whose plugin failed: neither candidates nor rejected

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
            return "every format failed (see the notes)" if self.skipped else "no format is registered"
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
    ask = _Asker(registry)
    running = {fmt.name: (fmt, 0) for fmt in registry}
    rejections: list[Rejection] = []
    skipped: list[Skipped] = []
    examined = 0
    with PluginCode() as code:
        for text in texts:
            if (limit is not None and examined >= limit) or not running:
                break
            for name, (fmt, structure) in list(running.items()):
                try:
                    match = ask(fmt, text)
                except BaseException as exc:  # the format's plugin failed: skip the format, go on
                    if code.users_interrupt(exc):
                        raise
                    del running[name]
                    skipped.append(_skipped(fmt, ask.plugin_of(fmt), examined, exc))
                    continue
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
        skipped=tuple(skipped),
    )


def _skipped(fmt: Format, plugin: str, index: int, exc: BaseException) -> Skipped:
    if not isinstance(exc, PluginFormatError):
        exc = PluginFormatError(plugin, fmt.name, f"detection raised {type(exc).__name__}: {exc}")
    return Skipped(fmt.name, plugin, index, str(exc))


class _Asker:
    """Asks the plugin that registered a format through the hook; parses where it does not answer."""

    def __init__(self, registry: FormatRegistry) -> None:
        self.registry = registry
        self.callers: dict[str, Any] = {}  # plugin name -> its own detection hook, or None

    def plugin_of(self, fmt: Format) -> str:
        return self.registry.entry(fmt.name).plugin if fmt.name in self.registry else "?"

    def __call__(self, fmt: Format, text: str) -> Match:
        plugin = self.plugin_of(fmt)
        hook = self._hook(plugin)
        if hook is not None:
            try:
                answer = hook(text=text, format=unguarded(fmt))  # the format as the plugin registered it
            except (PluginFormatError, KeyboardInterrupt):  # a Ctrl-C is told apart by detect_format
                raise
            except BaseException as exc:
                raise PluginFormatError(plugin, fmt.name,
                                        f"promptfmt_detect_format raised {type(exc).__name__}: {exc}") from exc
            if answer is not None:
                if not isinstance(answer, Match):
                    raise PluginFormatError(plugin, fmt.name, f"promptfmt_detect_format returned "
                                                              f"{type(answer).__name__}, not a Match or None")
                return answer
        return match_text(fmt, text)

    def _hook(self, plugin: str) -> Any:
        if plugin not in self.callers:
            self.callers[plugin] = _own_hook(self.registry.manager, plugin)
        return self.callers[plugin]


def _own_hook(manager: pluggy.PluginManager | None, plugin: str) -> Any:
    """The detection hook of ``plugin`` alone (through pluggy), or None."""
    own = manager.get_plugin(plugin) if manager is not None else None
    if own is None:
        return None
    others = [other for _, other in manager.list_name_plugin() if other is not own]  # type: ignore[union-attr]
    return manager.subset_hook_caller("promptfmt_detect_format", remove_plugins=others)  # type: ignore[union-attr]


def _names(names: tuple[str, ...]) -> str:
    return ", ".join(names)
