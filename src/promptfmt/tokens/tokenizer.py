"""The tokenizer as promptfmt uses it: whole texts to ids with each token's character span.

Two backends give the same `Tokenizer`: Hugging Face ``tokenizers`` (a ``tokenizer.json``, or a GPT-2
style ``vocab.json`` and ``merges.txt``) and ``tiktoken`` (a BPE rank file), both optional libraries
(``pip install 'promptfmt[tokenize]'``). `Tokenizer.encode_batch` recognises the tokenizer's special
tokens in the text and adds nothing (no BOS, no EOS): what to add is decided by `promptfmt.tokens.labels`
(docs/tokens.md, "BOS and EOS").
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from ..errors import MissingExtraError, PromptfmtError, UsageError, one_line

EXTRA = "tokenize"


class TokenizerError(UsageError):
    """A tokenizer that cannot be loaded or used: the path, what is wrong and what to do (exit 2)."""

    def __init__(self, path: str, message: str) -> None:
        self.path = path
        super().__init__(f"{one_line(path)}: {message}")


class EncodeError(PromptfmtError, ValueError):
    """A text the tokenizer cannot encode (its own message): the item is refused, the run goes on."""


class Encoding(NamedTuple):
    """The ids of one text and, for each, the characters ``[start, end)`` of the text it stands for."""

    ids: list[int]
    offsets: Sequence[tuple[int, int]]


@dataclass
class Tokenizer(ABC):
    """One loaded tokenizer. ``special`` maps the text of every token the tokenizer matches as a whole
    (its special and added tokens) to its id; ``prefix`` holds the ids the tokenizer itself puts
    before plain text (its BOS, if any); ``eos`` is the end-of-sequence id (None when unknown)."""

    path: str
    special: Mapping[str, int]
    prefix: tuple[int, ...] = ()
    eos: int | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.path

    @property
    def bos(self) -> int | None:
        """The tokenizer's own BOS id: the last id it puts before plain text."""
        return self.prefix[-1] if self.prefix else None

    @abstractmethod
    def encode_batch(self, texts: Sequence[str]) -> list[Encoding]:
        """Each text's encoding, special tokens recognised where their text appears, nothing added."""

    def encode_ids_batch(self, texts: Sequence[str]) -> list[list[int]]:
        """Each text's ids as `encode_batch` gives them, without the offsets (cheaper where a backend can)."""
        return [encoding.ids for encoding in self.encode_batch(texts)]

    @abstractmethod
    def encode_plain(self, text: str, at_start: bool = True) -> Encoding:
        """``text`` encoded with special-token text read as plain text (never a control token), as the
        piece of a longer text that follows a special token (``at_start`` False) or starts it."""

    def token_text(self, token: int) -> str:
        """A token's text as a report shows it."""
        return self.decode([token])

    @abstractmethod
    def decode(self, ids: Sequence[int]) -> str:
        """The text of ``ids``."""


class HuggingFaceTokenizer(Tokenizer):
    """A ``tokenizers.Tokenizer``: special tokens are its added tokens (special or not, since both are
    matched as a whole in text); ``prefix`` is what its post-processor adds to plain text."""

    def __init__(self, path: str, backend: Any, eos_text: str | None = None) -> None:
        self._tokenizer = backend
        self._plain_copies: dict[bool, Any] = {}  # made on first use: only special-token text in a message needs them
        special = {token.content: index for index, token in backend.get_added_tokens_decoder().items()}
        super().__init__(path, special, _prefix(backend, special), _eos_id(special, eos_text))

    def encode_batch(self, texts: Sequence[str]) -> list[Encoding]:
        try:
            encoded = self._tokenizer.encode_batch(list(texts), add_special_tokens=False)
        except Exception as exc:  # the library's own Exception: one text of the batch it cannot encode
            raise EncodeError(str(exc)) from None
        return [Encoding(e.ids, _Offsets(e)) for e in encoded]

    def encode_ids_batch(self, texts: Sequence[str]) -> list[list[int]]:
        encode = getattr(self._tokenizer, "encode_batch_fast", self._tokenizer.encode_batch)  # tokenizers >= 0.20
        try:
            return [e.ids for e in encode(list(texts), add_special_tokens=False)]
        except Exception as exc:
            raise EncodeError(str(exc)) from None

    def encode_plain(self, text: str, at_start: bool = True) -> Encoding:
        plain = self._plain_copies.get(at_start)
        if plain is None:
            plain = self._plain_copies[at_start] = _copy(self._tokenizer, first_only=not at_start)
        try:
            e = plain.encode(text, add_special_tokens=False)
        except Exception as exc:
            raise EncodeError(str(exc)) from None
        return Encoding(e.ids, e.offsets)

    def decode(self, ids: Sequence[int]) -> str:
        return self._tokenizer.decode(list(ids), skip_special_tokens=False)


