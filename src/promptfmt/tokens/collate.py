"""Padding tokenized items into a batch, for a PyTorch ``DataLoader`` (``collate_fn``).

``shift=True`` gives what "Build a Large Language Model (From Scratch)" chapter 7's
``custom_collate_fn`` gives: ``(inputs, targets)``, the ids padded with ``pad_token_id`` and cut by one
at the end, the labels moved one to the left so that ``targets[i]`` is what follows ``inputs[i]``,
padding ``ignore_index`` in the targets (the item's own EOS, its first "padding" in the course, is a
label of the item here, so it stays), both cut to ``allowed_max_length``. ``shift=False`` gives a
Hugging Face batch: ``input_ids``, ``labels`` and ``attention_mask`` padded, the model shifting itself.

Tensors need PyTorch (``pip install 'promptfmt[torch]'``); ``return_tensors=None`` gives lists.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any

from ..errors import MissingExtraError, UsageError
from .labels import IGNORE


def collate(
    batch: Sequence[Mapping[str, Sequence[int]]],
    *,
    pad_token_id: int,
    ignore_index: int = IGNORE,
    allowed_max_length: int | None = None,
    shift: bool = True,
    return_tensors: str | None = "pt",
    device: str = "cpu",
) -> Any:
    """The batch of ``batch`` (items with ``input_ids`` and ``labels``, as `promptfmt tokenize` writes them)."""
    if not batch:
        raise UsageError("collate: the batch is empty")
    for index, item in enumerate(batch):
        if "input_ids" not in item or "labels" not in item:
            raise UsageError(f"collate: item {index} has no {'input_ids' if 'input_ids' not in item else 'labels'}: "
                             "give it the items promptfmt tokenize writes")
        if len(item["input_ids"]) != len(item["labels"]):
            raise UsageError(f"collate: item {index} has {len(item['input_ids'])} input_ids and "
                             f"{len(item['labels'])} labels")
    longest = max(len(item["input_ids"]) for item in batch)
    ids = [_padded(item["input_ids"], longest, pad_token_id) for item in batch]
    labels = [_padded([ignore_index if label == IGNORE else label for label in item["labels"]], longest, ignore_index)
              for item in batch]
    if shift:
        columns = {"inputs": [row[:-1] for row in ids], "targets": [row[1:] for row in labels]}
    else:
        columns = {"input_ids": ids, "labels": labels,
                   "attention_mask": [[1] * len(item["input_ids"]) + [0] * (longest - len(item["input_ids"]))
                                      for item in batch]}
    if allowed_max_length is not None:
        columns = {name: [row[:allowed_max_length] for row in rows] for name, rows in columns.items()}
    if return_tensors is not None:
        columns = {name: _tensor(rows, return_tensors, device) for name, rows in columns.items()}
    return (columns["inputs"], columns["targets"]) if shift else columns


def collate_fn(**options: Any) -> Any:
    """`collate` with its options set, for ``DataLoader(..., collate_fn=collate_fn(pad_token_id=50256))``."""
    return partial(collate, **options)


def _padded(row: Sequence[int], length: int, value: int) -> list[int]:
    return [*row, *([value] * (length - len(row)))]


def _tensor(rows: list[list[int]], kind: str, device: str) -> Any:
    if kind != "pt":
        raise UsageError(f"collate: return_tensors={kind!r}; use 'pt' (PyTorch) or None (lists)")
    try:
        import torch
    except ImportError:
        raise MissingExtraError("torch", "PyTorch tensors", "torch") from None
    return torch.tensor(rows, dtype=torch.long, device=device)
