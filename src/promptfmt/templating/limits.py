"""Time and memory bounds on importing a chat template: the work runs in a forked process whose
address space and CPU time are capped by ``setrlimit``, and the parent kills it at the deadline.

A template is untrusted code: ``{% for %}`` loops over ranges, ``'x' * 10**10``, macros calling
macros, and constant folding at compile time (``10**10**10``) all run inside Jinja's sandbox, which
bounds none of them. Only a process of its own bounds all of them (see docs/architecture.md,
"Template import limits").
"""

from __future__ import annotations

import math
import multiprocessing
import os
import resource
import signal
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from ..errors import PromptfmtError
from .sandbox import TemplateLimitError

__all__ = ["DEFAULT_LIMITS", "Limits", "TemplateLimitError", "run_limited"]

Result = TypeVar("Result")
MB = 1024 * 1024
_WORK = "render the verification records and conversations"


@dataclass(frozen=True)
class Limits:
    """Bounds on one import: wall-clock ``seconds``, ``memory_mb`` beyond what the process already
    holds, and ``max_size_mb`` for the file read (`load_chat_template`)."""

    seconds: float = 30.0
    memory_mb: int = 1024
    max_size_mb: float = 16.0

    def __post_init__(self) -> None:
        if not (self.seconds > 0 and self.memory_mb > 0 and self.max_size_mb > 0):
            raise ValueError(f"limits must be positive: {self}")

    @property
    def max_bytes(self) -> int:
        return int(self.max_size_mb * MB)


DEFAULT_LIMITS = Limits()


def time_exceeded(origin: str, limits: Limits) -> TemplateLimitError:
    return TemplateLimitError(
        origin, f"the template took more than {limits.seconds:g} s to {_WORK} (--time-limit to raise it)", "time-limit")


def memory_exceeded(origin: str, limits: Limits) -> TemplateLimitError:
    return TemplateLimitError(
        origin, f"the template needed more than {limits.memory_mb} MB of memory to {_WORK} (--memory-limit to raise it)",
        "memory-limit")


def run_limited(call: Callable[[], Result], origin: str, limits: Limits) -> Result:
    """``call()`` run in a forked process within ``limits``; its result or its `PromptfmtError` comes back.

    Past the deadline the process is killed (`TemplateLimitError`, ``time-limit``); an allocation
    past the memory bound fails in it (``memory-limit``). Anything else it raises is a bug and
    comes back as a `RuntimeError` carrying the child's traceback.
    """
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_child, args=(call, limits, sender), daemon=True)
    process.start()
    sender.close()
    try:
        if not receiver.poll(limits.seconds):
            raise time_exceeded(origin, limits)
        try:
            status, payload = receiver.recv()
        except EOFError:  # died without a word: killed by the CPU limit, or by memory where Python could not raise
            process.join()
            if process.exitcode == -signal.SIGXCPU:
                raise time_exceeded(origin, limits) from None
            raise memory_exceeded(origin, limits) from None
    finally:
        if process.is_alive():
            process.kill()
        process.join()
        receiver.close()
    if status == "memory":
        raise memory_exceeded(origin, limits)
    if status == "error":
        raise payload
    if status == "bug":
        raise RuntimeError(f"the template import failed in its process:\n{payload}")
    return payload


def _child(call: Callable[[], Any], limits: Limits, sender: Any) -> None:
    """The forked process: cap memory and CPU, run, send back ``(status, payload)``."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    _cap(resource.RLIMIT_AS, _address_space() + limits.memory_mb * MB)
    _cap(resource.RLIMIT_CPU, math.ceil(limits.seconds) + 1)  # a backstop should the parent die
    try:
        message: tuple[str, Any] = ("ok", call())
    except MemoryError:
        message = ("memory", None)
    except PromptfmtError as exc:
        message = ("error", exc)
    except BaseException:  # a bug: its traceback goes to the parent, which reports it
        message = ("bug", traceback.format_exc())
    try:
        sender.send(message)
    except MemoryError:
        sender.send(("memory", None))
    except Exception:  # an error or result that does not pickle
        sender.send(("bug", traceback.format_exc()))
    finally:
        sender.close()


def _cap(kind: int, value: int) -> None:
    """Lower the soft and hard limit ``kind`` to ``value`` (never raise it above what is allowed)."""
    _, hard = resource.getrlimit(kind)
    if hard != resource.RLIM_INFINITY:
        value = min(value, hard)
    resource.setrlimit(kind, (value, value))


def _address_space() -> int:
    """The bytes of address space this process maps now (0 where /proc does not say)."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0
