"""DESIGN.md section 4, properties 1-6, for every registered format.

Parametrized over the registry, so a format is covered the moment it registers. The checks are
those of the conformance kit (`promptfmt.testing`) that plugin authors run on their own formats.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from promptfmt import Query, Record, load_registry
from promptfmt.testing import (
    content_strategy,
    prop_conversion,
    prop_empty_input,
    prop_fast_paths_agree,
    prop_lossless_round_trip,
    prop_lossy_verdict_is_right,
    prop_prompt_is_prefix,
    prop_reparse,
    record_strategy,
    text_strategy,
)

REGISTRY, _ = load_registry(entry_points=False)
FORMATS = list(REGISTRY)
NAMES = [fmt.name for fmt in FORMATS]
PAIRS = [(a, b) for a in FORMATS for b in FORMATS if a is not b]

by_format = pytest.mark.parametrize("fmt", FORMATS, ids=NAMES)


@by_format
@given(data=st.data())
def test_lossless_records_round_trip(fmt, data):
    prop_lossless_round_trip(fmt, data.draw(record_strategy(fmt)))


@by_format
@given(data=st.data())
def test_lossy_verdicts_are_never_wrong(fmt, data):
    prop_lossy_verdict_is_right(fmt, data.draw(record_strategy(fmt)))


@by_format
@given(data=st.data())
def test_accepted_text_renders_back_rejected_text_names_offset(fmt, data):
    prop_reparse(fmt, data.draw(text_strategy(fmt)))


@by_format
@given(data=st.data())
def test_prompt_is_prefix_and_ignores_output(fmt, data):
    prop_prompt_is_prefix(fmt, data.draw(record_strategy(fmt)), data.draw(content_strategy(fmt)))


@by_format
@given(data=st.data())
def test_empty_input(fmt, data):
    content = content_strategy(fmt)
    prop_empty_input(fmt, data.draw(content), data.draw(content), data.draw(content))


@by_format
@given(data=st.data())
def test_fast_paths_agree_with_render_and_check(fmt, data):
    prop_fast_paths_agree(fmt, data.draw(record_strategy(fmt)))


@pytest.mark.parametrize(("source", "target"), PAIRS, ids=[f"{a.name}->{b.name}" for a, b in PAIRS])
@settings(max_examples=max(5, settings.default.max_examples // 6))  # every pair, so fewer examples each
@given(data=st.data())
def test_conversion_between_formats_round_trips(source, target, data):
    prop_conversion(source, target, data.draw(record_strategy(source)))


@by_format
def test_plain_records_are_lossless_and_round_trip(fmt):
    """A record with no markers and no padding is lossless everywhere, with and without input."""
    for record in (
        Record(instruction="Name a colour.", output="Blue."),
        Record(instruction="Translate to French.", input="Good morning", output="Bonjour"),
    ):
        assert fmt.check(record).lossless, fmt.check(record)
        assert fmt.parse(fmt.render(record).text) == record
        assert fmt.parse(fmt.render(record).prompt) == Query(instruction=record.instruction, input=record.input)


@by_format
def test_whitespace_only_input_is_rendered_not_dropped(fmt):
    """DESIGN.md 3: whitespace is an input. It is rendered unless the official template trims it."""
    record = Record(instruction="Summarise.", input="  ", output="Nothing.")
    plain = Record(instruction="Summarise.", output="Nothing.")
    if fmt.check(record).lossless:
        assert fmt.render(record).prompt != fmt.render(plain).prompt
    else:
        assert {loss.field for loss in fmt.check(record).losses} == {"input"}
