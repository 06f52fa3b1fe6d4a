"""Run one hostile case through the real console script and list every promise it breaks.

The process runs in a session of its own, is waited for with ``os.wait4`` (its peak RSS, workers
included, comes from the resource usage) and is killed, with its group, past the case's timeout.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from promptfmt.errors import one_line

from .case import Case, Run

SCRIPT = Path(sys.executable).parent / "promptfmt"
MAX_RSS = 1024 * 1024 * 1024
TRACEBACK = "Traceback (most recent call last)"
BUG = 70


@dataclass
class Outcome:
    code: int
    stdout: str
    stderr: str
    seconds: float
    peak: int  # bytes
    timed_out: bool
    left: list[str]  # temporary files and part folders left in the working folder


def run_case(case: Case, root: Path) -> tuple[Outcome, list[str]]:
    """Lay the case out under ``root``, run it, return what happened and the broken promises."""
    work = root / "work"
    work.mkdir(parents=True)
    run = case.make(work)
    outcome = _execute(run, work, root)
    return outcome, problems(case, run, outcome, work)


# Forks the command and writes its exit status and peak RSS (KiB) to the file named first. A child
# counts the peak of the process it was forked from, so the test process (large) forks this small
# one, and this one forks promptfmt.
MEASURE = """
import os, sys
pid = os.fork()
if pid == 0:
    os.execv(sys.argv[2], sys.argv[2:])
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as report:
    report.write(f"{os.waitstatus_to_exitcode(status)} {usage.ru_maxrss}")
