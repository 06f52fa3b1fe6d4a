"""Plugin objects for the plugin-system tests (loaded through real entry points in the tests)."""

from __future__ import annotations

from promptfmt import Template, TemplateFormat, hookimpl

GREETING = TemplateFormat(
    "greeting",
    Template(prefix="Q: ", separator="\nC: ", prompt_suffix="\nA:", response_prefix=" ", end="\n"),
    aliases=("qa",),
    description="A tiny question/answer style used by the tests.",
    reference="tests/plugin_samples.py",
)


class GoodPlugin:
    @hookimpl
    def promptfmt_register_formats(self, register):
        register(GREETING)


class DuplicatePlugin:
    """Claims the built-in name 'alpaca': must be refused, not renamed."""

    @hookimpl
    def promptfmt_register_formats(self, register):
        register(TemplateFormat("my-format", GREETING.template, description="x", reference="x"))
        register(TemplateFormat("alpaca", GREETING.template, description="x", reference="x"))


class RaisingPlugin:
    @hookimpl
    def promptfmt_register_formats(self, register):
        raise RuntimeError("boom while registering")


class MisspelledHookPlugin:
    @hookimpl
    def promptfmt_register_format(self, register):  # note: no final 's'
        register(GREETING)


good = GoodPlugin()
duplicate = DuplicatePlugin()
raising = RaisingPlugin()
misspelled = MisspelledHookPlugin()


# -- hostile plugins: what an adversarial tester tried (issue 14) ----------------------------------

import os  # noqa: E402
import sys  # noqa: E402

from promptfmt import Format, Rendered, Verdict  # noqa: E402
from promptfmt.models import Query, Record  # noqa: E402


class Doom(BaseException):
    """Not an Exception: what a careless plugin may raise."""


def hostile_act(kind: str) -> None:
    """Do what a hostile plugin does at import, in a hook or in a format method."""
    if kind == "os._exit":
        os._exit(0)
    if kind == "sys.exit":
        sys.exit(0)
    if kind == "KeyboardInterrupt":
        raise KeyboardInterrupt
    if kind == "BaseException":
        raise Doom("doomed")
    if kind == "RuntimeError":
        raise RuntimeError("boom")
    if kind == "print":
        print("NOISE FROM A PLUGIN")


class HostileHookPlugin:
    """Registers GREETING-like formats after acting in its registration hook."""

    def __init__(self, kind: str) -> None:
        self.kind = kind

    @hookimpl
    def promptfmt_register_formats(self, register):
        hostile_act(self.kind)
        register(TemplateFormat("noisy", GREETING.template, description="x", reference="x"))


class BrokenFormat(Format):
    """A plugin's own Format subclass: ``fault`` names the method that misbehaves (``*``: all), ``kind``
    how (what `hostile_act` does, or ``wrong-type``); the other methods work like GREETING."""

    name = "broken"
    description = "a plugin format that fails"
    reference = "tests/plugin_samples.py"

    def __init__(self, fault: str = "render", kind: str = "RuntimeError", name: str = "broken") -> None:
        self.fault, self.kind, self.name = fault, kind, name

    def _act(self, method: str, value):
        if self.fault not in (method, "*"):
            return value()
        if self.kind == "wrong-type":
            return 42
        hostile_act(self.kind)
        return value()

    def render(self, record: Query) -> Rendered:
        return self._act("render", lambda: GREETING.render(record))

    def parse(self, text: str) -> Query:
        return self._act("parse", lambda: GREETING.parse(text))

    def check(self, record: Query) -> Verdict:
        return self._act("check", lambda: GREETING.check(record))

    def render_fields(self, instruction: str, input: str, output: str) -> tuple[str, str]:
        return self._act("render_fields", lambda: GREETING.render_fields(instruction, input, output))

    def render_text_fields(self, instruction: str, input: str, output: str) -> str:
        return self._act("render_text_fields", lambda: GREETING.render_text_fields(instruction, input, output))

    def check_fields(self, instruction: str, input: str = "", output: str | None = None) -> Verdict:
        return self._act("check_fields", lambda: GREETING.check_fields(instruction, input, output))


class BrokenFormatPlugin:
    def __init__(self, *formats: Format) -> None:
        self.formats = formats

    @hookimpl
    def promptfmt_register_formats(self, register):
        for fmt in self.formats:
            register(fmt)


class HostileDetectPlugin:
    """Registers a working format, and a detection hook that fails (``kind``) for every format asked."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.format = TemplateFormat("detected", GREETING.template, description="x", reference="x")

    @hookimpl
    def promptfmt_register_formats(self, register):
        register(self.format)

    @hookimpl
    def promptfmt_detect_format(self, text, format):
        if self.kind == "wrong-type":
            return "yes"
        hostile_act(self.kind)
        return None


RECORD = Record(instruction="Name a colour.", output="Blue.")

failing_format = BrokenFormatPlugin(BrokenFormat("*", "RuntimeError"))
printing_format = BrokenFormatPlugin(BrokenFormat("*", "print", name="printing"))
wrong_type_format = BrokenFormatPlugin(BrokenFormat("*", "wrong-type", name="wrongtype"))
exiting_hook = HostileHookPlugin("os._exit")
