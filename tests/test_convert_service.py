"""The convert service (`promptfmt.conversion`): the fast losslessness test, conversions between every
pair of registered formats on real records, and the nothing-lost promise on generated items.

Property 6 itself (A -> B -> A on generated records, any pair) is in test_builtin_conformance.py.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from promptfmt import Format, Loss, LossReason, Record, Rendered, Verdict
from promptfmt.conversion import ConvertUsageError, convert, plan, run
from promptfmt.io import Item
from promptfmt.templating.template import TemplateFormat

from .helpers import COURSE, builtin, builtin_formats
from .strategies import item_values, record_strategy

FORMATS = builtin_formats()
NAMES = [fmt.name for fmt in FORMATS]


def items_of(values):
    return [Item(index, index + 1, value) for index, value in enumerate(values)]


@pytest.mark.parametrize("fmt", FORMATS, ids=NAMES)
@given(data=st.data())
def test_the_fast_test_never_calls_a_lossy_record_lossless(fmt, data):
    assert isinstance(fmt, TemplateFormat), f"{fmt.name} is a TemplateFormat: it gets a fast test"
    record = data.draw(record_strategy(fmt))
    if fmt.clearly_lossless(record.instruction, record.input, record.output):
        assert fmt.parse(fmt.render(record).text) == record, (fmt.name, record)
        assert fmt.check(record).lossless, (fmt.name, record)


@pytest.mark.parametrize("fmt", FORMATS, ids=NAMES)
def test_the_fast_test_clears_ordinary_records(fmt, shared_data):
    """It is a fast path only if it clears the common case: the course records lossless in ``fmt``."""
    records = [Record(**item) for item in json.loads((shared_data / COURSE).read_text("utf-8"))]
    for record in records:
        verdict = fmt.check(record).lossless
        fast = fmt.clearly_lossless(record.instruction, record.input, record.output)
        assert fast == verdict, (fmt.name, record)


def test_a_subclass_that_changes_the_verdict_is_asked_even_where_its_base_is_clearly_lossless():
    """Convert asks the format's own ``check_fields``, so a plugin's stricter verdict counts even
    where the fast test it inherits (``clearly_lossless``) would clear the record."""
    import copy

    base = builtin("alpaca")

    class NoDigits(type(base)):  # a plugin's stricter verdict, built on a built-in format
        def check_fields(self, instruction, input="", output=None):
            if any(char.isdigit() for char in instruction):
                return Verdict((Loss(LossReason.MARKER_IN_CONTENT, "instruction", "digits are reserved"),))
            return super().check_fields(instruction, input, output)

    strict = copy.copy(base)
    strict.__class__ = NoDigits
    assert strict.clearly_lossless("Add 2 and 3.", "", "5")  # inherited: knows nothing of digits
    summary = convert(items_of([{"instruction": "Add 2 and 3.", "output": "5"}, {"instruction": "Hi.", "output": "Hello."}]),
                      [].append, target=strict)
    assert summary.lossy_records == 1 and summary.lossy == {"marker-in-content": 1}
    summary = convert(items_of([{"instruction": "Add 2 and 3.", "output": "5"}]), [].append, target=base)
    assert summary.lossy_records == 0


def test_conversion_between_every_pair_of_formats_is_exact_on_the_course_records(shared_data):
    """Text rendered in A, converted to B, equals B's rendering of the record, for records lossless in both."""
    records = [Record(**item) for item in json.loads((shared_data / COURSE).read_text("utf-8"))][:150]
    for source in FORMATS:
        texts = items_of([{"text": source.render(r).text} for r in records])
        for target in FORMATS:
            if target is source:
                continue
            out: list[dict] = []
            summary = convert(texts, out.append, source=source, target=target)
            assert summary.read == summary.written == len(records), (source.name, target.name)
            lossy = 0
            for record, item in zip(records, out):
                if source.check(record).lossless and target.check(record).lossless:
                    assert item == {"text": target.render(record).text}, (source.name, target.name, record)
                lossy += not target.check(source.parse(source.render(record).text)).lossless
            assert summary.lossy_records == lossy, (source.name, target.name)


@pytest.mark.parametrize("layout", ["alpaca", "text", "prompt-completion", "messages", "sharegpt"])
@given(values=st.lists(item_values, max_size=8), strict=st.booleans())
def test_read_is_always_written_plus_quarantined(layout, values, strict):
    items = items_of(values)
    items.insert(0, Item(0, 0, error="invalid JSON: broken"))
    written, refused = [], []
    target = builtin("phi3") if layout in ("text", "prompt-completion") else None
    summary = convert(
        items, written.append, quarantine=lambda item, issues: refused.append((item, issues)),
        output_layout=layout, target=target, input_layout="alpaca", strict=strict,
    )
    assert summary.read == len(items) == summary.written + summary.quarantined
    assert len(written) == summary.written and len(refused) == summary.quarantined
    assert all(issues and all(issue.severity == "error" for issue in issues) for _, issues in refused)
    assert sum(summary.quarantined_by_code.values()) >= summary.quarantined


def test_plan_keeps_the_items_it_looked_at():
    items = items_of([None, [1], {"messages": []}, {"instruction": "a", "output": "b"}])
    chosen, rest = plan(iter(items), output_layout="alpaca")
    assert chosen.input_layout == "messages"
    assert list(rest) == items


def test_plan_refuses_options_that_do_not_fit():
    with pytest.raises(ConvertUsageError, match="--to FORMAT"):
        plan(iter([]), output_layout="text")
    with pytest.raises(ConvertUsageError, match="--from FORMAT"):
        plan(iter(items_of([{"text": "x"}])), output_layout="alpaca")


def test_run_reports_progress():
    seen = []
    items = items_of([{"instruction": "a", "output": "b"}] * 2500)
    chosen, rest = plan(iter(items), output_layout="alpaca")
    summary = run(chosen, rest, lambda item: None, progress=seen.append)
    assert seen == [1024, 2048, 2500] and summary.written == 2500


class Bracketed(Format):
    """A format written by hand (no Template, no render_fields): ``[instruction|input]output``."""

    name = "bracketed"
    description = "test format"
    reference = "this test"

    def render(self, record):
        prompt = f"[{record.instruction}|{record.input}]"
        return Rendered(prompt, getattr(record, "output", "") or "")

    def parse(self, text):
        head, _, output = text.partition("]")
        instruction, _, input = head[1:].partition("|")
        return Record(instruction=instruction, input=input, output=output)

    def check(self, record):
        bad = [f for f in ("instruction", "input") if any(c in getattr(record, f) for c in "[]|")]
        bad += ["output"] if "]" in record.output else []
        return Verdict(tuple(Loss(LossReason.MARKER_IN_CONTENT, f, "a bracket") for f in bad))


def test_formats_without_the_template_fast_paths_convert_through_render_and_check():
    fmt = Bracketed()
    assert not isinstance(fmt, TemplateFormat)
    out: list[dict] = []
    items = items_of([{"instruction": "a", "input": "b", "output": "c"}, {"instruction": "x]", "output": "y"}])
    summary = convert(items, out.append, target=fmt, output_layout="prompt-completion")
    assert out == [{"prompt": "[a|b]", "completion": "c"}, {"prompt": "[x]|]", "completion": "y"}]
    assert summary.lossy_records == 1 and summary.lossy == {"marker-in-content": 1}
