"""The generators of the conformance kit: contents hostile to a format, records, texts, conversations."""

from __future__ import annotations

from hypothesis import strategies as st

from ..conversation import Conversation
from ..format import Format
from ..models import Record
from ..templating.template import TemplateFormat

# Characters JSON can carry (no lone surrogates), with control characters and odd whitespace on purpose.
_CHARACTERS = st.characters(exclude_categories=["Cs"])
_EDGES = ("", " ", "\n", "\n\n", "\t", "  \n ", "\r\n", "\u00a0", "\u2028", "é", "日本語", "🙂", "\x00", "\x1b[0m")


def hostile_pieces(fmt: Format) -> tuple[str, ...]:
    """Literals that could confuse ``fmt``: its template pieces and markers, plus generic edge cases."""
    pieces: list[str] = list(fmt.markers)
    if isinstance(fmt, TemplateFormat):
        t = fmt.template
        pieces += [t.prefix, t.prefix_no_input or "", t.separator, t.prompt_suffix, t.response_prefix,
                   t.after_prompt, t.end, t.end + t.end]
    return tuple(dict.fromkeys(p for p in (*pieces, *_EDGES)))


def content_strategy(fmt: Format | None = None, *, max_pieces: int = 5) -> st.SearchStrategy[str]:
    """Field content: readable text mixed with the format's own markers and whitespace edges."""
    pieces = hostile_pieces(fmt) if fmt is not None else _EDGES
    part = st.one_of(
        st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=12),
        st.text(alphabet=_CHARACTERS, max_size=6),
        st.sampled_from(pieces),
    )
    return st.lists(part, max_size=max_pieces).map("".join)


def record_strategy(fmt: Format | None = None) -> st.SearchStrategy[Record]:
    """Records whose fields are drawn from `content_strategy`; a third have no input."""
    content = content_strategy(fmt)
    return st.builds(
        lambda instruction, input, output: Record(instruction=instruction, input=input, output=output),
        content,
        st.one_of(st.just(""), content),
        content,
    )


def text_strategy(fmt: Format) -> st.SearchStrategy[str]:
    """Texts to parse: renderings (full and prompt alone), damaged renderings, and arbitrary text."""
    rendered = record_strategy(fmt).flatmap(
        lambda r: st.sampled_from((fmt.render(r).text, fmt.render(r).prompt))
    )
    pieces = st.sampled_from(hostile_pieces(fmt))

    def damage(text: str, data: tuple[int, int, str]) -> str:
        start, length, insert = data
        start = start % (len(text) + 1)
        return text[:start] + insert + text[start + length :]

    damaged = st.tuples(rendered, st.tuples(st.integers(0, 10_000), st.integers(0, 8), st.one_of(st.just(""), pieces))).map(
        lambda pair: damage(*pair)
    )
    return st.one_of(rendered, damaged, content_strategy(fmt, max_pieces=8))



def conversation_strategy(fmt: Format | None = None, *, max_turns: int = 6) -> st.SearchStrategy[Conversation]:
    """Conversations of 1 to ``max_turns`` turns, with or without a system message, some ending with a
    user message (prompts), contents drawn from `content_strategy`."""
    content = content_strategy(fmt)

    @st.composite
    def draw(draw: st.DrawFn) -> Conversation:
        messages: list[tuple[str, str]] = [("system", draw(content))] if draw(st.booleans()) else []
        for _ in range(draw(st.integers(1, max_turns))):
            messages += [("user", draw(content)), ("assistant", draw(content))]
        if draw(st.booleans()):
            messages.pop()
        return Conversation.of(messages)

    return draw()
