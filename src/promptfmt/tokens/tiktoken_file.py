"""Tokenizers given as a tiktoken BPE rank file (``base64-token rank`` per line: OpenAI's encodings,
Meta's Llama 3 ``original/tokenizer.model``).

Such a file holds the ranks only, not the pre-tokenizer pattern nor the special tokens, so the file is
recognised by its number of ranks among the published encodings below; any other size is refused with
the sizes known (docs/tokens.md, "Tokenizers").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import MissingExtraError
from .tokenizer import EXTRA, Encoding, Tokenizer, TokenizerError

# The pre-tokenizer patterns of the published encodings (tiktoken's openai_public and Meta's llama3).
_R50K = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
_CL100K = (r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]++[\r\n]*|\s*[\r\n]|"""
           r"""\s+(?!\S)|\s+""")
_LLAMA3 = (r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|"""
           r"""\s+(?!\S)|\s+""")


_CONTINUATION = bytes(range(0x80, 0xC0))  # UTF-8 bytes that continue a character


def _llama3_special() -> dict[str, int]:
    names = ["<|begin_of_text|>", "<|end_of_text|>", "<|reserved_special_token_0|>", "<|reserved_special_token_1|>",
             "<|finetune_right_pad_id|>", "<|reserved_special_token_2|>", "<|start_header_id|>", "<|end_header_id|>",
             "<|eom_id|>", "<|eot_id|>", "<|python_tag|>"]
    names += [f"<|reserved_special_token_{n}|>" for n in range(3, 3 + 256 - len(names))]
    return {name: 128000 + index for index, name in enumerate(names)}


@dataclass(frozen=True)
class KnownEncoding:
    name: str
    pattern: str
    special: dict[str, int]
    bos: str | None
    eos: str


KNOWN: dict[int, KnownEncoding] = {
    50256: KnownEncoding("gpt2 (r50k_base)", _R50K, {"<|endoftext|>": 50256}, None, "<|endoftext|>"),
    100256: KnownEncoding("cl100k_base", _CL100K, {"<|endoftext|>": 100257, "<|fim_prefix|>": 100258,
                                                    "<|fim_middle|>": 100259, "<|fim_suffix|>": 100260,
                                                    "<|endofprompt|>": 100276}, None, "<|endoftext|>"),
    128000: KnownEncoding("llama3", _LLAMA3, _llama3_special(), "<|begin_of_text|>", "<|eot_id|>"),
}


class TiktokenTokenizer(Tokenizer):
    """A tiktoken ``Encoding`` built from a rank file of a known size."""

    def __init__(self, path: str) -> None:
        tiktoken, load = _tiktoken()
        try:
            ranks = load.load_tiktoken_bpe(path)
        except Exception as exc:  # tiktoken raises bare ValueError/binascii errors on a bad line
            raise TokenizerError(path, f"not a tiktoken BPE rank file ({exc}); pass a tokenizer.json or its folder") from None
        known = KNOWN.get(len(ranks))
        if known is None:
            sizes = ", ".join(f"{size} ({k.name})" for size, k in KNOWN.items())
            raise TokenizerError(path, f"a BPE rank file of {len(ranks)} tokens, none of the encodings whose pattern and "
                                       f"special tokens promptfmt knows ({sizes}); pass the tokenizer.json instead")
        self._encoding = tiktoken.Encoding(known.name, pat_str=known.pattern, mergeable_ranks=ranks,
                                           special_tokens=known.special)
        self._allowed = set(known.special)
        prefix = (known.special[known.bos],) if known.bos else ()
        super().__init__(path, dict(known.special), prefix, known.special[known.eos])

    def encode_batch(self, texts: Sequence[str]) -> list[Encoding]:
        batches = self._encoding.encode_batch(list(texts), allowed_special=self._allowed)
        return [self._with_offsets(ids) for ids in batches]

    def encode_ids_batch(self, texts: Sequence[str]) -> list[list[int]]:
        return [list(ids) for ids in self._encoding.encode_batch(list(texts), allowed_special=self._allowed)]

    def encode_plain(self, text: str, at_start: bool = True) -> Encoding:
        return self._with_offsets(self._encoding.encode_ordinary(text))

    def decode(self, ids: Sequence[int]) -> str:
        return str(self._encoding.decode(list(ids)))

    def _with_offsets(self, ids: list[int]) -> Encoding:
        """Each token spans every character it holds a byte of, as the tokenizers library's offsets
        do: a character split over two tokens is in both, so a span starting at it trains both (with
        tiktoken's start offsets alone, the first would end where it starts and stay untrained)."""
        offsets, at = [], 0
        for piece in self._encoding.decode_tokens_bytes(ids):
            start = at - (0x80 <= piece[0] < 0xC0) if piece else at  # a piece that continues a character
            at += len(piece.translate(None, _CONTINUATION))
            offsets.append((max(start, 0), at))
        return Encoding(ids, offsets)


def is_rank_file(head: bytes) -> bool:
    """Whether the first line of a file looks like ``base64-token rank``."""
    line = head.split(b"\n", 1)[0].strip()
    token, _, rank = line.partition(b" ")
    return bool(token) and rank.isdigit() and all(chr(c).isalnum() or c in b"+/=" for c in token)


def _tiktoken() -> tuple[Any, Any]:
    try:
        import tiktoken
        import tiktoken.load
    except ImportError:
        raise MissingExtraError("tiktoken", "tiktoken BPE files", EXTRA) from None
    return tiktoken, tiktoken.load
