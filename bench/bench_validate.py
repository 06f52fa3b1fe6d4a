"""Benchmark: ``promptfmt validate`` beside a plain ``json.loads`` loop over the same JSON Lines file.

Generates N realistic records (bench/datagen.py; 1,000,000 by default) once as JSON Lines, then runs
each of these in its own process and reports wall time, records/s and peak RSS (``wait4``):

* ``json.loads`` loop: read the file line by line and decode every line, nothing else (what a
  hand-written check starts with);
* ``orjson.loads`` loop: the same with orjson, the floor of any Python validator;
* ``promptfmt.validate(path)``: every check (schema, empty and padded fields, markers of every
  registered format, placeholders, control characters, duplicates), the report built;
* the same with ``duplicates=False`` (no per-record memory at all);
* the same in one process per CPU (``workers=N``, at least 2): the file is cut at line ends;
* ``promptfmt validate FILE --json > /dev/null``: the command end to end, start-up included (its
  ``--workers auto`` uses one process per CPU, at most 4, for a file this size).

Peak RSS is that of the measured process (``wait4``); with workers, each worker's is about the same.

A second table reads the same records as one JSON array on one line (what ``json.dump`` writes by
default) beside the JSON Lines file: records/s of ``promptfmt.validate(path)`` for each layout.

Then it shows that memory stays flat as the file grows: peak RSS on the first 10 % of the records
against all of them, with and without duplicate tracking (whose table costs ~20 bytes a record).

    python bench/bench_validate.py [--records N] [--seed S] [--workdir bench/out]

A benchmark, not a test: figures depend on the machine and its load (each is the best of
``--rounds`` interleaved runs).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from datagen import records, write_jsonl  # noqa: E402

PYTHON = sys.executable
PROMPTFMT = str(Path(sys.executable).with_name("promptfmt"))

JSON_LOOP = """
import json, sys
n = 0
with open(sys.argv[1], "rb") as f:
    for line in f:
        if line.strip():
            json.loads(line)
            n += 1
