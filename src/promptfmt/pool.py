"""One worker pool for the parallel services (``validate --workers``, ``convert --workers``).

Workers are forked (plugin formats need not be picklable, and Python's string hashes agree with the
parent's because the hash secret is inherited). Each runs one function and sends back its result,
or what went wrong, through a pipe; the parent waits for the results in start order, calling
``tick`` every `POLL_SECONDS` so that it can draw progress. Whatever ends the parent's wait (a
result it raises, Ctrl-C, SIGTERM turned into an interrupt), leaving the pool stops and reaps every
worker.

Workers never outlive the parent, even one killed with SIGKILL: on Linux the kernel sends a worker
SIGTERM when its parent dies (``PR_SET_PDEATHSIG``; a parent already gone when the worker starts is
seen with ``os.getppid``), and a worker holds no read end of any pipe, so that a send to a parent
that is gone fails (EPIPE) instead of blocking forever. SIGTERM raises `Terminated` in a worker, so
that its ``finally`` blocks and context managers run (temporary files, open ranges), then the
worker ends by SIGTERM as before. The shared counters (``context.Value``) live in memory the kernel
frees with the last process that maps it: nothing is left once the workers are gone.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
import traceback
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import Any, Generic, TypeVar

from .errors import PluginError, PluginFormatError, PromptfmtError, os_reason

POLL_SECONDS = 0.25
JOIN_SECONDS = 5
PR_SET_PDEATHSIG = 1  # linux/prctl.h

Result = TypeVar("Result")


class WorkerError(PromptfmtError):
    """A worker process failed; the message names the worker and what went wrong."""


class WorkerCrash(RuntimeError):
    """A bug in a worker process: not a `PromptfmtError`, so the CLI reports an internal error
    (exit 70); its cause holds the worker's traceback (shown with ``PROMPTFMT_DEBUG=1``)."""


class Terminated(BaseException):
    """SIGTERM in a worker (stopped by the parent, or the parent died): unwinds, then the worker ends."""


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
        readers = [*(known for _, known in self._workers), receiver]  # the worker closes its copies
        process = self.context.Process(target=_run, args=(target, args, sender, os.getpid(), readers), daemon=True)
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
            if process.is_alive():  # stuck where SIGTERM cannot unwind it
                process.kill()
                process.join()
            receiver.close()
        self._workers = []

    def __enter__(self) -> WorkerPool[Result]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _run(target: Callable[..., Any], args: tuple[Any, ...], connection: Connection, parent: int,
         readers: list[Connection]) -> None:
    """The body of a worker: the parent alone decides on Ctrl-C, and stops workers with SIGTERM."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _terminate)
    try:
        _end_with_parent(parent)
        for reader in readers:  # a read end held here would let a send to a dead parent block forever
            reader.close()
        _send(connection, _outcome(target, args))
    except Terminated:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)  # the unwinding is done: end as SIGTERM ends a process
        os.kill(os.getpid(), signal.SIGTERM)
    finally:
        connection.close()


def _outcome(target: Callable[..., Any], args: tuple[Any, ...]) -> tuple[str, Any]:
    """What to send back: the result, or what went wrong."""
    try:
        return "ok", target(*args)
    except Terminated:
        raise
    except PluginFormatError as exc:
        return "plugin-format", (exc.plugin, exc.format_name, exc.cause)
    except PluginError as exc:
        cause = exc.cause if isinstance(exc.cause, str) else f"{type(exc.cause).__name__}: {exc.cause}"
        return "plugin", (exc.plugin, cause)
    except PromptfmtError as exc:
        return "error", f"{type(exc).__name__}: {exc}"
    except OSError as exc:  # the disk, not a bug: a full disk under the part files, say
        where = f"{exc.filename}: " if exc.filename else ""
        return "error", f"{where}{os_reason(exc)}"
    except BaseException as exc:  # a bug: everything goes back to the parent, which reports it
        return "bug", (f"{type(exc).__name__}: {exc}", traceback.format_exc())


def _send(connection: Connection, message: tuple[str, Any]) -> None:
    try:
        connection.send(message)
    except OSError:  # the parent is gone: nobody is left to tell
        pass
    except Exception as exc:  # a result that cannot be pickled: a bug, reported as such
        _send(connection, ("bug", (f"{type(exc).__name__}: {exc}", traceback.format_exc())))


def _terminate(signum: int, frame: object) -> None:
    raise Terminated


def _end_with_parent(parent: int) -> None:
    """Have the kernel send SIGTERM when the parent dies (Linux); end now if it is dead already."""
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)  # libc, already loaded
        except (OSError, AttributeError):  # a libc without prctl: the EPIPE of the send remains
            pass
    if os.getppid() != parent:  # it died before the request above: the kernel will not tell
        raise Terminated


def _receive(process: BaseProcess, receiver: Connection, name: str) -> Any:
    try:
        status, payload = receiver.recv()
    except EOFError:  # the worker died without a word (killed)
        process.join(timeout=JOIN_SECONDS)
        raise WorkerError(f"{name} ended unexpectedly (exit code {process.exitcode})") from None
    if status == "plugin":
        raise PluginError(*payload)
    if status == "plugin-format":
        raise PluginFormatError(*payload)
    if status == "error":
        raise WorkerError(f"{name} failed: {payload}")
    if status == "bug":
        summary, details = payload
        raise WorkerCrash(f"{name} failed: {summary}") from _RemoteTraceback(details)
    return payload
