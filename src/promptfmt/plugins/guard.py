"""Running plugin code so that nothing it does can pass for promptfmt's own result.

While a plugin is imported or one of its hooks runs (`PluginCode`):

* ``print`` goes to stderr: stdout carries data (``convert -o -``, ``render``);
* ``os._exit`` raises `PluginExit` instead of ending the process (``sys.exit`` raises `SystemExit`
  anyway), so a plugin cannot end a command with exit 0 before it has done its work;
* any exception, `BaseException`s included (`SystemExit`, `KeyboardInterrupt`, `PluginExit`,
  `GeneratorExit`), becomes a `PluginError` naming the plugin, and the other plugins still load.

One exception is let through: a Ctrl-C of the user. A `KeyboardInterrupt` is the user's when SIGINT
was delivered to this process while the plugin code ran (`PluginCode` watches for it); any other one
was raised by the plugin itself and is its failure. See docs/architecture.md, "Errors".
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from types import FrameType, TracebackType
from typing import Any, NoReturn

from ..errors import PluginError


class PluginExit(BaseException):
    """Plugin code called ``os._exit`` while promptfmt ran it."""


def refuse_exit(status: int = 0) -> NoReturn:
    raise PluginExit(f"os._exit({status}) called")


class PluginCode:
    """A context in which plugin code runs (see the module's docstring); reusable, not reentrant.

    ``failure(plugin, exc)`` turns what the code raised into the `PluginError` to report, or raises
    it again when it is the user's Ctrl-C. With a ``plugin`` name, leaving the context with an
    exception does the same; without one, the context only sets the scene and lets exceptions pass.
    """

    def __init__(self, plugin: str | None = None) -> None:
        self.plugin = plugin
        self.interrupted = False  # SIGINT was delivered while plugin code ran
        self._exit: Any = None
        self._sigint: Any = None
        self._stdout: contextlib.redirect_stdout[Any] | None = None

    def __enter__(self) -> PluginCode:
        self.interrupted = False
        self._exit, os._exit = os._exit, refuse_exit
        self._stdout = contextlib.redirect_stdout(sys.stderr)
        self._stdout.__enter__()
        self._watch_sigint()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        os._exit = self._exit
        if self._stdout is not None:
            self._stdout.__exit__(None, None, None)
        if self._sigint is not None:
            signal.signal(signal.SIGINT, self._sigint)
            self._sigint = None
        if exc is not None and self.plugin is not None and not isinstance(exc, PluginError):
            raise self.failure(self.plugin, exc) from exc

    def failure(self, plugin: str, exc: BaseException) -> PluginError:
        """The `PluginError` of ``exc``, raised by ``plugin``'s code; a Ctrl-C of the user is raised again."""
        if self.users_interrupt(exc):
            raise exc
        if isinstance(exc, PluginError):
            return exc
        return PluginError(plugin, exc)

    def users_interrupt(self, exc: BaseException) -> bool:
        """Whether ``exc`` is a Ctrl-C of the user (SIGINT delivered), not one plugin code raised."""
        return isinstance(exc, KeyboardInterrupt) and self.interrupted

    def _watch_sigint(self) -> None:
        """Note a SIGINT delivered while plugin code runs, then act as the handler in place did."""
        if threading.current_thread() is not threading.main_thread():
            return  # signals reach the main thread only: a KeyboardInterrupt here was raised by code
        previous = signal.getsignal(signal.SIGINT)
        if not callable(previous):
            return  # ignored or default (the process ends): no KeyboardInterrupt comes from a signal

        def delivered(signum: int, frame: FrameType | None) -> Any:
            self.interrupted = True
            return previous(signum, frame)

        self._sigint = previous
        signal.signal(signal.SIGINT, delivered)
