"""Benchmark: ``promptfmt convert`` to and from Parquet beside Hugging Face ``datasets``, same records.

Generates N realistic Alpaca records (bench/datagen.py; 1,000,000 by default) once, as Parquet (row
groups of 100,000 rows) and as JSON Lines, and N conversations (1 to 3 user/assistant turns, the
same texts) as Parquet with a ``messages`` column; then runs, each in its own process, in
interleaved rounds:

* Parquet -> JSON Lines, Stanford Alpaca text: the baseline (bench/datasets_baseline.py:
  ``load_dataset("parquet", data_files=IN, split="train")``, ``.map`` a hand-written
  ``PROMPT_DICT`` template into a ``text`` column, ``.to_json(OUT, lines=True)``), the same with
  ``batched=True``, and ``promptfmt convert IN.parquet -o OUT.jsonl --to alpaca``;
* JSON Lines -> Parquet, the same text: ``load_dataset("json", ...)``, ``.map``, ``.to_parquet``
  beside ``promptfmt convert IN.jsonl -o OUT.parquet --to alpaca`` (default ``--workers auto``
  and ``--workers 1``);
* JSON Lines -> Parquet, the records unchanged: ``load_dataset("json", ...).to_parquet`` beside
  ``promptfmt convert IN.jsonl -o OUT.parquet``;
* conversations, Parquet -> JSON Lines, plain ChatML text: ``.map`` of a hand-written ChatML loop
  beside ``promptfmt convert IN.parquet -o OUT.jsonl --to chatml``.

Every baseline run gets a new, empty ``HF_DATASETS_CACHE`` (removed afterwards, untimed) and runs
offline: ``datasets`` turns every input into an Arrow file in its cache first, and a user pays
that the first time. Before timing, on a 2,000-record sample, and after the last round, on all
N records, it reads both outputs of every pair back and checks they hold the same records: the
comparison is fair. For each run it prints wall time (the best round), CPU time of the process
tree, records/s, peak RSS of the process tree (sampled every 20 ms; the largest single process in
parentheses) and the speed ratio to the first run of its group: the median over the rounds of that
round's baseline time divided by the run's time (> 1: faster than the baseline). The load average
is printed before and after (the machine may be shared). Outputs are removed once checked; the
generated inputs are kept in the work folder for reuse.

    python bench/bench_parquet.py [--records N] [--repeat R] [--workdir bench/out]

A benchmark, not a test: figures depend on the machine (the README names the one it ran on).
"""

from __future__ import annotations

import argparse
import importlib.util
import itertools
import json
import multiprocessing
import os
import platform
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_convert import Result, measure  # noqa: E402
from datagen import records  # noqa: E402

PYTHON = sys.executable
PROMPTFMT = str(Path(sys.executable).with_name("promptfmt"))
BASELINE = str(HERE / "datasets_baseline.py")
ROW_GROUP = 100_000


