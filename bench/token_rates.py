"""How often a trained segment's boundary falls inside a token, per tokenizer, on the real datasets.

Runs `promptfmt tokenize`'s service (the conversion plan, then `promptfmt.tokens.tokenize`, nothing
written) over every dataset of the shared reference data that ``convert`` accepts, with each real
tokenizer of ``tokenizers/`` in its natural format(s), and prints a Markdown table per
tokenizer/format: items, tokens, trained tokens, and the rate of each finding (``token-boundary``,
``prefix-mismatch``, ``special-token-text``) per item (the share of items with one) and per trained
boundary (findings per start or end of a trained segment strictly inside the text: the only places
a token can straddle), then the quarantined items by reason. Below it, where each non-zero finding
comes from (dataset, count) and, with ``--examples N``, the first N findings in full.

    python bench/token_rates.py [--data ../shared/data] [--examples 3] [--pair gpt2:alpaca]

No timing: the figures are counts, the same on every machine.
"""

from __future__ import annotations

import argparse
import os
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from promptfmt.conversation import Message, RenderedConversation
from promptfmt.conversion import plan
from promptfmt.io import read_items
from promptfmt.plugins.registry import default_registry
from promptfmt.records.layouts import TOKENS
from promptfmt.tokens import IGNORE, Labeler, Tokenized, load_tokenizer, tokenize

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("PROMPTFMT_SHARED_DATA") or ROOT.parent / "shared" / "data")

# Every dataset convert accepts (some items may be quarantined), with the plan options it needs.
DATASETS: dict[str, dict[str, Any]] = {
    "alpaca_data_cleaned/gpteacher_roleplay-simple-deduped-roleplay-dataset.json": {},
    "alpaca_data_cleaned/gpteacher_toolformer-dedupe-only-dataset.json": {},
    "alpaca_data_cleaned/gsm_8k_train.json": {},
    "codealpaca/code_alpaca_2k.json": {},
    "codealpaca/new_codealpaca.json": {},
    "fastchat_sharegpt/dummy_conversation.json": {},
    "llama_factory_demo/alpaca_en_demo.json": {},
    "llama_factory_demo/alpaca_zh_demo.json": {},
    "llama_factory_demo/identity.json": {},
    "rasbt_llms_from_scratch_ch07/eval-example-data.json": {},
    "rasbt_llms_from_scratch_ch07/instruction-data-llama3-7b.json": {},
    "rasbt_llms_from_scratch_ch07/instruction-data-with-preference.json": {},
    "rasbt_llms_from_scratch_ch07/instruction-data-with-response.json": {},
    "rasbt_llms_from_scratch_ch07/instruction-data.json": {},
    "rasbt_llms_from_scratch_ch07/instruction-examples-modified.json": {},
    "rasbt_llms_from_scratch_ch07/instruction-examples.json": {},
    "torchtune_alpaca_tiny/alpaca_tiny.json": {},
    "unsloth_alpaca/alpaca_unsloth.json": {"swap_when_empty": True},  # 219 records keep the task in input
}
# The other files, and why no option makes convert accept them.
EXCLUDED: dict[str, str] = {
    "alpaca_data_cleaned/eval_template_alpaca.json": "a prompt template, not a dataset",
    "alpaca_data_cleaned/schema.json": "a JSON Schema, not a dataset",
    "codealpaca/seed_tasks.jsonl": "self-instruct seed tasks: the answers are in an 'instances' list",
    "stanford_alpaca/seed_tasks.jsonl": "self-instruct seed tasks: the answers are in an 'instances' list",
    "gpt4_llm/user_oriented_instructions.jsonl": "self-instruct tasks: the answers are in an 'instances' list",
    "gpt4_llm/vicuna_question_80.jsonl": "questions only ('text'), no answer to train on",
    "dolly_derived_triforce/dolly.jsonl": "'prompt' is a rendered Alpaca prompt without its newline and 'answer' "
                                          "no record field: neither --from nor --map reads it",
}
# Each real tokenizer with its natural format(s); the tiktoken rank file beside Llama's tokenizer.json.
PAIRS: list[tuple[str, str]] = [
    ("gpt2", "alpaca-llmfs"), ("gpt2", "alpaca"),
    ("Llama-3.2-1B-Instruct", "llama3.1"), ("Llama-3.2-1B-Instruct", "llama3"),
    ("Llama-3.2-1B-Instruct/original/tokenizer.model", "llama3.1"),
    ("Qwen2.5-0.5B-Instruct", "qwen2.5"), ("Phi-3.5-mini-instruct", "phi3"), ("Mistral-7B-Instruct-v0.3", "mistral-v3"),
]
CODES = ("token-boundary", "prefix-mismatch", "special-token-text")


