"""Realistic instruction records for the benchmarks, generated fast and reproducibly.

The records look like Alpaca-style data, ~660 bytes per record (the size the speed figures use):
an instruction of one or two sentences, an input in ~40 % of the records (a passage, a list, a
snippet of code), an output of a few sentences to a few paragraphs with newlines. Records are
composed from a pool of sentences built once, so a million records take seconds, not minutes.

Non-ASCII text (accents, CJK, emoji) is as frequent as in the real English datasets of
``../shared/data``, where 90-100 % of the records are plain ASCII (alpaca_tiny 90 %, the
LLMs-from-scratch data 96 %, code_alpaca 98 %; records with an emoji: 0-2 %): ``mix="realistic"``
(the default) puts non-ASCII words in 8 % of the records, an emoji in 1 %. ``mix="heavy"`` puts
them in nearly every record (99 %, 60 % with an emoji, like a non-English dataset): Python
stores such text with 2 or 4 bytes a character, which makes decoding, string building and
encoding slower, for every tool.

    from datagen import records, write_jsonl, write_json_array
    write_jsonl("data.jsonl", records(1_000_000, seed=0))

Run as a script: ``python bench/datagen.py OUT N [--array]``.
"""

from __future__ import annotations

import argparse
import json
import random
from collections.abc import Iterable, Iterator
from pathlib import Path

_WORDS = ["the", "model", "data", "training", "answer", "question", "language", "token", "sentence", "example", "result", "value", "list", "function", "number", "system", "network", "input", "output", "format", "prompt", "response", "instruction", "text", "file", "research", "method", "quickly", "carefully", "simple", "complex", "small", "large", "first", "second", "final", "important", "describe", "explain", "summarise", "translate", "classify", "rewrite", "generate", "compare", "evaluate", "compute", "because", "although", "however", "therefore", "while", "which", "where", "when", "how", "what", "why", "who", "city", "river", "energy", "water", "planet", "history", "music", "science", "health", "policy", "market", "customer", "product", "design"]
_NON_ASCII = ("café", "naïve", "résumé", "Zürich", "São", "東京", "数据", "✓")
_EMOJI = "🙂"
MIXES = {"realistic": (0.08, 0.01), "heavy": (None, None)}  # (records with non-ASCII, with an emoji)
_VERBS = ("Explain", "Describe", "Summarise", "Rewrite", "Classify", "Translate", "List", "Compare",
          "Write", "Generate", "Evaluate", "Identify", "Suggest", "Convert", "Edit")
_CODE = (
    "def add(a, b):\n    return a + b\n",
    "for i in range(10):\n    print(i * i)\n",
    "SELECT name, total FROM orders WHERE total > 100;",
    "const xs = [1, 2, 3].map(x => x * 2);",
)


def _sentence(rng: random.Random, low: int, high: int, words: tuple[str, ...] | list[str] = _WORDS) -> str:
    chosen = rng.choices(words, k=rng.randint(low, high))
    return chosen[0].capitalize() + " " + " ".join(chosen[1:]) + rng.choice((".", ".", ".", "?", "!"))


class _Pool:
    def __init__(self, rng: random.Random, size: int = 4000, heavy: bool = False) -> None:
        words = [*_WORDS, *_NON_ASCII, _EMOJI] if heavy else _WORDS  # heavy: as the first version of this file
        self.short = [_sentence(rng, 5, 12, words) for _ in range(size)]
        self.long = [_sentence(rng, 10, 24, words) for _ in range(size)]
        self.accented = [_sentence(rng, 5, 12, [*_WORDS, *_NON_ASCII * 4]) for _ in range(size // 10)]


def _instruction(rng: random.Random, pool: _Pool) -> str:
    head = f"{rng.choice(_VERBS)} {rng.choice(pool.short)[:-1].lower()}."
    return head if rng.random() < 0.6 else f"{head} {rng.choice(pool.short)}"


def _input(rng: random.Random, pool: _Pool) -> str:
    kind = rng.random()
    if kind < 0.6:  # no input, as in ~60 % of Alpaca records
        return ""
    if kind < 0.75:
        return rng.choice(_CODE)
    if kind < 0.85:
        return "\n".join(f"- {rng.choice(pool.short)}" for _ in range(rng.randint(2, 5)))
    return " ".join(rng.choices(pool.long, k=rng.randint(1, 4)))


def _output(rng: random.Random, pool: _Pool) -> str:
    paragraphs = [" ".join(rng.choices(pool.long, k=rng.randint(1, 4))) for _ in range(rng.randint(1, 2))]
    if rng.random() < 0.1:
        paragraphs.append("```python\n" + rng.choice(_CODE) + "```")
    return "\n\n".join(paragraphs)


def records(n: int, *, seed: int = 0, mix: str = "realistic") -> Iterator[dict[str, str]]:
    """``n`` records ``{instruction, input, output}``; the same ``seed`` and ``mix`` give the same records."""
    rng = random.Random(seed)
    non_ascii, emoji = MIXES[mix]
    pool = _Pool(rng, heavy=mix == "heavy")
    for _ in range(n):
        record = {"instruction": _instruction(rng, pool), "input": _input(rng, pool), "output": _output(rng, pool)}
        if non_ascii is not None and rng.random() < non_ascii:
            extra = rng.choice(pool.accented)
            if rng.random() < emoji / non_ascii:
                extra = extra[:-1] + " " + _EMOJI + extra[-1]
            record["output"] = record["output"] + " " + extra
        yield record


def write_jsonl(path: str | Path, items: Iterable[dict]) -> int:
    """Write one JSON object per line; returns the number of bytes written."""
    with open(path, "w", encoding="utf-8") as out:
        for item in items:
            out.write(json.dumps(item, ensure_ascii=False))
            out.write("\n")
        return out.tell()


def write_json_array(path: str | Path, items: Iterable[dict]) -> int:
    """Write one JSON array, one record per line (streamed: the list is never held in memory)."""
    with open(path, "w", encoding="utf-8") as out:
        out.write("[\n")
        for number, item in enumerate(items):
            if number:
                out.write(",\n")
            out.write(json.dumps(item, ensure_ascii=False))
        out.write("\n]\n")
        return out.tell()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("n", type=int)
    parser.add_argument("--array", action="store_true", help="write a JSON array instead of JSON Lines")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--mix", choices=sorted(MIXES), default="realistic", help="how much non-ASCII text")
    args = parser.parse_args()
    write = write_json_array if args.array else write_jsonl
    size = write(args.out, records(args.n, seed=args.seed, mix=args.mix))
    print(f"wrote {args.n} records, {size / 1e6:.1f} MB, to {args.out}")


if __name__ == "__main__":
    main()