def in_child(function: Callable[..., Any], *args: object) -> Any:
    """``function(*args)`` in a new interpreter: this process stays small, since a process started
    from it inherits its peak RSS (``wait4`` would count it for every run)."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(function, *args).result()


def generate(n: int, seed: int, workdir: Path) -> tuple[Path, Path, Path]:
    """``n`` Alpaca records as Parquet and JSON Lines, and ``n`` conversations as Parquet (reused)."""
    return in_child(_generate, n, seed, workdir)


def _generate(n: int, seed: int, workdir: Path) -> tuple[Path, Path, Path]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    stem = workdir / f"parquet-{n}-seed{seed}"
    jsonl, table, chat = Path(f"{stem}.jsonl"), Path(f"{stem}.parquet"), Path(f"{stem}-chat.parquet")
    if jsonl.exists() and table.exists() and chat.exists():
        return jsonl, table, chat
    workdir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    rng = random.Random(seed)
    texts = [(r["instruction"] + ("\n" + r["input"] if r["input"] else ""), r["output"])
             for r in records(max(1000, min(n, 100_000) // 10), seed=seed + 7)]
    alpaca_writer = chat_writer = None
    with open(f"{jsonl}.part", "w", encoding="utf-8") as lines:
        batch: list[dict] = []
        for number, record in enumerate(records(n, seed=seed), 1):
            lines.write(json.dumps(record, ensure_ascii=False) + "\n")
            batch.append(record)
            if len(batch) == ROW_GROUP or number == n:
                rows = pa.Table.from_pylist(batch)
                alpaca_writer = alpaca_writer or pq.ParquetWriter(f"{table}.part", rows.schema)
                alpaca_writer.write_table(rows)
                talks = pa.Table.from_pylist([{"messages": _conversation(rng, texts)} for _ in batch])
                chat_writer = chat_writer or pq.ParquetWriter(f"{chat}.part", talks.schema)
                chat_writer.write_table(talks)
                batch = []
    for writer in (alpaca_writer, chat_writer):
        if writer is not None:
            writer.close()
    for path in (jsonl, table, chat):
        os.replace(f"{path}.part", path)
    print(f"generated {n:,} records in {time.perf_counter() - started:.0f} s: "
          f"{jsonl.stat().st_size / 1e6:,.0f} MB JSONL, {table.stat().st_size / 1e6:,.0f} MB Parquet, "
          f"{chat.stat().st_size / 1e6:,.0f} MB Parquet of conversations", flush=True)
    return jsonl, table, chat


def _conversation(rng: random.Random, texts: list[tuple[str, str]]) -> list[dict[str, str]]:
    messages = []
    for _ in range(rng.randint(1, 3)):
        question, answer = texts[rng.randrange(len(texts))]
        messages += [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]
    return messages


def read_rows(path: Path) -> Iterator[dict]:
    """The records of a JSON Lines or Parquet output, one at a time (memory stays flat)."""
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        for batch in pq.ParquetFile(path).iter_batches(batch_size=10_000):
            yield from batch.to_pylist()
    else:
        with path.open(encoding="utf-8") as lines:
            for line in lines:
                yield json.loads(line)


def same_rows(first: Path, second: Path) -> str | None:
    """None when both files hold the same records in the same order, else the first difference."""
    count = 0
    for count, (a, b) in enumerate(itertools.zip_longest(read_rows(first), read_rows(second)), 1):
        if a != b:
            return f"record {count} differs: {json.dumps(a)[:200]} != {json.dumps(b)[:200]}"
    return None if count else "both outputs are empty"


def groups(jsonl: Path, table: Path, chat: Path, out: Path) -> list[tuple[str, list[tuple[str, list[str], Path]]]]:
    """The runs, by group; the first run of a group is the baseline its ratios are taken against."""
    convert = [PROMPTFMT, "convert", "-q"]
    to_jsonl, to_parquet = Path(f"{out}.jsonl"), Path(f"{out}.parquet")

    def baseline(source: Path, target: Path, *options: str) -> list[str]:
        return [PYTHON, BASELINE, str(source), str(target), "{cache}", *options]

    return [
        ("Parquet -> JSON Lines, Stanford Alpaca text", [
            ("baseline: datasets load_dataset('parquet') .map .to_json", baseline(table, to_jsonl), to_jsonl),
            ("baseline, .map(batched=True)", baseline(table, to_jsonl, "--batched"), to_jsonl),
            ("promptfmt convert IN.parquet -o OUT.jsonl --to alpaca",
             [*convert, str(table), "-o", str(to_jsonl), "--to", "alpaca"], to_jsonl),
        ]),
        ("JSON Lines -> Parquet, Stanford Alpaca text", [
            ("baseline: datasets load_dataset('json') .map .to_parquet", baseline(jsonl, to_parquet), to_parquet),
            ("baseline, .map(batched=True)", baseline(jsonl, to_parquet, "--batched"), to_parquet),
            ("promptfmt convert IN.jsonl -o OUT.parquet --to alpaca (-w auto)",
             [*convert, str(jsonl), "-o", str(to_parquet), "--to", "alpaca"], to_parquet),
            ("promptfmt convert ... --to alpaca --workers 1",
             [*convert, str(jsonl), "-o", str(to_parquet), "--to", "alpaca", "--workers", "1"], to_parquet),
        ]),
        ("JSON Lines -> Parquet, records unchanged", [
            ("baseline: datasets load_dataset('json') .to_parquet", baseline(jsonl, to_parquet, "--style", "none"),
             to_parquet),
            ("promptfmt convert IN.jsonl -o OUT.parquet (-w auto)", [*convert, str(jsonl), "-o", str(to_parquet)],
             to_parquet),
        ]),
        ("conversations, Parquet -> JSON Lines, ChatML text", [
            ("baseline: datasets load_dataset('parquet') .map .to_json", baseline(chat, to_jsonl, "--style", "chatml"),
             to_jsonl),
            ("promptfmt convert IN.parquet -o OUT.jsonl --to chatml",
             [*convert, str(chat), "-o", str(to_jsonl), "--to", "chatml"], to_jsonl),
        ]),
    ]


def run_one(name: str, command: list[str], target: Path, workdir: Path, keep: Path | None = None) -> Result:
    """One run, into a new output file; a baseline in a new, empty datasets cache (removed after)."""
    target.unlink(missing_ok=True)  # every run writes a new file (replacing one costs time)
    cache = tempfile.mkdtemp(prefix="hf-cache-", dir=workdir)
    try:
        result = measure(name, [part.replace("{cache}", cache) for part in command])
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    if keep is not None:
        os.replace(target, keep)
    return result


def check(all_groups: list, workdir: Path, what: str) -> None:
    """Every run of a group writes the records its baseline writes (outputs kept by `run_one`)."""
    for title, runs in all_groups:
        first = workdir / f"check-0{runs[0][2].suffix}"
        for index in range(1, len(runs)):
            problem = in_child(same_rows, first, workdir / f"check-{index}{runs[index][2].suffix}")
            if problem:
                raise SystemExit(f"{title}: {runs[index][0]} does not write the baseline's records ({what}): "
                                 f"{problem}; the benchmark would be unfair")
        for index, (_, _, target) in enumerate(runs):
            (workdir / f"check-{index}{target.suffix}").unlink()
    print(f"checked: {', '.join(title for title, _ in all_groups)}: promptfmt writes exactly the baseline's "
          f"records ({what})", flush=True)


def check_sample(workdir: Path, seed: int) -> None:
    sample = groups(*generate(2000, seed + 1, workdir), workdir / "sample-out")
    for title, runs in sample:
        for index, (name, command, target) in enumerate(runs):
            run_one(name, command, target, workdir, keep=workdir / f"check-{index}{target.suffix}")
        check([(title, runs)], workdir, "2,000-record sample")


def load() -> str:
    return "load average " + " ".join(f"{value:.2f}" for value in os.getloadavg())


Key = tuple[str, str]  # (group, run)


def report(all_groups: list, best: dict[Key, Result], ratios: dict[Key, list[float]], peak: dict[Key, int],
           n: int, repeat: int) -> None:
    width = max(len(name) for _, runs in all_groups for name, _, _ in runs)
    print(f"\nbest of {repeat} round(s); peak RSS of the process tree over all rounds (the largest single process "
          "in parentheses); the ratio is the median over the rounds of (that round's baseline time / the run's time)")
    for title, runs in all_groups:
        print(f"\n{title}:")
        print(f"  {'run':<{width}}  {'wall s':>7}  {'CPU s':>6}  {'records/s':>10}  {'peak RSS MB':>13}  "
              f"{'vs baseline':>11}  rounds")
        for name, _, _ in runs:
            key = (title, name)
            r = best[key]
            rss = f"{peak[key] / 2**20:,.0f} ({r.max_rss / 2**20:,.0f})"
            spread = ", ".join(f"{ratio:.2f}" for ratio in ratios[key])
            print(f"  {name:<{width}}  {r.seconds:>7.1f}  {r.cpu:>6.1f}  {n / r.seconds:>10,.0f}  {rss:>13}  "
                  f"{statistics.median(ratios[key]):>10.2f}x  {spread}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workdir", type=Path, default=HERE / "out")
    parser.add_argument("--repeat", type=int, default=3, help="interleaved rounds (ratios: the median over the rounds)")
    args = parser.parse_args()
    missing = [name for name in ("pyarrow", "datasets") if importlib.util.find_spec(name) is None]
    if missing:  # as bench_conversations does without its template: say so, and let the others run
        print(f"{' and '.join(missing)} not installed (pip install -e '.[test]'): the benchmark cannot run")
        return

    print(f"{load()} at the start", flush=True)
    check_sample(args.workdir, args.seed)
    jsonl, table, chat = generate(args.records, args.seed, args.workdir)
    all_groups = groups(jsonl, table, chat, args.workdir / "bench-parquet-out")
    print(f"machine: {os.cpu_count()} CPUs, {platform.processor() or platform.machine()}, Python "
          f"{platform.python_version()}; input: {args.records:,} records, {jsonl.stat().st_size / 1e6:,.0f} MB JSONL, "
          f"{table.stat().st_size / 1e6:,.0f} MB Parquet; conversations {chat.stat().st_size / 1e6:,.0f} MB Parquet",
          flush=True)
    best: dict[Key, Result] = {}
    ratios: dict[Key, list[float]] = {}
    peak: dict[Key, int] = {}
    for round_number in range(args.repeat):  # interleaved, so that a busy moment does not hit one run only
        last = round_number == args.repeat - 1
        for title, runs in all_groups:
            times = []
            for index, (name, command, target) in enumerate(runs):
                kept = args.workdir / f"check-{index}{target.suffix}" if last else None
                result = run_one(name, command, target, args.workdir, keep=kept)
                times.append(result.seconds)
                key = (title, name)
                peak[key] = max(peak.get(key, 0), result.tree_rss)
                if key not in best or result.seconds < best[key].seconds:
                    best[key] = result
                print(f"  round {round_number + 1}: {name}: {result.seconds:.1f} s", flush=True)
            for (name, _, _), seconds in zip(runs, times, strict=True):
                ratios.setdefault((title, name), []).append(times[0] / seconds)
            if last:  # the outputs of the last round, all of them, read back
                check([(title, runs)], args.workdir, f"all {args.records:,} records")
    report(all_groups, best, ratios, peak, args.records, args.repeat)
    print(f"\n{load()} at the end")


if __name__ == "__main__":
    main()
