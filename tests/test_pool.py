"""The worker pool of both parallel services: results in start order, every failure named, workers reaped."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from promptfmt.errors import DataError, PluginError, PluginFormatError
from promptfmt.pool import WorkerCrash, WorkerError, WorkerPool

PROMPTFMT = Path(sys.executable).with_name("promptfmt")


def square(value: int) -> int:
    time.sleep(0.01 * (3 - value))  # the later ones finish first
    return value * value


def fail_with(kind: str) -> None:
    if kind == "data":
        raise DataError("data.jsonl", "broken", line=3)
    if kind == "plugin":
        raise PluginError("house", "boom")
    if kind == "plugin-format":
        raise PluginFormatError("house", "house-style", "render raised RuntimeError: boom")
    if kind == "bug":
        raise ZeroDivisionError("division by zero")
    if kind == "killed":
        os.kill(os.getpid(), signal.SIGKILL)


def test_results_come_in_start_order_and_tick_while_waiting():
    ticks = []
    with WorkerPool[int]() as pool:
        for value in range(4):
            pool.start(square, value)
        assert list(pool.results(lambda: ticks.append(1))) == [0, 1, 4, 9]


@pytest.mark.parametrize(
    ("kind", "error", "message"),
    [
        ("data", WorkerError, "worker 2 of 2 failed: DataError: data.jsonl:3: broken"),
        ("plugin", PluginError, "plugin 'house' failed to load: boom"),
        ("plugin-format", PluginFormatError, "format 'house-style' of plugin 'house' failed: render raised "
                                             "RuntimeError: boom. Block the plugin with PROMPTFMT_BLOCK_PLUGINS=house "
                                             "to go on without it."),
        ("bug", WorkerCrash, "worker 2 of 2 failed: ZeroDivisionError: division by zero"),
        ("killed", WorkerError, "worker 2 of 2 ended unexpectedly (exit code -9)"),
    ],
)
def test_every_failure_of_a_worker_is_raised_in_the_parent(kind, error, message):
    with WorkerPool[None]() as pool:
        pool.start(fail_with, kind)
        with pytest.raises(error) as caught:
            list(pool.results())
    assert str(caught.value) == message
    if kind == "bug":  # the worker's traceback is the cause, for PROMPTFMT_DEBUG=1
        assert "ZeroDivisionError" in str(caught.value.__cause__)
        assert "in fail_with" in str(caught.value.__cause__)


def test_leaving_the_pool_stops_and_reaps_every_worker():
    pool: WorkerPool[None] = WorkerPool()
    with pool:
        pool.start(time.sleep, 60)
        process = pool._workers[0][0]
        assert process.is_alive()
    assert not process.is_alive() and process.exitcode == -signal.SIGTERM
    assert pool._workers == []


# -- workers never outlive their parent ------------------------------------------------------------

ORPHANS = """
import os, sys, time
from promptfmt.pool import WorkerPool

def big():
    return b"x" * (8 << 20)  # far more than a pipe holds: the send blocks until the parent reads

def slow(marker):
    try:
        time.sleep(60)
    finally:
        open(marker, "w").close()  # SIGTERM unwinds the worker: its cleanup runs

pool = WorkerPool()
pool.start(big)
pool.start(slow, sys.argv[1])
print(" ".join(str(process.pid) for process, _ in pool._workers), flush=True)
time.sleep(60)  # never reads the results
"""


def _state(pid: int) -> str | None:
    """The state letter of a process (``Z`` for a zombie), None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return None


def children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    if int(stat.read().rsplit(")", 1)[1].split()[1]) == pid:
                        found.append(int(entry))
            except (FileNotFoundError, ProcessLookupError):
                pass
    return found


def gone(pids: list[int], seconds: float = 5) -> list[int]:
    """The processes of ``pids`` still alive after waiting up to ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        alive = [pid for pid in pids if _state(pid) not in (None, "Z")]
        if not alive:
            return []
        time.sleep(0.05)
    return alive


linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc; PR_SET_PDEATHSIG is Linux's")


@linux_only
def test_workers_end_when_their_parent_is_killed_even_blocked_in_a_send(tmp_path):
    marker = tmp_path / "cleaned-up"
    parent = subprocess.Popen([sys.executable, "-c", ORPHANS, str(marker)], stdout=subprocess.PIPE, text=True)
    try:
        workers = [int(pid) for pid in parent.stdout.readline().split()]
        assert len(workers) == 2 and sorted(children(parent.pid)) == sorted(workers)
        time.sleep(0.5)  # the first worker is now blocked writing to the pipe
        parent.kill()
        parent.wait()
        assert gone(workers) == []
        assert marker.exists()
    finally:
        parent.kill()


LINE = b'{"instruction": "Summarise the text below in one sentence.", "input": "A long text.", "output": "A summary."}\n'


@pytest.fixture(scope="module")
def big_jsonl(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("orphans") / "in.jsonl"
    path.write_bytes(LINE * 200_000)  # 22 MB
    return path


def _start(args: list[str], folder: Path) -> tuple[subprocess.Popen[bytes], list[int]]:
    """Start ``promptfmt ARGS`` in ``folder`` (also its temporary folder); the process and its workers once they
    are running."""
    process = subprocess.Popen([str(PROMPTFMT), *args], cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               env={**os.environ, "TMPDIR": str(folder)})
    deadline = time.monotonic() + 20
    workers: list[int] = []
    while not workers and time.monotonic() < deadline and process.poll() is None:
        workers = children(process.pid)
        time.sleep(0.01)
    assert workers, "no worker was started"
    return process, workers


@linux_only
@pytest.mark.parametrize("command", ["validate", "convert"])
def test_killing_the_parent_of_a_parallel_run_leaves_no_worker(tmp_path, big_jsonl, command):
    data = tmp_path / "in.jsonl"
    os.link(big_jsonl, data)
    args = ["validate", "in.jsonl"] if command == "validate" else ["convert", "in.jsonl", "-o", "-", "--to", "phi3"]
    process, workers = _start([*args, "--workers", "2", "-q"], tmp_path)
    time.sleep(0.2)
    process.kill()
    process.wait()
    assert gone(workers) == []
    deadline = time.monotonic() + 5  # convert's workers remove the part folder (in TMPDIR for -o -) on their way out
    while len(list(tmp_path.iterdir())) > 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["in.jsonl"]


@linux_only
def test_sigterm_on_a_parallel_validation_stops_it_leaving_nothing(tmp_path, big_jsonl):
    data = tmp_path / "in.jsonl"
    os.link(big_jsonl, data)
    process, workers = _start(["validate", "in.jsonl", "--workers", "2", "-q", "--quarantine", "q.jsonl"], tmp_path)
    time.sleep(0.2)
    process.terminate()
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 130, stderr
    assert b"Traceback" not in stderr
    assert gone(workers) == []
    assert sorted(path.name for path in tmp_path.iterdir()) == ["in.jsonl"]


def test_a_result_that_cannot_be_sent_is_reported_as_a_bug():
    with WorkerPool[object]() as pool:
        pool.start(lambda: (lambda: None))  # a lambda cannot be pickled
        with pytest.raises(WorkerCrash, match="worker 2 of 2 failed: .*(pickle|Pickl)"):
            list(pool.results())
