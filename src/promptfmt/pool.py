"""One worker pool for the parallel services (``validate --workers``, ``convert --workers``).

Workers are forked (plugin formats need not be picklable, and Python's string hashes agree with the
parent's because the hash secret is inherited). Each runs one function and sends back its result,
or what went wrong, through a pipe; the parent waits for the results in start order, calling
``tick`` every `POLL_SECONDS` so that it can draw progress. Whatever ends the parent's wait (a
result it raises, Ctrl-C, SIGTERM turned into an interrupt), leaving the pool stops and reaps every
worker.
"""

from __future__ import annotations

import multiprocessing
import signal
import traceback
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import Any, Generic, TypeVar

from .errors import PluginError, PromptfmtError

POLL_SECONDS = 0.25
JOIN_SECONDS = 5

Result = TypeVar("Result")


class WorkerError(PromptfmtError):
    """A worker process failed; the message names the worker and what went wrong."""


class WorkerCrash(RuntimeError):
    """A bug in a worker process: not a `PromptfmtError`, so the CLI reports an internal error
    (exit 70); its cause holds the worker's traceback (shown with ``PROMPTFMT_DEBUG=1``)."""


class _RemoteTraceback(Exception):
    """The traceback of a worker, as text, chained as the cause of a `WorkerCrash`."""

    def __str__(self) -> str:
        return "\n" + str(self.args[0])


class WorkerPool(Generic[Result]):
    """Forked processes, each running ``target(*args)`` once; use as a context manager."""

    def __init__(self) -> None:
        self.context = multiprocessing.get_context("fork")
        self._workers: list[tuple[BaseProcess, Connection]] = []

    def start(self, target: Callable[..., Result], *args: Any) -> None:
        """Fork a worker that runs ``target(*args)`` and sends back its result."""
        receiver, sender = self.context.Pipe(duplex=False)
        process = self.context.Process(target=_run, args=(target, args, sender), daemon=True)
        process.start()
        sender.close()
        self._workers.append((process, receiver))

    def results(self, tick: Callable[[], None] | None = None) -> Iterator[Result]:
        """Each worker's result, in start order; raises what a worker raised (see `_receive`)."""
        total = len(self._workers)
        for number, (process, receiver) in enumerate(self._workers):
            while not wait([receiver], timeout=POLL_SECONDS):
                if tick is not None:
                    tick()
            yield _receive(process, receiver, f"worker {number + 2} of {total + 1}")

    def close(self) -> None:
        """Stop the workers still running, reap every one of them."""
        for process, _ in self._workers:
            if process.is_alive():
                process.terminate()
        for process, receiver in self._workers:
            process.join(timeout=JOIN_SECONDS)
            receiver.close()
        self._workers = []

    def __enter__(self) -> WorkerPool[Result]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _run(target: Callable[..., Any], args: tuple[Any, ...], connection: Connection) -> None:
    """The body of a worker: the parent alone decides on Ctrl-C, and stops workers with SIGTERM."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        connection.send(("ok", target(*args)))
    except PluginError as exc:
        connection.send(("plugin", (exc.plugin, str(exc.cause))))
    except PromptfmtError as exc:
        connection.send(("error", f"{type(exc).__name__}: {exc}"))
    except BaseException as exc:  # a bug: everything goes back to the parent, which reports it
        connection.send(("bug", (f"{type(exc).__name__}: {exc}", traceback.format_exc())))
    finally:
        connection.close()


def _receive(process: BaseProcess, receiver: Connection, name: str) -> Any:
    try:
        status, payload = receiver.recv()
    except EOFError:  # the worker died without a word (killed)
        process.join(timeout=JOIN_SECONDS)
        raise WorkerError(f"{name} ended unexpectedly (exit code {process.exitcode})") from None
    if status == "plugin":
        raise PluginError(*payload)
    if status == "error":
        raise WorkerError(f"{name} failed: {payload}")
    if status == "bug":
        summary, details = payload
        raise WorkerCrash(f"{name} failed: {summary}") from _RemoteTraceback(details)
    return payload
