"""A plugin's own format code, named when it fails.

A format whose methods are all promptfmt's (the built-ins, any `TemplateFormat`, declarative files)
is registered as it is: its speed is the hot path's, and a failure in it is promptfmt's bug. A
format whose class (or the instance itself) brings methods of its own is registered behind a
`GuardedFormat`: when one of its methods raises what the contract does not allow, or returns the
wrong type, the run stops with a `PluginFormatError` naming the format and the plugin (CLI exit 3)
instead of an internal error. ``os._exit`` raises while its code runs, as in `promptfmt.plugins.guard`.
A `KeyboardInterrupt` goes through: per record, a Ctrl-C of the user is the likely one.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TypeVar

from ..conversation import Conversation, ConversationRefused, RenderedConversation
from ..errors import PluginFormatError
from ..format import Format
from ..models import Query, Record, Rendered, Verdict
from .guard import refuse_exit

T = TypeVar("T")

# The methods the services call; a class defining one of them outside promptfmt brings its own code.
CONTRACT = (
    "render", "parse", "check", "render_fields", "render_text_fields", "check_fields", "markers", "detect",
    "render_conversation", "parse_conversation", "check_conversation", "_conversation_verdict", "render_text",
)
_NONE: tuple[type[BaseException], ...] = ()
_PARSE = (ValueError,)  # ParseError, or a plugin's own ValueError: the text is not the format's
_REFUSED = (ConversationRefused,)


def _ours(cls: type) -> bool:
    module = getattr(cls, "__module__", "") or ""
    return module == "promptfmt" or module.startswith("promptfmt.")


def own_code(fmt: Format) -> bool:
    """Whether ``fmt`` runs methods that are not promptfmt's (its class's or its own attributes)."""
    if any(name in getattr(fmt, "__dict__", {}) for name in CONTRACT):
        return True
    return any(not _ours(cls) and any(name in vars(cls) for name in CONTRACT) for cls in type(fmt).__mro__)


def guarded(fmt: Format, plugin: str) -> Format:
    """``fmt`` itself when all its code is promptfmt's, else a `GuardedFormat` around it."""
    if isinstance(fmt, GuardedFormat) or not own_code(fmt):
        return fmt
    return GuardedFormat(fmt, plugin)


def unguarded(fmt: Format) -> Format:
    """The format a plugin registered (what its hooks know), behind any guard."""
    return fmt.wrapped if isinstance(fmt, GuardedFormat) else fmt


class GuardedFormat(Format):
    """A plugin's format whose failures name it; everything else is the wrapped format's."""

    def __init__(self, wrapped: Format, plugin: str) -> None:
        self.wrapped = wrapped
        self.plugin = plugin
        self.name = wrapped.name
        self.aliases = tuple(wrapped.aliases)
        self.description = wrapped.description
        self.reference = wrapped.reference
        self.multi_turn = wrapped.multi_turn
        self.extends = wrapped.extends
        self.bos = wrapped.bos
        self.append_eos = wrapped.append_eos

    def __getattr__(self, name: str) -> Any:  # attributes of the plugin's class (``template`` ...)
        if name == "wrapped":
            raise AttributeError(name)
        return getattr(self.wrapped, name)

    def _call(self, method: str, expected: type | tuple[type, ...], allowed: tuple[type[BaseException], ...],
              call: Callable[[], T]) -> T:
        saved, os._exit = os._exit, refuse_exit
        try:
            result = call()
        except allowed:
            raise
        except KeyboardInterrupt:
            raise
        except BaseException as exc:
            raise PluginFormatError(self.plugin, self.name, f"{method} raised {type(exc).__name__}: {exc}") from exc
        finally:
            os._exit = saved
        if not isinstance(result, expected):
            names = expected.__name__ if isinstance(expected, type) else " or ".join(t.__name__ for t in expected)
            raise PluginFormatError(self.plugin, self.name, f"{method} returned {type(result).__name__}, not {names}")
        return result

    def render(self, record: Query) -> Rendered:
        return self._call("render", Rendered, _NONE, lambda: self.wrapped.render(record))

    def parse(self, text: str) -> Query:
        return self._call("parse", Query, _PARSE, lambda: self.wrapped.parse(text))

    def check(self, record: Query) -> Verdict:
        return self._call("check", Verdict, _NONE, lambda: self.wrapped.check(record))

    def render_fields(self, instruction: str, input: str, output: str) -> tuple[str, str]:
        pair = self._call("render_fields", tuple, _NONE, lambda: self.wrapped.render_fields(instruction, input, output))
        if len(pair) != 2 or not all(isinstance(piece, str) for piece in pair):
            raise PluginFormatError(self.plugin, self.name, "render_fields returned a tuple that is not (prompt, completion)")
        return pair

    def render_text_fields(self, instruction: str, input: str, output: str) -> str:
        return self._call("render_text_fields", str, _NONE,
                          lambda: self.wrapped.render_text_fields(instruction, input, output))

    def check_fields(self, instruction: str, input: str = "", output: str | None = None) -> Verdict:
        return self._call("check_fields", Verdict, _NONE, lambda: self.wrapped.check_fields(instruction, input, output))

    @property
    def markers(self) -> tuple[str, ...]:
        found = self._call("markers", (tuple, list), _NONE, lambda: self.wrapped.markers)
        if not all(isinstance(marker, str) for marker in found):
            raise PluginFormatError(self.plugin, self.name, "markers holds a value that is not a string")
        return tuple(found)

    def detect(self, text: str) -> bool:
        return self._call("detect", bool, _NONE, lambda: self.wrapped.detect(text))

    def render_conversation(self, conversation: Conversation) -> RenderedConversation:
        return self._call("render_conversation", RenderedConversation, _REFUSED,
                          lambda: self.wrapped.render_conversation(conversation))

    def parse_conversation(self, text: str) -> Conversation:
        return self._call("parse_conversation", Conversation, _PARSE, lambda: self.wrapped.parse_conversation(text))

    def check_conversation(self, conversation: Conversation, rendered: RenderedConversation | None = None) -> Verdict:
        return self._call("check_conversation", Verdict, _REFUSED,
                          lambda: self.wrapped.check_conversation(conversation, rendered))

    def render_text(self, record: Record) -> str:
        return self._call("render_text", str, _NONE, lambda: self.wrapped.render_text(record))

    def __repr__(self) -> str:
        return f"<{type(self.wrapped).__name__} {self.name!r} of plugin {self.plugin!r}>"
