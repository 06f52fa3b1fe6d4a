"""The worker pool of both parallel services: results in start order, every failure named, workers reaped."""

from __future__ import annotations

import os
import signal
import time

import pytest

from promptfmt.errors import DataError, PluginError
from promptfmt.pool import WorkerCrash, WorkerError, WorkerPool


def square(value: int) -> int:
    time.sleep(0.01 * (3 - value))  # the later ones finish first
    return value * value


def fail_with(kind: str) -> None:
    if kind == "data":
        raise DataError("data.jsonl", "broken", line=3)
    if kind == "plugin":
        raise PluginError("house", "boom")
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
