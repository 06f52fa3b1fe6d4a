"""Tokenizing a dataset for training: the conversion pipeline renders each item (reading, mapping,
validation and quarantine are convert's), then `Labeler` turns the renderings into ids and labels,
a batch at a time (the tokenizer encodes a batch on every core).

Nothing is lost: an item that cannot be trained on as it is (more tokens than ``max_length`` with
trained tokens past it, or no trained token at all) is quarantined with its reason, never cut
silently; ``read == written + quarantined`` holds as for convert (docs/tokens.md, "Length").
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from ..conversion import ConvertSummary, run
from ..conversion.plan import Plan
from ..conversion.service import Progress, Quarantine
from ..io import Item
from ..plugins import FormatRegistry
from ..records.builders import RenderingItem
from ..validation.issues import ERROR, WARNING, Issue
from .labels import IGNORE, Finding, Labeler, Tokenized

BATCH = 1024  # renderings per encode_batch call: large enough for the tokenizer's threads, small for memory
KEPT_FINDINGS = 100  # findings kept with their location for the report; all are counted


@dataclass
class TokenizeSummary:
    """The conversion's counts, and the tokens'."""

    convert: ConvertSummary
    tokenizer: str
    train_on: str
    max_length: int | None
    tokens: int = 0
    trained_tokens: int = 0
    longest: int = 0
    findings: Counter[str] = field(default_factory=Counter)
    shown: list[Issue] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.convert.ok

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.convert.as_dict(),
            "tokenizer": self.tokenizer,
            "train_on": self.train_on,
            "max_length": self.max_length,
            "tokens": self.tokens,
            "trained_tokens": self.trained_tokens,
            "longest": self.longest,
            "findings": dict(sorted(self.findings.items())),
            "first_findings": [issue.as_dict() for issue in self.shown],
        }


def tokenize(
    plan: Plan,
    items: Iterable[Item],
    write: Callable[[dict[str, Any]], None],
    labeler: Labeler,
    *,
    max_length: int | None = None,
    quarantine: Quarantine | None = None,
    progress: Progress | None = None,
    registry: FormatRegistry | None = None,
    batch: int = BATCH,
) -> TokenizeSummary:
    """Render ``items`` as ``plan`` says (its output layout is ``tokens``), tokenize them with
    ``labeler`` and hand each output item (ids, labels, attention mask, then metadata) to ``write``."""
    summary = TokenizeSummary(ConvertSummary.of(plan), labeler.tokenizer.path, labeler.train_on, max_length)
    batcher = _Batcher(labeler, write, quarantine, max_length, summary, batch)
    converted = run(plan, items, batcher.add, quarantine=quarantine, progress=progress, registry=registry, with_item=True)
    batcher.flush()
    summary.convert = converted
    converted.written -= batcher.refused
    converted.quarantined += batcher.refused
    converted.quarantined_by_code.update(batcher.refused_by_code)
    return summary


class _Batcher:
    """Collects rendered items, tokenizes them a batch at a time, writes or refuses each."""

    def __init__(self, labeler: Labeler, write: Callable[[dict[str, Any]], None], quarantine: Quarantine | None,
                 max_length: int | None, summary: TokenizeSummary, size: int) -> None:
        self.labeler, self.write, self.quarantine = labeler, write, quarantine
        self.max_length, self.summary, self.size = max_length, summary, size
        self.pending: list[tuple[Item, RenderingItem]] = []
        self.refused = 0
        self.refused_by_code: Counter[str] = Counter()

    def add(self, item: Item, rendering: RenderingItem) -> None:
        self.pending.append((item, rendering))
        if len(self.pending) >= self.size:
            self.flush()

    def flush(self) -> None:
        pending, self.pending = self.pending, []
        if not pending:
            return
        done = self.labeler.tokenize([(rendering.rendered, rendering.messages) for _, rendering in pending])
        for (item, rendering), tokenized in zip(pending, done):
            self._one(item, rendering, tokenized)

    def _one(self, item: Item, metadata: RenderingItem, tokenized: Tokenized) -> None:
        summary = self.summary
        fitted, problem = fit(tokenized, self.max_length)
        if problem is not None:
            self._refuse(item, Issue(problem.code, ERROR, item.index, item.line, problem.field, problem.message))
            return
        for finding in fitted.findings:
            summary.findings[finding.code] += 1
            if len(summary.shown) < KEPT_FINDINGS:
                summary.shown.append(Issue(finding.code, WARNING, item.index, item.line, finding.field, finding.message))
        ids = fitted.input_ids
        summary.tokens += len(ids)
        summary.trained_tokens += len(ids) - fitted.labels.count(IGNORE)
        summary.longest = max(summary.longest, len(ids))
        output = fitted.as_dict()
        output.update(metadata)
        self.write(output)

    def _refuse(self, item: Item, issue: Issue) -> None:
        self.refused += 1
        self.refused_by_code[issue.code] += 1
        if self.quarantine is not None:
            self.quarantine(item, [issue])


def fit(tokenized: Tokenized, max_length: int | None) -> tuple[Tokenized, Finding | None]:
    """The item as it is written, or why it cannot be trained on (it is refused, never cut into a
    lesser example): the labeler's refusal (``not-encodable``); over ``max_length`` tokens with trained
    tokens past it (``too-many-tokens``; when every token past the limit is untrained the item is cut,
    with a ``cut-to-max-length`` finding); no trained token at all (``nothing-to-train``)."""
    if tokenized.refused is not None:
        return tokenized, tokenized.refused
    size = len(tokenized.input_ids)
    if max_length is not None and size > max_length:
        if any(label != IGNORE for label in tokenized.labels[max_length:]):
            trained = max(index for index, label in enumerate(tokenized.labels) if label != IGNORE) + 1
            return tokenized, Finding("too-many-tokens", "$", f"{size} tokens, over --max-length {max_length} by "
                                      f"{size - max_length}, and its trained tokens run to token {trained}: raise "
                                      "--max-length, or shorten or drop the item (it is never cut silently)")
        finding = Finding("cut-to-max-length", "$", f"{size} tokens cut to {max_length}: the {size - max_length} "
                          "cut are all untrained")
        tokenized = Tokenized(tokenized.input_ids[:max_length], tokenized.labels[:max_length],
                              (*tokenized.findings, finding))
    if not tokenized.trained:
        return tokenized, Finding("nothing-to-train", "$", "no token is trained: the conversation ends with a user "
                                  "message, or --train-on leaves nothing; drop the item or end it with an answer")
    return tokenized, None
