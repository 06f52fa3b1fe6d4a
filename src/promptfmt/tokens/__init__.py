"""Tokens and loss masks for training: ids and labels of renderings, from their segments.

`load_tokenizer` reads a tokenizer (``tokenizer.json``, a folder, a tiktoken BPE file); `Labeler` turns
renderings into `Tokenized` items; `tokenize` runs a whole dataset; `collate` pads a batch as the
course's ``custom_collate_fn`` does; `tokenize_batch` serves ``datasets.map(batched=True)``.
"""

from .labels import IGNORE, TRAIN_ON, Finding, Labeler, Tokenized
from .loading import load_tokenizer
from .service import TokenizeSummary, fit, tokenize
from .tokenizer import Encoding, Tokenizer, TokenizerError

__all__ = [
    "IGNORE", "TRAIN_ON", "Encoding", "Finding", "Labeler", "TokenizeSummary", "Tokenized", "Tokenizer",
    "TokenizerError", "fit", "load_tokenizer", "tokenize",
]
