"""Loading a tokenizer from a path: a ``tokenizer.json``, a folder of tokenizer files, or a tiktoken
BPE rank file. The end-of-sequence token is the one the folder's ``tokenizer_config.json`` (or
``special_tokens_map.json``) names; without either, the first of `EOS_TEXTS` the tokenizer has."""

from __future__ import annotations

import json
import os
from typing import Any

from .tiktoken_file import TiktokenTokenizer, is_rank_file
from .tokenizer import HuggingFaceTokenizer, Tokenizer, TokenizerError, tokenizers_module

CONFIGS = ("tokenizer_config.json", "special_tokens_map.json")


def load_tokenizer(path: str | os.PathLike[str], *, eos_token: str | None = None) -> Tokenizer:
    """The tokenizer at ``path``; ``eos_token`` (its text) overrides the configured end-of-sequence
    token. `TokenizerError` says what is wrong with the path and what would work."""
    path = os.fspath(path)  # a pathlib.Path too: the tokenizers library and the messages take str
    if os.path.isdir(path):
        tokenizer = _folder(path, eos_token)
    elif os.path.isfile(path):
        tokenizer = _file(path, eos_token)
    else:
        raise TokenizerError(path, "no such file or folder; pass a tokenizer.json, a folder holding one, or a "
                                   "tiktoken BPE file")
    if eos_token is not None and eos_token not in tokenizer.special:
        raise TokenizerError(path, f"--eos-token {eos_token!r} is not one of the tokenizer's special tokens")
    return tokenizer


def _file(path: str, eos_token: str | None) -> Tokenizer:
    with open(path, "rb") as handle:
        head = handle.read(4096)
    if head.lstrip()[:1] == b"{":
        folder = os.path.dirname(os.path.abspath(path))
        return _hugging_face(path, eos_token or _configured_eos(folder))
    if is_rank_file(head):
        tokenizer = TiktokenTokenizer(path)
        if eos_token is not None:
            tokenizer.eos = tokenizer.special.get(eos_token)
        return tokenizer
    raise TokenizerError(path, "neither a tokenizer.json nor a tiktoken BPE rank file; SentencePiece .model files "
                               "are read through their tokenizer.json (save one with transformers' save_pretrained)")


def _folder(path: str, eos_token: str | None) -> Tokenizer:
    eos = eos_token or _configured_eos(path)
    tokenizer_json = os.path.join(path, "tokenizer.json")
    if os.path.isfile(tokenizer_json):
        return _hugging_face(tokenizer_json, eos, shown=path)
    vocab, merges = os.path.join(path, "vocab.json"), os.path.join(path, "merges.txt")
    if os.path.isfile(vocab) and os.path.isfile(merges):
        return _byte_level(path, vocab, merges, eos)
    found = ", ".join(sorted(os.listdir(path))[:8]) or "nothing"
    raise TokenizerError(path, f"no tokenizer.json, nor vocab.json with merges.txt, in this folder (it holds {found})")


def _hugging_face(path: str, eos: str | None, shown: str | None = None) -> Tokenizer:
    tokenizers = tokenizers_module()
    try:
        backend = tokenizers.Tokenizer.from_file(path)
    except Exception as exc:  # tokenizers raises its own Exception subclass with the serde message
        raise TokenizerError(path, f"not a tokenizer file the tokenizers library reads: {exc}") from None
    return HuggingFaceTokenizer(shown or path, backend, eos)


def _byte_level(path: str, vocab: str, merges: str, eos: str | None) -> Tokenizer:
    """A GPT-2 style byte-level BPE from its vocabulary and merges (what GPT-2's own files hold)."""
    tokenizers = tokenizers_module()
    try:
        model = tokenizers.models.BPE.from_file(vocab, merges)
    except Exception as exc:
        raise TokenizerError(path, f"vocab.json and merges.txt do not make a BPE model: {exc}") from None
    backend = tokenizers.Tokenizer(model)
    backend.pre_tokenizer = tokenizers.pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = tokenizers.decoders.ByteLevel()
    backend.post_processor = tokenizers.processors.ByteLevel(trim_offsets=False)
    with open(vocab, encoding="utf-8") as handle:
        specials = [text for text in json.load(handle) if text.startswith("<|") and text.endswith("|>")]
    backend.add_special_tokens(specials)
    return HuggingFaceTokenizer(path, backend, eos)


def _configured_eos(folder: str) -> str | None:
    for name in CONFIGS:
        config = _json(os.path.join(folder, name))
        token = config.get("eos_token") if isinstance(config, dict) else None
        if isinstance(token, dict):
            token = token.get("content")
        if isinstance(token, str):
            return token
    return None


def _json(path: str) -> Any:
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None
