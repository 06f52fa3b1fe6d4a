"""The hooks a promptfmt plugin can implement.

A plugin is any module or object with functions marked ``@hookimpl``; it is registered through the
``promptfmt`` entry-point group (third-party) or the built-in list (promptfmt's own formats): both
go through the same `promptfmt.plugins.manager.make_plugin_manager` call.
"""

from __future__ import annotations

from collections.abc import Callable

import pluggy

from ..format import Format, Match

PROJECT_NAME = "promptfmt"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def promptfmt_register_formats(register: Callable[[Format], None]) -> None:
    """Called once while the format registry is built: call ``register(format)`` for each format.

    The host keeps control: ``register`` validates the format and raises
    `promptfmt.errors.DuplicateFormatError` when a name or alias is taken.
    """


@hookspec(firstresult=True)
def promptfmt_detect_format(text: str, format: Format) -> Match | None:
    """Say whether ``format`` produced ``text`` (a full text or a prompt alone).

    Called by `promptfmt.detect.detect_format` for each text and each format still in the running,
    on the plugin that registered ``format`` alone (``format`` is the object it registered). It
    answers with a `promptfmt.format.Match`, accepted or not
    (``promptfmt.plugins.hooks.answer_for(MY_FORMATS, text, format)`` does it by parsing), or None to
    have the format matched by parsing. A hook that raises, or answers with something else, gets the
    format skipped with a note naming it; the other formats are still asked.
    """