"""


def _command(run: Run, report: Path) -> list[str]:
    argv = [str(SCRIPT), *run.argv]
    if run.stdout == "closed":  # fd 1 closed before promptfmt starts, as `promptfmt ... >&-` does
        argv = ["/bin/sh", "-c", 'exec "$0" "$@" >&-', *argv]
    return [sys.executable, "-S", "-c", MEASURE, str(report), *argv]


def _execute(run: Run, work: Path, root: Path) -> Outcome:
    env = {**os.environ, "PROMPTFMT_DISABLE_ENTRY_POINTS": "1", "COLUMNS": "200", **run.env}
    env.pop("PROMPTFMT_DEBUG", None)
    out_path, err_path, report = root / "stdout.bin", root / "stderr.bin", root / "measured.txt"
    feeder = threading.Thread(target=run.feed, daemon=True) if run.feed else None
    with out_path.open("wb") as out, err_path.open("wb") as err, open(os.devnull, "wb") as full:
        stdout = {"file": out, "closed": out, "head": subprocess.PIPE}.get(run.stdout, full)
        if run.stdout == "full":
            full = open("/dev/full", "wb")  # noqa: SIM115 - closed below, after the run
            stdout = full
        start = time.perf_counter()
        process = subprocess.Popen(
            _command(run, report), cwd=work, env=env, stdin=subprocess.PIPE if run.stdin is not None else subprocess.DEVNULL,
            stdout=stdout, stderr=err, start_new_session=True)
        if feeder:
            feeder.start()
        killed = threading.Event()
        timer = threading.Timer(run.timeout, _kill, (process.pid, killed))
        timer.start()
        helpers = _talk(process, run)
        process.wait()
        seconds = time.perf_counter() - start
        timer.cancel()
        for helper in helpers:
            helper.join(5)
        if feeder:
            _finish_feeder(feeder, run)
        if run.stdout == "full":
            full.close()
    code, peak = (int(number) for number in report.read_text().split()) if report.exists() else (-9, 0)
    return Outcome(
        code=code,
        stdout=out_path.read_bytes().decode("utf-8", "replace"),
        stderr=err_path.read_bytes().decode("utf-8", "replace"),
        seconds=seconds, peak=peak * 1024, timed_out=killed.is_set(), left=leftovers(work))


def _talk(process: subprocess.Popen, run: Run) -> list[threading.Thread]:
    """Feed stdin and, for "head", read 10 bytes of stdout and close the pipe, each in a thread."""
    threads = []
    if process.stdin is not None:
        threads.append(threading.Thread(target=_write_stdin, args=(process.stdin, run.stdin or b""), daemon=True))
    if process.stdout is not None:
        threads.append(threading.Thread(target=_head, args=(process.stdout,), daemon=True))
    for thread in threads:
        thread.start()
    return threads


def _write_stdin(pipe, data: bytes) -> None:
    try:
        pipe.write(data)
    except OSError:  # the process did not read it all: its exit code tells
        pass
    finally:
        try:
            pipe.close()
        except OSError:
            pass


def _head(pipe) -> None:
    pipe.read(10)
    pipe.close()


def _kill(pid: int, killed: threading.Event) -> None:
    killed.set()
    try:
        os.killpg(pid, signal.SIGKILL)  # the group of the process this runner started, nothing else
    except ProcessLookupError:
        pass


def _finish_feeder(feeder: threading.Thread, run: Run) -> None:
    feeder.join(1)
    if feeder.is_alive() and run.release:
        run.release()
    feeder.join(5)


def leftovers(work: Path) -> list[str]:
    """Temporary files (``*.tmp``) and part folders (``.promptfmt-parts*``) anywhere under ``work``."""
    found = []
    for folder, dirs, files in os.walk(work):
        for name in [*dirs, *files]:
            if name.endswith(".tmp") or name.startswith(".promptfmt-parts"):
                found.append(os.path.relpath(os.path.join(folder, name), work))
    return sorted(found)


def problems(case: Case, run: Run, outcome: Outcome, work: Path) -> list[str]:
    """Every promise the run broke, one sentence each (an empty list: the case passes)."""
    found = []
    if outcome.timed_out:
        found.append(f"still running after {run.timeout:.0f} s (killed)")
    elif outcome.code not in case.expect:
        found.append(f"exit {outcome.code}, expected {sorted(case.expect)}")
    if outcome.code == BUG:
        found.append("exit 70 (a bug)")
    if TRACEBACK in outcome.stderr:
        found.append("a Python traceback on stderr")
    if outcome.peak >= MAX_RSS:
        found.append(f"peak RSS {outcome.peak // 2**20} MB")
    found += _unnamed_errors(run, outcome, work)
    if run.line and outcome.code == 1 and not _located(run, outcome, work):
        found.append(f"line {run.line} is named neither in the output nor in quarantine.jsonl")
    if run.say and not re.search(run.say, outcome.stderr, re.MULTILINE):
        found.append(f"stderr does not say {run.say!r}")
    if run.forbid:
        found += [f"a forged line: {line[:120]!r}" for line in (outcome.stdout + outcome.stderr).splitlines()
                  if re.match(run.forbid, line)]
    if outcome.left:
        found.append(f"left behind: {', '.join(outcome.left)}")
    if run.summary and outcome.code in (0, 1) and not outcome.timed_out and not _refused_whole(outcome, work):
        found += _summary_problems(run.summary, outcome.stdout, work)
    return found


def _located(run: Run, outcome: Outcome, work: Path) -> bool:
    """The refusal names the line: ``FILE:LINE`` in the output, or ``"line": LINE`` in the quarantine."""
    if any(f"{name}:{run.line}:" in outcome.stdout + outcome.stderr for name in run.names):
        return True
    quarantine = work / "quarantine.jsonl"
    return quarantine.is_file() and any(
        json.loads(line).get("line") == run.line for line in quarantine.read_text("utf-8", "replace").splitlines())


def _unnamed_errors(run: Run, outcome: Outcome, work: Path) -> list[str]:
    if not run.names:
        return []
    names = {*run.names, *(str(work / name) for name in run.names)}
    names |= {one_line(name) for name in names}  # a name with a newline is shown escaped, on one line
    return [f"an error that names no file of {sorted(run.names)}: {line[:200]!r}"
            for line in outcome.stderr.splitlines()
            if line.startswith("Error:") and not any(name in line for name in names)]


def _lines(path: Path) -> int:
    return sum(1 for _ in path.open("rb")) if path.is_file() else 0


def _refused_whole(outcome: Outcome, work: Path) -> bool:
    """The run refused the input as a whole (a table that cannot be opened: ``Error:``, exit 1) before
    reading a record: no summary is owed, and nothing may have been written."""
    written = [work / "out.jsonl", work / "quarantine.jsonl", work / "parts"]
    return (outcome.code == 1 and not outcome.stdout.strip() and "\nError: " in "\n" + outcome.stderr
            and not any(path.exists() for path in written))


def _summary_problems(command: str, stdout: str, work: Path) -> list[str]:
    """read = written + quarantined, in the JSON summary and in the files written."""
    try:
        summary = json.loads(stdout)
    except ValueError:
        return [f"no JSON summary on stdout: {stdout[:200]!r}"]
    quarantined = _lines(work / "quarantine.jsonl")
    if command == "convert":
        parts = {"written": _lines(work / "out.jsonl")}
        counted = summary["written"] + summary["quarantined"]
        kept = summary["quarantined"]
    else:
        parts = {name: _lines(work / "parts" / f"{name}.jsonl") for name in ("train", "test", "val")}
        counted = summary["train"] + summary["test"] + summary["val"] + summary["refused"]
        kept = summary["refused"]
    found = []
    if summary["read"] != counted:
        found.append(f"read {summary['read']} != the parts of the summary, {counted}")
    if kept != quarantined:
        found.append(f"summary says {kept} quarantined, quarantine.jsonl has {quarantined} line(s)")
    for name, lines in parts.items():
        if summary[name] != lines:
            found.append(f"summary says {name} {summary[name]}, the file has {lines} line(s)")
    return found