@dataclass
class Tally:
    """What one tokenizer/format pair gave over the datasets."""

    items: int = 0
    tokens: int = 0
    trained: int = 0
    boundaries: int = 0
    findings: Counter[str] = field(default_factory=Counter)
    items_with: Counter[str] = field(default_factory=Counter)
    quarantined: Counter[str] = field(default_factory=Counter)
    where: defaultdict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    examples: defaultdict[str, list[str]] = field(default_factory=lambda: defaultdict(list))


class CountingLabeler(Labeler):
    """A `Labeler` that also counts, per item it tokenizes, the trained boundaries and findings."""

    def __init__(self, *args: Any, tally: Tally, examples: int, **options: Any) -> None:
        super().__init__(*args, **options)
        self.tally, self.examples, self.dataset = tally, examples, ""

    def tokenize(self, renderings: Sequence[tuple[RenderedConversation, Sequence[Message]]]) -> list[Tokenized]:
        results = super().tokenize(renderings)
        for (rendering, _), tokenized in zip(renderings, results):
            if any(label != IGNORE for label in tokenized.labels):  # else refused: nothing-to-train
                self._count(rendering, tokenized)
        return results

    def _count(self, rendering: RenderedConversation, tokenized: Tokenized) -> None:
        tally, length, at = self.tally, len(rendering.text), 0
        for segment in rendering.segments:
            end = at + len(segment.text)
            if segment.trainable and end > at:
                tally.boundaries += (0 < at < length) + (0 < end < length)
            at = end
        for code in {finding.code for finding in tokenized.findings}:
            tally.items_with[code] += 1
            tally.where[code][self.dataset] += 1
        for finding in tokenized.findings:
            tally.findings[finding.code] += 1
            shown = tally.examples[finding.code]
            if len(shown) < self.examples:
                shown.append(f"{self.dataset}: {finding.field}: {finding.message}")


def run_pair(data: Path, tokenizer_path: str, format_name: str, examples: int) -> Tally:
    registry = default_registry()
    fmt = registry.get(format_name)
    tally = Tally()
    labeler = CountingLabeler(load_tokenizer(str(data / "tokenizers" / tokenizer_path)), tally=tally,
                              examples=examples, append_eos=fmt.append_eos)
    for name, options in DATASETS.items():
        labeler.dataset = name
        chosen, items = plan(read_items(data / name), output_layout=TOKENS, target=fmt, registry=registry,
                             tokens=True, **options)
        summary = tokenize(chosen, items, lambda _: None, labeler, registry=registry)
        tally.items += summary.convert.written
        tally.tokens += summary.tokens
        tally.trained += summary.trained_tokens
        tally.quarantined.update(summary.convert.quarantined_by_code)
    return tally


def rate(count: int, total: int) -> str:
    return "0" if not count else f"{count:,} ({100 * count / total:.2f} %)" if total else f"{count:,}"


def table(rows: list[tuple[str, str, Tally]]) -> str:
    head = ["tokenizer", "format", "items", "tokens", "trained", "trained boundaries"]
    head += [f"{code} per item / per boundary" for code in CODES] + ["quarantined"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * 2 + "---:|" * (len(head) - 3) + "---|"]
    for tokenizer, fmt, t in rows:
        cells = [tokenizer, f"`{fmt}`", f"{t.items:,}", f"{t.tokens:,}", f"{t.trained:,}", f"{t.boundaries:,}"]
        cells += [f"{rate(t.items_with[code], t.items)} / {rate(t.findings[code], t.boundaries)}" for code in CODES]
        cells.append(", ".join(f"{code} {n:,}" for code, n in sorted(t.quarantined.items())) or "0")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def sources(rows: list[tuple[str, str, Tally]]) -> str:
    lines = []
    for tokenizer, fmt, t in rows:
        for code in CODES:
            if t.where[code]:
                found = ", ".join(f"{name} {n}" for name, n in t.where[code].most_common())
                lines.append(f"- {tokenizer} / `{fmt}`, {code} (items): {found}")
                lines += [f"  - {example}" for example in t.examples[code]]
    return "\n".join(lines) or "No finding on any dataset."


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA, help="the shared reference data folder")
    parser.add_argument("--examples", type=int, default=0, help="show the first N findings of each kind in full")
    parser.add_argument("--pair", action="append", metavar="TOKENIZER:FORMAT", help="only these pairs (repeatable)")
    options = parser.parse_args()
    pairs = [tuple(pair.split(":", 1)) for pair in options.pair] if options.pair else PAIRS
    rows = [(tokenizer, fmt, run_pair(options.data, tokenizer, fmt, options.examples)) for tokenizer, fmt in pairs]
    print(f"{len(DATASETS)} datasets of {options.data} (not: {', '.join(sorted(EXCLUDED))}), --train-on assistant\n")
    print(table(rows))
    print()
    print(sources(rows))


if __name__ == "__main__":
    main()