print(n)
"""

ORJSON_LOOP = JSON_LOOP.replace("import json", "import orjson as json")

LIBRARY = """
import sys
from promptfmt import validate
report = validate(sys.argv[1], duplicates=sys.argv[2] == "dups", workers=int(sys.argv[3]), max_issues=0)
print(report.records, report.errors, report.warnings)
"""


@dataclass
class Run:
    name: str
    seconds: float
    max_rss: int  # bytes
    records: int
    output: str = ""

    @property
    def rate(self) -> float:
        return self.records / self.seconds if self.seconds else 0.0


def dataset(n: int, seed: int, workdir: Path) -> Path:
    """``n`` records as JSON Lines, generated once (the convert benchmark's file is reused if there)."""
    for name in (f"validate-{n}-seed{seed}.jsonl", f"convert-{n}-seed{seed}.jsonl"):
        if (workdir / name).exists():
            return workdir / name
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / f"validate-{n}-seed{seed}.jsonl"
    started = time.perf_counter()
    size = write_jsonl(f"{path}.part", records(n, seed=seed))
    os.replace(f"{path}.part", path)
    print(f"generated {n:,} records in {time.perf_counter() - started:.0f} s: {size / 1e6:,.0f} MB "
          f"({size / n:.0f} bytes/record)", flush=True)
    return path


def measure(name: str, argv: list[str], records: int, *, keep_output: bool = False) -> Run:
    """Run ``argv`` (stdout discarded unless kept); wall time and the peak RSS of that process (wait4)."""
    started = time.perf_counter()
    out = subprocess.PIPE if keep_output else subprocess.DEVNULL
    process = subprocess.Popen(argv, stdout=out, stderr=subprocess.PIPE)
    output = process.stdout.read().decode() if process.stdout else ""
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    error = process.stderr.read().decode() if process.stderr else ""
    if process.returncode not in (0, 1):  # validate exits 1 when the data has errors
        raise SystemExit(f"{name} failed ({process.returncode}): {error}")
    return Run(name, seconds, usage.ru_maxrss * 1024, records, output)


def table(runs: list[Run], baseline: Run) -> str:
    lines = [f"{'':50} {'seconds':>8} {'records/s':>11} {'peak RSS':>9} {'vs json.loads':>14}"]
    for run in runs:
        ratio = baseline.seconds / run.seconds if run.seconds else 0.0
        lines.append(f"{run.name:50} {run.seconds:8.2f} {run.rate:11,.0f} {run.max_rss / 2**20:7.0f} MB {ratio:13.2f}x")
    return "\n".join(lines)


def one_line_array(path: Path, workdir: Path) -> Path:
    """The records of the JSON Lines file ``path`` as one JSON array on one line (``json.dump``'s
    layout: ", " between records, no line end), streamed; written once."""
    target = workdir / f"{path.stem}-one-line.json"
    if not target.exists():
        with open(path, "rb") as source, open(f"{target}.part", "wb") as out:
            out.write(b"[")
            for number, line in enumerate(source):
                out.write((b", " if number else b"") + line.rstrip(b"\n"))
            out.write(b"]")
        os.replace(f"{target}.part", target)
    return target


def layouts(path: Path, n: int, workdir: Path, rounds: int) -> None:
    """``promptfmt.validate(path)`` on the same records as JSON Lines and as a one-line JSON array."""
    array = one_line_array(path, workdir)
    variants = [("JSON Lines", path), ("one-line JSON array", array)]
    best: dict[str, Run] = {}
    for _ in range(rounds):
        for name, file in variants:
            run = measure(name, [PYTHON, "-c", LIBRARY, str(file), "dups", "1"], n)
            if name not in best or run.seconds < best[name].seconds:
                best[name] = run
    print(f"\nthe same {n:,} records in two layouts, promptfmt.validate(path):")
    print(f"  {'':22} {'seconds':>8} {'records/s':>11} {'peak RSS':>9}")
    for name, _ in variants:
        run = best[name]
        print(f"  {name:22} {run.seconds:8.2f} {run.rate:11,.0f} {run.max_rss / 2**20:7.0f} MB")


def head(path: Path, n: int, workdir: Path) -> Path:
    part = workdir / f"{path.stem}-head{n}.jsonl"
    if not part.exists():
        with open(path, "rb") as source, open(part, "wb") as out:
            for number, line in enumerate(source):
                if number == n:
                    break
                out.write(line)
    return part


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workdir", type=Path, default=HERE / "out")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds; the best time of each is shown")
    args = parser.parse_args()
    n = args.records
    workers = max(2, min(os.cpu_count() or 1, 4))
    path = dataset(n, args.seed, args.workdir)
    size = path.stat().st_size
    print(f"{n:,} records, {size / 1e6:,.0f} MB JSON Lines ({size / n:.0f} bytes/record); "
          f"Python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPU(s); "
          f"best of {args.rounds} interleaved round(s)\n", flush=True)

    variants = [
        ("json.loads loop", [PYTHON, "-c", JSON_LOOP, str(path)]),
        ("orjson.loads loop (the floor)", [PYTHON, "-c", ORJSON_LOOP, str(path)]),
        ("promptfmt.validate(path)", [PYTHON, "-c", LIBRARY, str(path), "dups", "1"]),
        ("promptfmt.validate(path, duplicates=False)", [PYTHON, "-c", LIBRARY, str(path), "nodups", "1"]),
        (f"promptfmt.validate(path, workers={workers})", [PYTHON, "-c", LIBRARY, str(path), "dups", str(workers)]),
        ("promptfmt validate FILE --json (command, -w auto)", [PROMPTFMT, "validate", str(path), "--json", "-q"]),
    ]
    best: dict[str, Run] = {}
    for _ in range(args.rounds):  # interleaved rounds, best time of each: other load on the machine varies
        for name, argv in variants:
            run = measure(name, argv, n, keep_output=name == "promptfmt.validate(path)")
            if name not in best or run.seconds < best[name].seconds:
                best[name] = Run(name, run.seconds, max(run.max_rss, best[name].max_rss if name in best else 0),
                                 n, run.output)
    runs = [best[name] for name, _ in variants]
    print(table(runs, runs[0]))
    _, errors, warnings = (int(word) for word in runs[2].output.split())
    print(f"\nfindings on all {n:,} records: {errors:,} errors, {warnings:,} warnings "
          "(the generator repeats prompts from a finite pool, so duplicate-prompt grows with N)")

    layouts(path, n, args.workdir, args.rounds)

    tenth = max(n // 10, 1)
    small = head(path, tenth, args.workdir)
    print(f"\npeak RSS as the file grows ({tenth:,} -> {n:,} records):")
    for label, mode in (("without duplicate tracking", "nodups"), ("with duplicate tracking", "dups")):
        runs_by_size = [measure(label, [PYTHON, "-c", LIBRARY, str(file), mode, "1"], count)
                        for file, count in ((small, tenth), (path, n))]
        first, last = (r.max_rss / 2**20 for r in runs_by_size)
        print(f"  {label:28} {first:6.0f} MB -> {last:6.0f} MB")
    report = json.loads(subprocess.run([PROMPTFMT, "validate", str(small), "--json", "-q"], capture_output=True,
                                       text=True).stdout)
    print(f"findings on the first {tenth:,} records: {report['counts']}")


if __name__ == "__main__":
    main()