class _Offsets(Sequence[tuple[int, int]]):
    """The offsets of a ``tokenizers`` encoding, read token by token: labelling looks up a few tokens
    by bisection, and ``Encoding.offsets`` would build a tuple for every token (a sixth of the time)."""

    __slots__ = ("_encoding", "_size")

    def __init__(self, encoding: Any) -> None:
        self._encoding, self._size = encoding, len(encoding.ids)

    def __len__(self) -> int:
        return self._size

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return self._encoding.offsets[index]
        if index < 0:
            index += self._size
        if not 0 <= index < self._size:
            raise IndexError("token index out of range")
        return self._encoding.token_to_chars(index)

    def __iter__(self) -> Iterator[tuple[int, int]]:
        return iter(self._encoding.offsets)


def _copy(backend: Any, first_only: bool) -> Any:
    """A copy of ``backend`` that reads the text of every added token, special or not (Qwen's
    ``<tool_call>``, Phi-3's ``</s>``), as plain text. With ``first_only``, a
    Metaspace pre-tokenizer that prepends its space to the first piece of a text only ("first")
    prepends none: the copy encodes pieces that follow a special token inside a text, which the
    whole text's encoding does not prepend to."""
    data = json.loads(backend.to_str())
    for token in data.get("added_tokens") or ():  # encode_special_tokens splits the special ones only
        token["special"] = True
    if first_only:
        _never_prepend(data)
    copy = backend.__class__.from_str(json.dumps(data))
    copy.encode_special_tokens = True
    return copy


def _never_prepend(node: Any) -> None:
    if isinstance(node, dict):
        if node.get("type") == "Metaspace" and node.get("prepend_scheme") == "first":
            node["prepend_scheme"] = "never"
        for value in node.values():
            _never_prepend(value)
    elif isinstance(node, list):
        for value in node:
            _never_prepend(value)


def _prefix(backend: Any, special: Mapping[str, int]) -> tuple[int, ...]:
    """The ids the tokenizer puts before plain text: what encoding "a" with special tokens adds in
    front; for a tokenizer that cannot encode "a" (a word-level vocabulary without an unknown token),
    the special tokens before the text in its post-processor's template."""
    try:
        with_specials = backend.encode("a", add_special_tokens=True).ids
        plain = backend.encode("a", add_special_tokens=False).ids
    except Exception:  # tokenizers raises plain Exception
        processor = json.loads(backend.to_str()).get("post_processor") or {}
        names = []
        for piece in processor.get("single", []) if processor.get("type") == "TemplateProcessing" else []:
            if "Sequence" in piece:
                break
            names.append(piece.get("SpecialToken", {}).get("id"))
        return tuple(special[name] for name in names if name in special)
    at = _find(with_specials, plain)
    return tuple(with_specials[:at]) if at >= 0 else ()


# End-of-sequence texts tried, in order, when the tokenizer's configuration names none.
EOS_TEXTS = ("<|endoftext|>", "<|end_of_text|>", "</s>", "<eos>", "<|im_end|>")


def _eos_id(special: Mapping[str, int], eos_text: str | None) -> int | None:
    if eos_text is not None:
        return special.get(eos_text)
    return next((special[text] for text in EOS_TEXTS if text in special), None)


def _find(haystack: Sequence[int], needle: Sequence[int]) -> int:
    """Where ``needle`` starts in ``haystack``, or -1."""
    size = len(needle)
    return next((at for at in range(len(haystack) - size + 1) if list(haystack[at:at + size]) == list(needle)), -1)


def tokenizers_module() -> Any:
    """The ``tokenizers`` module, or `MissingExtraError` saying what to install."""
    try:
        import tokenizers
    except ImportError:
        raise MissingExtraError("tokenizers", "Hugging Face tokenizer files", EXTRA) from None
    return tokenizers
