"""Benchmark: ``promptfmt convert`` against the tutorial baseline, on the same generated records.

Generates N realistic records (bench/datagen.py; 1,000,000 by default) once, as a JSON array (the
baseline's input, as in the tutorial) and as JSON Lines, then runs, each in its own process:

* the tutorial baseline (bench/tutorial_baseline.py: load the whole JSON file, loop an f-string
  formatter, ``json.dump`` the whole list with ``indent=4`` as the course does), and its faster
  ``--compact`` variant;
* ``promptfmt convert IN.json -o OUT.jsonl --to alpaca-llmfs`` on the baseline's very file
  (validating every record; the same text as the baseline), by default (``--workers auto``) and
  with ``--workers 1``;
* the same on the JSON Lines file of the same records.

For each it prints wall time (the best of ``--repeat`` interleaved rounds), CPU time of the process
tree, records/s, peak RSS (of the whole process tree, sampled every 20 ms; the largest single
process from ``wait4`` in parentheses) and the speed ratio to the baseline: the median over the
rounds of that round's baseline time divided by the run's time (on a shared machine the speed of
both changes from minute to minute; a ratio within one round compares like with like).
First, on a small sample, it checks that promptfmt writes exactly the baseline's texts, from both
files. At the end it says whether the target is met: ``promptfmt convert`` (default) on the
baseline's file at least 2x faster than the baseline, with a peak RSS under 150 MB.

    python bench/bench_convert.py [--records N] [--workdir bench/out] [--keep]

A benchmark, not a test: figures depend on the machine (the README names the one it ran on).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from datagen import MIXES, records  # noqa: E402

PYTHON = sys.executable
PROMPTFMT = str(Path(sys.executable).with_name("promptfmt"))
BASELINE = str(HERE / "tutorial_baseline.py")
TARGET_RUN = "promptfmt convert, same JSON array, default (--workers auto)"
PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass
class Result:
    name: str
    seconds: float
    cpu: float  # user + system seconds of the whole process tree (wait4)
    tree_rss: int  # bytes, peak of the sum over the process tree
    max_rss: int  # bytes, peak of the largest single process (wait4)


def generate(n: int, seed: int, workdir: Path, mix: str = "realistic") -> tuple[Path, Path]:
    """``N`` records as JSON Lines and as a JSON array (reused when already there)."""
    jsonl = workdir / f"convert-{n}-seed{seed}-{mix}.jsonl"
    array = workdir / f"convert-{n}-seed{seed}-{mix}.json"
    if jsonl.exists() and array.exists():
        return jsonl, array
    workdir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with open(f"{jsonl}.part", "w", encoding="utf-8") as lines, open(f"{array}.part", "w", encoding="utf-8") as whole:
        whole.write("[\n")
        for number, record in enumerate(records(n, seed=seed, mix=mix)):
            text = json.dumps(record, ensure_ascii=False)
            lines.write(text + "\n")
            whole.write((",\n" if number else "") + text)
        whole.write("\n]\n")
    os.replace(f"{jsonl}.part", jsonl)
    os.replace(f"{array}.part", array)
    print(f"generated {n:,} records in {time.perf_counter() - started:.0f} s: "
          f"{jsonl.stat().st_size / 1e6:,.0f} MB JSONL ({jsonl.stat().st_size / n:.0f} bytes/record)", flush=True)
    return jsonl, array


def _tree(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as stat:
                    fields = stat.read().rsplit(b")", 1)[1].split()
            except OSError:
                continue
            children.setdefault(int(fields[1]), []).append(int(entry))
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        pending += children.get(current, [])
    return found


def _rss(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/statm", "rb") as statm:
                total += int(statm.read().split()[1]) * PAGE
        except OSError:
            pass
    return total


def measure(name: str, command: list[str]) -> Result:
    """Run ``command``; wall time, peak RSS of its process tree, and its own peak RSS."""
    peak = 0
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _rss(_tree(process.pid)))
            done.wait(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    done.set()
    sampler.join()
    process.returncode = os.waitstatus_to_exitcode(status)
    stderr = process.stderr.read().decode() if process.stderr else ""
    if process.returncode != 0:
        raise SystemExit(f"{name} failed ({process.returncode}): {stderr}")
    return Result(name, seconds, usage.ru_utime + usage.ru_stime, peak, usage.ru_maxrss * 1024)


def check_same_texts(workdir: Path, seed: int, mix: str) -> int:
    """On a small sample, promptfmt's texts are exactly the baseline's: the comparison is fair."""
    n = 2000
    jsonl, array = generate(n, seed + 1, workdir, mix)
    baseline_out, promptfmt_out = workdir / "sample-baseline.json", workdir / "sample-promptfmt.jsonl"
    subprocess.run([PYTHON, BASELINE, str(array), str(baseline_out)], check=True)
    expected = [item["text"] for item in json.loads(baseline_out.read_text("utf-8"))]
    for source in (array, jsonl):
        subprocess.run([PROMPTFMT, "convert", str(source), "-o", str(promptfmt_out), "--to", "alpaca-llmfs", "-q"],
                       check=True, stderr=subprocess.DEVNULL)
        got = [json.loads(line)["text"] for line in promptfmt_out.read_text("utf-8").splitlines()]
        if expected != got:
            raise SystemExit(f"promptfmt ({source.name}) and the baseline do not write the same texts: "
                             "the benchmark would be unfair")
        promptfmt_out.unlink()
    for path in (jsonl, array, baseline_out):
        path.unlink()
    return n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workdir", type=Path, default=HERE / "out")
    parser.add_argument("--repeat", type=int, default=3, help="interleaved rounds (ratios: the median over the rounds)")
    parser.add_argument("--keep", action="store_true", help="keep the outputs (the inputs are always kept for reuse)")
    parser.add_argument("--mix", choices=sorted(MIXES), default="realistic",
                        help="non-ASCII text as in real English datasets (default), or in nearly every record")
    args = parser.parse_args()

    sample = check_same_texts(args.workdir, args.seed, args.mix)
    print(f"checked: promptfmt writes the baseline's exact texts ({sample:,}-record sample)", flush=True)
    jsonl, array = generate(args.records, args.seed, args.workdir, args.mix)
    out = args.workdir / "bench-convert-out"
    convert = [PROMPTFMT, "convert", "--to", "alpaca-llmfs", "-q"]
    runs = [
        ("baseline: tutorial (json.load, f-string, json.dump indent=4)", [PYTHON, BASELINE, str(array), f"{out}.json"]),
        ("baseline: compact dump (indent=None)", [PYTHON, BASELINE, str(array), f"{out}.json", "--compact"]),
        (TARGET_RUN, [*convert, str(array), "-o", f"{out}.jsonl"]),
        ("promptfmt convert, same JSON array, --workers 1", [*convert, str(array), "-o", f"{out}.jsonl", "--workers", "1"]),
        ("promptfmt convert, JSON Lines, default (--workers auto)", [*convert, str(jsonl), "-o", f"{out}.jsonl"]),
        ("promptfmt convert, JSON Lines, --workers 1", [*convert, str(jsonl), "-o", f"{out}.jsonl", "--workers", "1"]),
    ]
    print(f"machine: {os.cpu_count()} CPUs, {platform.processor() or platform.machine()}, Python {platform.python_version()}; "
          f"input: {args.records:,} records ({args.mix} non-ASCII mix), {jsonl.stat().st_size / 1e6:,.0f} MB JSONL / "
          f"{array.stat().st_size / 1e6:,.0f} MB JSON", flush=True)
    best: dict[str, Result] = {}
    ratios: dict[str, list[float]] = {}  # per round: that round's baseline time / this run's time
    peak: dict[str, int] = {}
    for round in range(args.repeat):  # interleaved, so that a busy moment does not hit one run only
        times = {}
        for name, command in runs:
            for suffix in (".json", ".jsonl"):  # every run writes a new file (replacing one costs time)
                Path(f"{out}{suffix}").unlink(missing_ok=True)
            result = measure(name, command)
            times[name] = result.seconds
            peak[name] = max(peak.get(name, 0), result.tree_rss)
            if name not in best or result.seconds < best[name].seconds:
                best[name] = result
            print(f"  round {round + 1}: {name}: {result.seconds:.1f} s", flush=True)
        for name, _ in runs:
            ratios.setdefault(name, []).append(times[runs[0][0]] / times[name])
    results = [best[name] for name, _ in runs]
    width = max(len(r.name) for r in results)
    print(f"\nbest of {args.repeat} round(s); peak RSS of the process tree over all rounds (the largest single process "
          "in parentheses); the ratio is the median over the rounds of (that round's baseline time / the run's time)")
    print(f"{'run':<{width}}  {'wall s':>7}  {'CPU s':>6}  {'records/s':>10}  {'peak RSS MB':>13}  {'vs baseline':>11}")
    for r in results:
        rss = f"{peak[r.name] / 2**20:,.0f} ({r.max_rss / 2**20:,.0f})"
        print(f"{r.name:<{width}}  {r.seconds:>7.1f}  {r.cpu:>6.1f}  {args.records / r.seconds:>10,.0f}  {rss:>13}  "
              f"{statistics.median(ratios[r.name]):>10.2f}x")
    spread = ", ".join(f"{ratio:.2f}x" for ratio in ratios[TARGET_RUN])
    ratio, rss = statistics.median(ratios[TARGET_RUN]), peak[TARGET_RUN] / 2**20
    verdict = "met" if ratio >= 2 and rss < 150 else "NOT met"
    print(f"\ntarget (convert on the baseline's file >= 2.00x the baseline, peak RSS < 150 MB): {verdict} "
          f"(median {ratio:.2f}x; rounds: {spread}; {rss:,.0f} MB)")
    if not args.keep:
        for suffix in (".json", ".jsonl"):
            Path(f"{out}{suffix}").unlink(missing_ok=True)


if __name__ == "__main__":
    main()
