"""Benchmark: tokens and loss masks with promptfmt beside a plain loop of the same tokenizer, same records.

Builds N real-looking Alpaca records (100,000 by default) from the real Alpaca-style datasets of
``../shared/data`` (the LLMs-from-scratch data, alpaca_tiny, LLaMA-Factory's English demo, Code
Alpaca, Unsloth's sample, GPTeacher, GSM8K), cycled; every copy after the first is perturbed (words
of the output swapped, a prefix on the instruction) so that no text repeats. For each tokenizer and
format (GPT-2 with ``alpaca-llmfs``, the course's; Qwen2.5 with ``qwen2.5``) it times:

* the baseline (bench/tokenize_baseline.py): an f-string template renders each prompt and full
  text, the same ``tokenizers.Tokenizer`` encodes both with ``encode_batch``, 1,000 at a time, and
  the labels are ``[-100] * len(prompt_ids) + ids[len(prompt_ids):]`` (+ EOS for the course's format);
* in this process: the library, ``tokenize_batch`` on column batches of 1,000 (rendering and
  labelling, as ``datasets.map(batched=True)`` calls it), without and with the prefix check, and
  `Labeler.tokenize` alone over renderings made beforehand;
* end to end, each in its own process, from a JSON Lines file to a JSON Lines file: the baseline
  reading and writing with orjson, and ``promptfmt tokenize`` (default, with the prefix check, and
  ``--no-prefix-check``).

First, on a sample, it checks that both give equal ids and labels, in the library and in the
output files: the comparison is fair. Times are the best of ``--repeat`` interleaved rounds; a
ratio is the median over the rounds of that round's baseline time divided by the run's time (> 1:
faster than the baseline). Tokens/s counts the ``input_ids`` written. In-process runs are timed with
the garbage collector off, as ``timeit`` does. The load average is printed before and after (the
machine may be shared).

    python bench/bench_tokenize.py [--records N] [--repeat R] [--workdir bench/out]

A benchmark, not a test: figures depend on the machine (the README names the one it ran on).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import tokenize_baseline  # noqa: E402
from bench_convert import measure  # noqa: E402

PYTHON = sys.executable
PROMPTFMT = str(Path(sys.executable).with_name("promptfmt"))
DATA = HERE.parent.parent / "shared" / "data"
SOURCES = (
    "rasbt_llms_from_scratch_ch07/instruction-data.json", "torchtune_alpaca_tiny/alpaca_tiny.json",
    "llama_factory_demo/alpaca_en_demo.json", "codealpaca/code_alpaca_2k.json", "unsloth_alpaca/alpaca_unsloth.json",
    "alpaca_data_cleaned/gpteacher_toolformer-dedupe-only-dataset.json",
    "alpaca_data_cleaned/gpteacher_roleplay-simple-deduped-roleplay-dataset.json", "alpaca_data_cleaned/gsm_8k_train.json",
)
# (name, tokenizer folder, promptfmt format = baseline template)
CASES = (("GPT-2", "gpt2", "alpaca-llmfs"), ("Qwen2.5", "Qwen2.5-0.5B-Instruct", "qwen2.5"))
PREFIXES = ("", "", "Please: ", "Task: ", "Now, ")
SAMPLE = 3000
BATCH = tokenize_baseline.BATCH


def real_records() -> list[dict[str, str]]:
    """The records of the shared Alpaca-style datasets that every tool takes: strings, an instruction
    and an output."""
    pool = []
    for name in SOURCES:
        for record in json.loads((DATA / name).read_text("utf-8")):
            fields = {key: record.get(key) or "" for key in ("instruction", "input", "output")}
            if all(isinstance(value, str) for value in fields.values()) and fields["instruction"] and fields["output"]:
                pool.append(fields)
    return pool


def records(n: int, seed: int) -> list[dict[str, str]]:
    """``n`` records: the real ones cycled, each copy after the first perturbed."""
    pool, rng = real_records(), random.Random(seed)
    out = []
    for number in range(n):
        record = pool[number % len(pool)]
        if number >= len(pool):
            words = record["output"].split(" ")
            if len(words) > 3:
                a, b = rng.randrange(len(words)), rng.randrange(len(words))
                words[a], words[b] = words[b], words[a]
            record = {"instruction": rng.choice(PREFIXES) + record["instruction"], "input": record["input"],
                      "output": " ".join(words)}
        out.append(record)
    return out


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    with open(path, "w", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    return path


def columns(rows: list[dict[str, str]]) -> list[dict[str, list[str]]]:
    """The records as column batches of 1,000, as ``datasets.map(batched=True)`` passes them."""
    return [{key: [row[key] for row in rows[at:at + BATCH]] for key in ("instruction", "input", "output")}
            for at in range(0, len(rows), BATCH)]


class Case:
    """One tokenizer and format: the runs in this process, and the commands end to end."""

    def __init__(self, name: str, folder: str, fmt: str) -> None:
        from tokenizers import Tokenizer

        from promptfmt.tokens import load_tokenizer

        self.name, self.fmt = name, fmt
        self.folder = str(DATA / "tokenizers" / folder)
        self.tokenizer = load_tokenizer(self.folder)
        self.backend = Tokenizer.from_file(f"{self.folder}/tokenizer.json")

    def baseline(self, rows: list[dict[str, str]]) -> list[dict[str, Any]]:
        return list(tokenize_baseline.tokenize(rows, self.backend, self.fmt, self.tokenizer.eos))

    def library(self, batches: list[dict[str, list[str]]], check_prefix: bool) -> list[dict[str, Any]]:
        from promptfmt.tokens.batch import tokenize_batch

        function = partial(tokenize_batch, format=self.fmt, tokenizer=self.tokenizer, check_prefix=check_prefix)
        out = []
        for batch in batches:
            done = function(batch)
            out += [dict(zip(done, values)) for values in zip(*done.values())]
        return out

    def renderings(self, rows: list[dict[str, str]]) -> list[list[Any]]:
        from promptfmt.batch import resolve_format
        from promptfmt.conversion.stages import one_turn_of

        fmt = resolve_format(self.fmt)
        one_turn = one_turn_of(fmt)
        conversations = [one_turn(row["instruction"], row["input"], row["output"]) for row in rows]
        rendered = [(fmt.render_conversation(c), c.messages) for c in conversations]
        return [rendered[at:at + BATCH] for at in range(0, len(rendered), BATCH)]

    def labeler(self, batches: list[list[Any]]) -> int:
        from promptfmt.batch import resolve_format
        from promptfmt.tokens import Labeler

        labeler = Labeler(self.tokenizer, append_eos=resolve_format(self.fmt).append_eos, check_prefix=False)
        return sum(len(t.input_ids) for batch in batches for t in labeler.tokenize(batch))

    def commands(self, source: Path, out: Path) -> list[tuple[str, list[str]]]:
        base = [PYTHON, str(HERE / "tokenize_baseline.py"), str(source), str(out), "--template", self.fmt,
                "--tokenizer", f"{self.folder}/tokenizer.json"]
        if self.tokenizer.eos is not None:
            base += ["--eos", str(self.tokenizer.eos)]
        cli = [PROMPTFMT, "tokenize", str(source), "-o", str(out), "-f", self.fmt, "-t", self.folder, "-q"]
        return [("baseline loop, orjson JSONL in and out", base), ("promptfmt tokenize (prefix check)", cli),
                ("promptfmt tokenize --no-prefix-check", [*cli, "--no-prefix-check"])]


def check_equal(case: Case, rows: list[dict[str, str]], workdir: Path) -> str:
    """On a sample, the library and the CLI give the baseline's ids and labels; they may differ only
    where the baseline's prompt ids do not begin its full text's ids (a token straddles the prompt's
    end: the baseline masks it, promptfmt trains it and reports token-boundary)."""
    expected = case.baseline(rows)
    render = tokenize_baseline.TEMPLATES[case.fmt][0]

    def straddling(got: list[dict[str, Any]], what: str) -> list[int]:
        if len(got) != len(expected):
            raise SystemExit(f"{case.name}: {what} gives {len(got)} items for {len(expected)}")
        found = []
        for index in (index for index, (a, b) in enumerate(zip(got, expected)) if a != b):
            prompt, text = (e.ids for e in case.backend.encode_batch(list(render(rows[index])), add_special_tokens=False))
            if got[index]["input_ids"] != expected[index]["input_ids"] or text[:len(prompt)] == prompt:
                raise SystemExit(f"{case.name}: {what} and the baseline differ at record {index}: {rows[index]!r}; "
                                 "the benchmark would be unfair")
            found.append(index)
        return found

    straddled = straddling(case.library(columns(rows), False), "tokenize_batch")
    straddling(case.library(columns(rows), True), "tokenize_batch with check_prefix")
    source, out = write_jsonl(workdir / "tokenize-sample.jsonl", rows), workdir / "tokenize-sample-out.jsonl"
    for name, command in case.commands(source, out)[:2]:
        subprocess.run(command, check=True, stderr=subprocess.DEVNULL)
        written = [json.loads(line) for line in out.read_text("utf-8").splitlines()]
        if straddling(written, name) != (straddled if name.startswith("promptfmt") else []):
            raise SystemExit(f"{case.name}: {name} and the library differ")
    source.unlink()
    out.unlink()
    return (f"equal ids and labels on {len(rows) - len(straddled):,} of {len(rows):,} records; {len(straddled)} with a "
            "token straddling the prompt's end, masked by the baseline, trained by promptfmt (token-boundary)")


def timed(function: Callable[[], Any]) -> float:
    """Seconds ``function`` takes, with the garbage collector off, as ``timeit`` does: this process
    holds every record and rendering, which each collection would scan (a process of the CLI
    streams and holds few)."""
    gc.collect()
    gc.disable()
    try:
        started = time.perf_counter()
        function()
        return time.perf_counter() - started
    finally:
        gc.enable()


def run_case(case: Case, rows: list[dict[str, str]], source: Path, workdir: Path, repeat: int) -> None:
    batches, renderings = columns(rows), case.renderings(rows)
    tokens = sum(len(item["input_ids"]) for item in case.baseline(rows))
    out = workdir / "tokenize-out.jsonl"
    library = [
        ("baseline loop (f-string, encode_batch x2, masking)", lambda: case.baseline(rows)),
        ("promptfmt tokenize_batch (render + label)", lambda: case.library(batches, False)),
        ("promptfmt tokenize_batch, check_prefix=True", lambda: case.library(batches, True)),
        ("promptfmt Labeler.tokenize alone (renderings made before)", lambda: case.labeler(renderings)),
    ]
    commands = case.commands(source, out)
    times: dict[str, list[float]] = {}
    for round in range(repeat):
        for name, function in library:
            times.setdefault(name, []).append(timed(function))
        for name, command in commands:
            out.unlink(missing_ok=True)
            times.setdefault(name, []).append(measure(name, command).seconds)
        print(f"  round {round + 1}: " + ", ".join(f"{t[-1]:.1f}" for t in times.values()) + " s", flush=True)
    out.unlink(missing_ok=True)
    print(f"\n{case.name} ({case.fmt}): {len(rows):,} records, {tokens:,} tokens; best of {repeat} round(s); "
          "ratio: median over the rounds of the round's baseline time / the run's time")
    width = max(len(name) for name in times)
    print(f"{'run':<{width}}  {'s':>6}  {'tokens/s':>10}  {'vs baseline':>11}")
    for group in (library, commands):
        first = times[group[0][0]]
        for name, _ in group:
            ratio = statistics.median(b / t for b, t in zip(first, times[name]))
            print(f"{name:<{width}}  {min(times[name]):>6.2f}  {tokens / min(times[name]):>10,.0f}  {ratio:>10.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=3, help="interleaved rounds (ratios: the median over the rounds)")
    parser.add_argument("--workdir", type=Path, default=HERE / "out")
    parser.add_argument("--only", choices=[name for name, _, _ in CASES], help="one tokenizer only")
    args = parser.parse_args()
    if not DATA.is_dir():
        raise SystemExit(f"the shared data is not at {DATA}: this benchmark tokenizes its records with its tokenizers")
    args.workdir.mkdir(parents=True, exist_ok=True)
    rows = records(args.records, args.seed)
    source = write_jsonl(args.workdir / f"tokenize-{args.records}-seed{args.seed}.jsonl", rows)
    print(f"machine: {os.cpu_count()} CPUs, {platform.processor() or platform.machine()}, Python "
          f"{platform.python_version()}; input: {len(rows):,} records from {len(real_records()):,} real ones, "
          f"{source.stat().st_size / 1e6:,.0f} MB JSONL; load average {os.getloadavg()[0]:.1f}", flush=True)
    for name, folder, fmt in CASES:
        if args.only and name != args.only:
            continue
        case = Case(name, folder, fmt)
        sample = random.Random(args.seed).sample(rows, min(SAMPLE, len(rows)))
        print(f"checked: {name}: promptfmt (library and CLI) and the baseline: "
              f"{check_equal(case, sample, args.workdir)}", flush=True)
        run_case(case, rows, source, args.workdir, args.repeat)
    source.unlink()
    print(f"\nload average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
