"""Splitting a dataset into train, test and validation parts.

The default is the split of "Build a Large Language Model (From Scratch)", chapter 7: the first
``int(0.85 * N)`` items train, the next ``int(0.10 * N)`` test, the rest validation (935 / 110 / 55
for the course's 1100 records). ``seed`` shuffles first, reproducibly (``random.Random(seed)``).

Splitting needs the number of items before the first one is placed, so the whole dataset is held in
memory, each item as its compact JSON bytes (about the size of a JSON Lines file, far less than the
decoded objects). Items are copied unchanged, whatever their layout; only items that are not valid
JSON are refused (there is nothing to copy), and ``read == train + test + val + refused``.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable
from dataclasses import dataclass, field

from .errors import UsageError
from .io import Item
from .io.jsonout import encode

PARTS = ("train", "test", "val")
COURSE_FRACTIONS = (0.85, 0.10, 0.05)
TOLERANCE = 1e-9


class SplitUsageError(UsageError):
    """Fractions that cannot be used (the CLI exits 2)."""


@dataclass(frozen=True)
class Fractions:
    """The share of each part; they must sum to 1 (within `TOLERANCE`)."""

    train: float = COURSE_FRACTIONS[0]
    test: float = COURSE_FRACTIONS[1]
    val: float = COURSE_FRACTIONS[2]

    def __post_init__(self) -> None:
        for name in PARTS:
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and 0 <= value <= 1):
                raise SplitUsageError(f"--{name} must be a fraction between 0 and 1, got {value!r}")
        total = self.train + self.test + self.val
        if abs(total - 1) > TOLERANCE:
            raise SplitUsageError(
                f"the fractions must sum to 1: --train {self.train} + --test {self.test} + --val {self.val} = {total:.10g}"
            )

    def counts(self, n: int) -> tuple[int, int, int]:
        """``(train, test, val)`` sizes for ``n`` items, computed as the course does: ``int(n * fraction)``
        for each part but the last, which takes the rest. A part of fraction 0 gets nothing, so the last
        part with a fraction above 0 takes the rest (``--val 0``: no validation item at all)."""
        used = self.used()
        sizes = [int(n * getattr(self, name)) if name in used[:-1] else 0 for name in PARTS]
        sizes[PARTS.index(used[-1])] = n - sum(sizes)
        return sizes[0], sizes[1], sizes[2]

    def used(self) -> tuple[str, ...]:
        """The parts with a fraction above 0, in order: the others get no item and no file."""
        return tuple(name for name in PARTS if getattr(self, name) > 0)


@dataclass
class Split:
    """The parts (each a list of items as compact JSON bytes, in output order) and the refused items."""

    train: list[bytes] = field(default_factory=list)
    test: list[bytes] = field(default_factory=list)
    val: list[bytes] = field(default_factory=list)
    refused: list[Item] = field(default_factory=list)
    read: int = 0
    seed: int | None = None

    def parts(self) -> dict[str, list[bytes]]:
        return {name: getattr(self, name) for name in PARTS}

    def counts(self) -> dict[str, int]:
        return {name: len(getattr(self, name)) for name in PARTS}


def split(items: Iterable[Item], fractions: Fractions | None = None, *, seed: int | None = None) -> Split:
    """Split ``items``: in file order, or shuffled with ``random.Random(seed)`` when ``seed`` is given."""
    fractions = fractions or Fractions()
    result = Split(seed=seed)
    kept: list[bytes] = []
    for item in items:
        result.read += 1
        if item.error is not None:
            result.refused.append(item)
            continue
        kept.append(encode(item.value))
    if seed is not None:
        random.Random(seed).shuffle(kept)
    train, test, _ = fractions.counts(len(kept))
    result.train = kept[:train]
    result.test = kept[train : train + test]
    result.val = kept[train + test :]
    if result.read != sum(result.counts().values()) + len(result.refused):  # nothing is lost (docs/architecture.md)
        raise AssertionError("split lost items")
    return result
