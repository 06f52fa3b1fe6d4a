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
