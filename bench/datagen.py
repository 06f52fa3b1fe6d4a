"""Realistic instruction records for the benchmarks, generated fast and reproducibly.

The records look like Alpaca-style data (DESIGN.md section 6 measures on ~660 bytes per record):
an instruction of one or two sentences, an input in ~40 % of the records (a passage, a list, a
snippet of code), an output of a few sentences to a few paragraphs with newlines, some non-ASCII
text (accents, CJK, emoji) so that JSON escaping is exercised. Records are composed from a pool of
sentences built once, so a million records take seconds, not minutes.

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

_WORDS = (
    "the model data training answer question language token sentence example result value list "
    "function number system network input output format prompt response instruction text file "
    "research method quickly carefully simple complex small large first second final important "
    "describe explain summarise translate classify rewrite generate compare evaluate compute "
    "because although however therefore while which where when how what why who city river "
    "energy water planet history music science health policy market customer product design "
    "café naïve résumé Zürich São 東京 数据 🙂 ✓"
).split()
_VERBS = ("Explain", "Describe", "Summarise", "Rewrite", "Classify", "Translate", "List", "Compare",
          "Write", "Generate", "Evaluate", "Identify", "Suggest", "Convert", "Edit")
_CODE = (
    "def add(a, b):\n    return a + b\n",
    "for i in range(10):\n    print(i * i)\n",
    "SELECT name, total FROM orders WHERE total > 100;",
    "const xs = [1, 2, 3].map(x => x * 2);",
)


def _sentence(rng: random.Random, low: int, high: int) -> str:
    words = rng.choices(_WORDS, k=rng.randint(low, high))
    return words[0].capitalize() + " " + " ".join(words[1:]) + rng.choice((".", ".", ".", "?", "!"))


class _Pool:
    def __init__(self, rng: random.Random, size: int = 4000) -> None:
        self.short = [_sentence(rng, 5, 12) for _ in range(size)]
        self.long = [_sentence(rng, 10, 24) for _ in range(size)]


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


def records(n: int, *, seed: int = 0) -> Iterator[dict[str, str]]:
    """``n`` records ``{instruction, input, output}``; the same ``seed`` gives the same records."""
    rng = random.Random(seed)
    pool = _Pool(rng)
    for _ in range(n):
        yield {"instruction": _instruction(rng, pool), "input": _input(rng, pool), "output": _output(rng, pool)}


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
    args = parser.parse_args()
    write = write_json_array if args.array else write_jsonl
    size = write(args.out, records(args.n, seed=args.seed))
    print(f"wrote {args.n} records, {size / 1e6:.1f} MB, to {args.out}")


if __name__ == "__main__":
    main()
