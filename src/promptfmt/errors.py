"""The errors promptfmt raises. The library raises; the CLI maps each family to one exit code.

Three families decide the exit code (`promptfmt.cli.app.exit_code`): `UsageError` (2: options,
paths or names that cannot be used), `PluginError` and `DuplicateFormatError` (3: a plugin that
failed or clashes with another) and every other `PromptfmtError` (1: data that cannot be used). See docs/architecture.md, "Errors".
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable

# What could end a report line or rewrite it on a terminal: C0 and C1 controls, DEL, the Unicode line
# and paragraph separators (str.splitlines splits at them), and lone surrogates (not printable).
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")


def one_line(text: str) -> str:
    """``text`` with every character that could break or rewrite a report line escaped as in a JSON
    string (``\\n``, ``\\u001b``); anything else, backslashes included, is kept as is. File names,
    keys and values from the data go through it before they reach a one-line message."""
    if _UNSAFE.search(text) is None:
        return text
    return _UNSAFE.sub(lambda match: json.dumps(match.group(0))[1:-1], text)


class PromptfmtError(Exception):
    """Base class of every error promptfmt raises on purpose."""


class UsageError(PromptfmtError, ValueError):
    """Options, paths or names that cannot be used: the caller must change the call (CLI exit 2)."""


class InputPathError(UsageError):
    """An input path that is not a readable file: missing, a folder, not permitted."""

    def __init__(self, path: str, message: str) -> None:
        self.path = path
        super().__init__(f"{one_line(path)}: {message}")


class OutputError(UsageError):
    """An output that cannot be used: it is the input, its folder is missing, it cannot be written."""


class MissingExtraError(UsageError):
    """An optional library that a file kind or a command needs is not installed: says what to install."""

    def __init__(self, library: str, needed_for: str, extra: str) -> None:
        self.library = library
        self.extra = extra
        super().__init__(f"{needed_for} need {library}, which is not installed: pip install 'promptfmt[{extra}]'")


class ParseError(PromptfmtError, ValueError):
    """Text that a format did not produce: names the offset and what was expected there."""

    def __init__(self, format_name: str, offset: int, expected: str, text: str, hint: str = "") -> None:
        self.format_name = format_name
        self.offset = offset
        self.expected = expected
        self.found = text[offset : offset + 30]
        self.hint = hint
        found = repr(self.found) if self.found else "end of text"
        message = f"not {format_name} text: at offset {offset} expected {expected}, found {found}"
        super().__init__(f"{message}. {hint}" if hint else message)


class FormatDefinitionError(UsageError):
    """A format's own description is unusable (for example two identical literals it cannot tell apart)."""


class UnknownFormatError(UsageError, LookupError):
    """A format name that no registered plugin provides."""

    def __init__(self, name: str, known: Iterable[str]) -> None:
        self.name = name
        self.suggestions = difflib.get_close_matches(name, sorted(known), n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(repr(s) for s in self.suggestions)}?" if self.suggestions else ""
        super().__init__(f"unknown format {name!r}.{hint} Run 'promptfmt formats' to list the formats.")


class PluginError(PromptfmtError):
    """A plugin that could not be imported or whose hook failed; the other plugins still load."""

    plugin: str
    cause: BaseException | str

    def __init__(self, plugin: str, cause: BaseException | str) -> None:
        if isinstance(cause, PluginError):  # caught and wrapped again on its way up: it already names the plugin
            self.plugin, self.cause = cause.plugin, cause.cause
            super().__init__(str(cause))
            return
        self.plugin = plugin
        self.cause = cause
        detail = cause if isinstance(cause, str) else f"{type(cause).__name__}: {cause}"
        super().__init__(f"plugin {plugin!r} failed to load: {detail}")


class PluginFormatError(PluginError):
    """A format a plugin registered failed in use: a method raised, or returned the wrong type.

    Names the format and the plugin; the run stops (CLI exit 3) rather than quarantining every record.
    """

    def __init__(self, plugin: str, format_name: str, detail: str) -> None:
        self.plugin = plugin
        self.format_name = format_name
        self.cause = detail
        PromptfmtError.__init__(self, f"format {format_name!r} of plugin {plugin!r} failed: {detail}. "
                                      f"Block the plugin with PROMPTFMT_BLOCK_PLUGINS={plugin} to go on without it.")


class DuplicateFormatError(PromptfmtError):
    """Two plugins claim the same format name or alias; promptfmt never renames one silently."""

    def __init__(self, name: str, plugin: str, existing_plugin: str) -> None:
        self.name = name
        self.plugin = plugin
        self.existing_plugin = existing_plugin
        super().__init__(
            f"format name {name!r} of plugin {plugin!r} is already registered by plugin {existing_plugin!r}. "
            "Rename one of them, or block a plugin with PROMPTFMT_BLOCK_PLUGINS."
        )


class WriteError(PromptfmtError):
    """An output that failed while it was written (disk full, an I/O error, a closed stdout): exit 1.

    A file target is left as it was; standard output keeps what was written before the failure.
    """

    def __init__(self, target: str, reason: str, written: int | None = None, *, atomic: bool = True) -> None:
        self.target = target
        self.reason = reason
        self.written = written
        size = "" if written is None else f" (wrote {_size(written)})"
        outcome = "; nothing was written" if atomic else ""
        super().__init__(f"{one_line(target)}: {reason}{size}{outcome}")


class OSFailure(PromptfmtError):
    """An OS error that no service located more precisely (exit 1): the net under the others."""


def _size(count: int) -> str:
    for unit, scale in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if count >= scale:
            return f"{count / scale:.0f} {unit}" if count >= 10 * scale else f"{count / scale:.1f} {unit}"
    return f"{count} bytes"


def os_reason(exc: OSError) -> str:
    """What an OS error means, in the words of the OS, lower-cased (``no space left on device``)."""
    text = exc.strerror or str(exc) or type(exc).__name__
    return text[:1].lower() + text[1:]


class DataError(PromptfmtError):
    """A dataset that cannot be read at all (not a per-record problem: those are issues)."""

    def __init__(self, source: str, message: str, line: int | None = None, column: int | None = None) -> None:
        self.source = source
        self.line = line
        self.column = column
        where = one_line(source)
        if line is not None:
            where += f":{line}"
            if column is not None:
                where += f":{column}"
        super().__init__(f"{where}: {message}")
