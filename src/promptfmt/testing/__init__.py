"""The conformance kit: the checks every promptfmt format passes, offered to plugin authors.

Use it from your own pytest suite in two lines::

    from promptfmt.testing import FormatConformance

    class TestMyFormat(FormatConformance):
        format = MY_FORMAT                    # a promptfmt Format instance
        golden = [(MY_RECORD, MY_TEXT)]       # optional: exact strings from your reference

or, for a declarative (TOML) format, ``TestMyFormat = conformance_suite("my-format.toml")``.

Every test of the class runs against your format: the properties of docs/architecture.md, "Properties" (round
trips, losslessness verdicts that are never wrong, rejected text naming an offset, the prompt a
prefix of the text and independent of the output, empty input, conversion to and from every
built-in format) on Hypothesis-generated records whose content includes your format's own
markers, newlines, whitespace-only input and unicode; plus the golden strings you give
(``golden`` for full texts, ``golden_prompts`` for prompts alone) and, when you set
``chat_template`` (a `promptfmt.templating.sandbox.ChatTemplate`), agreement with the model's official
chat template rendered in a Jinja sandbox, on generated records and conversations.

The ``prop_*`` functions are the same checks for one example each; the ``*_strategy`` functions are
the generators. This module needs ``hypothesis`` and ``pytest`` (test dependencies, not runtime ones).
"""

try:
    import hypothesis  # noqa: F401 - checked first, so that a missing extra says what to install
except ImportError as exc:  # the kit is an extra
    raise ImportError(
        "promptfmt.testing (the conformance kit) needs Hypothesis and pytest: pip install 'promptfmt[testing]'"
    ) from exc

from .properties import (
    prop_conversation_matches_chat_template,
    prop_conversation_round_trip,
    prop_conversion,
    prop_empty_input,
    prop_fast_paths_agree,
    prop_golden,
    prop_lossless_round_trip,
    prop_lossy_verdict_is_right,
    prop_matches_chat_template,
    prop_prompt_is_prefix,
    prop_reparse,
)
from .strategies import content_strategy, conversation_strategy, hostile_pieces, record_strategy, text_strategy
from .suite import FormatConformance, conformance_suite

__all__ = [
    "FormatConformance",
    "conformance_suite",
    "content_strategy",
    "conversation_strategy",
    "hostile_pieces",
    "prop_conversation_matches_chat_template",
    "prop_conversation_round_trip",
    "prop_conversion",
    "prop_empty_input",
    "prop_fast_paths_agree",
    "prop_golden",
    "prop_lossless_round_trip",
    "prop_lossy_verdict_is_right",
    "prop_matches_chat_template",
    "prop_prompt_is_prefix",
    "prop_reparse",
    "record_strategy",
    "text_strategy",
]
