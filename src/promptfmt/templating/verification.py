"""The data an import is verified on: records and conversations that `promptfmt validate` accepts,
deterministic (a seed), their contents mixing hostile pieces, the format's own markup and the
template's string constants (a content-dependent template reacts to those)."""

from __future__ import annotations

import random
from collections.abc import Callable

from ..conversation import Conversation, Message
from ..models import Record
from .template import TemplateFormat

__all__ = ["verification_conversations", "verification_records"]

_PIECES = (
    "Hello", "world", "Translate to French:", "What is 2 + 2?", "Bonjour", "4", " ", "  ", "\n", "\n\n", "\t",
    "\r\n", "日本語", "é", "🙂", "{{ x }}", "{% if %}", "'", '"', "\\n", "<s>", "</s>", "[INST]", "<|", "|>",
    "### Response:", "User:", "Assistant:", "system",
)


def verification_records(fmt: TemplateFormat, count: int = 64, seed: int = 0, *,
                         literals: tuple[str, ...] = ()) -> list[Record]:
    """Deterministic records for verification, all of which `promptfmt validate` accepts: plain ones,
    edge cases, and random mixes of hostile pieces (the format's own, and ``literals``: the
    template's string constants, which a content-dependent template reacts to)."""
    t = fmt.template
    pieces = [*_PIECES, *literals, *(p for p in (t.prefix, t.separator, t.prompt_suffix, t.response_prefix, t.end) if p)]
    fixed = [
        Record(instruction="Name a colour.", output="Blue."),
        Record(instruction="Translate to French.", input="Good morning", output="Bonjour"),
        Record(instruction="Summarise.", input="  ", output="Nothing."),
        Record(instruction="  Padded instruction.\n", input="\nPadded input \t", output=" Padded output.\n\n"),
        Record(instruction="Multi\nline\n\ninstruction", input="multi\nline", output="multi\n\nline"),
    ]
    rng = random.Random(seed)
    content = _drawer(rng, pieces, most=5)
    generated = [
        Record(instruction=content(False), input=content(True) if rng.random() < 0.6 else "", output=content(False))
        for _ in range(max(0, count - len(fixed)))
    ]
    return fixed + generated


_CONVERSATION_PIECES = (
    "Hello", "world", "What is 2 + 2?", "4", "Be brief.", " ", "  ", "\n", "\n\n", "\t", "日本語", "🙂", "{{ x }}",
    "'", '"', "<s>", "</s>", "[INST]", "<|", "|>", "User:", "Assistant:", "system", "user", "assistant",
)


def verification_conversations(count: int = 48, seed: int = 0, *, markup: tuple[str, ...] = (),
                               with_system: bool = True) -> list[Conversation]:
    """Deterministic conversations for verification, all of which `promptfmt validate` accepts: 1 to 4
    turns, a system message in every other one (``with_system``), every third ending with a user
    message, contents mixing hostile pieces and the format's own ``markup``."""
    pieces = [*_CONVERSATION_PIECES, *(piece for piece in markup if piece)]
    content = _drawer(random.Random(seed), pieces, most=4)
    conversations = []
    for index in range(count):
        messages = [Message(role="system", content=content(True))] if with_system and index % 2 else []
        for _ in range(1 + index % 4):  # user and assistant messages hold text, as validate requires
            messages += [Message(role="user", content=content(False)), Message(role="assistant", content=content(False))]
        if index % 3 == 2:
            messages.pop()
        conversations.append(Conversation(messages=messages))
    return conversations


def _drawer(rng: random.Random, pieces: list[str], *, most: int) -> Callable[[bool], str]:
    """A content of 0 (``blank`` allowed) or 1 to ``most`` random pieces; without ``blank`` it holds text."""

    def content(blank: bool) -> str:
        while True:
            text = "".join(rng.choice(pieces) for _ in range(rng.randint(0 if blank else 1, most)))
            if blank or text.strip():
                return text

    return content
