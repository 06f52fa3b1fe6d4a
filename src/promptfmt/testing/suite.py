"""`FormatConformance`: the test class plugin authors subclass, and `conformance_suite`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from hypothesis import given
from hypothesis import strategies as st

from ..format import Format
from ..models import Query, Record
from ..plugins.registry import load_registry
from ..templating.declarative import load_format_file
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
from .strategies import content_strategy, conversation_strategy, record_strategy, text_strategy

if TYPE_CHECKING:
    from ..templating.sandbox import ChatTemplate


def _builtin_formats() -> tuple[Format, ...]:
    """promptfmt's own formats (no entry points, no format files), to convert to and from."""
    registry, _ = load_registry(entry_points=False, formats_dir="")
    return tuple(registry)


# -- the class plugin authors subclass ------------------------------------------------------------


class FormatConformance:
    """Subclass in a pytest module, set ``format`` (and ``golden``), and every check runs on it."""

    format: Format
    golden: Sequence[tuple[Record, str]] = ()
    golden_prompts: Sequence[tuple[Query, str]] = ()
    chat_template: ChatTemplate | None = None  # the official template, to compare with on generated records
    separator: str = "\n"  # how instruction and input share the user message, for chat_template

    def __init_subclass__(cls, **kwargs: object) -> None:
        """Give every subclass its own copy of the Hypothesis tests.

        Hypothesis refuses (health check ``differing_executors``) one ``@given`` method run by two
        classes, which is what two conformance classes in one suite would otherwise do.
        """
        super().__init_subclass__(**kwargs)
        if getattr(cls, "chat_template", None) is None:
            cls.test_matches_chat_template = None  # type: ignore[assignment]  # nothing to compare with: no test
        for name, test in _KIT_PROPERTY_TESTS.items():
            if getattr(getattr(cls, name, None), "hypothesis", None) and getattr(cls, name).hypothesis.inner_test is test:
                setattr(cls, name, given(data=st.data())(test))

    def test_golden_strings(self) -> None:
        for record, expected in self.golden:
            assert self.format.render(record).text == expected, f"{self.format.name}: golden text differs for {record!r}"
            assert self.format.parse(expected).fields() == record.fields()
        for query, expected in self.golden_prompts:
            prop_golden(self.format, Query(instruction=query.instruction, input=query.input), expected)

    def test_contract_attributes(self) -> None:
        fmt = self.format
        assert isinstance(fmt, Format), f"{fmt!r} is not a promptfmt Format"
        assert fmt.name and fmt.name == fmt.name.strip(), "a format needs a name without surrounding spaces"
        assert fmt.description and "\n" not in fmt.description, "the description is one line"
        assert fmt.reference, "a format names the reference it follows"

    @given(data=st.data())
    def test_lossless_round_trip(self, data: st.DataObject) -> None:
        prop_lossless_round_trip(self.format, data.draw(record_strategy(self.format)))

    @given(data=st.data())
    def test_lossy_verdict_is_right(self, data: st.DataObject) -> None:
        prop_lossy_verdict_is_right(self.format, data.draw(record_strategy(self.format)))

    @given(data=st.data())
    def test_reparse(self, data: st.DataObject) -> None:
        prop_reparse(self.format, data.draw(text_strategy(self.format)))

    @given(data=st.data())
    def test_prompt_is_prefix(self, data: st.DataObject) -> None:
        prop_prompt_is_prefix(self.format, data.draw(record_strategy(self.format)), data.draw(content_strategy(self.format)))

    @given(data=st.data())
    def test_empty_input(self, data: st.DataObject) -> None:
        content = content_strategy(self.format)
        prop_empty_input(self.format, data.draw(content), data.draw(content), data.draw(content))

    @given(data=st.data())
    def test_fast_paths_agree(self, data: st.DataObject) -> None:
        prop_fast_paths_agree(self.format, data.draw(record_strategy(self.format)))

    def test_plain_records_are_lossless_and_round_trip(self) -> None:
        """A record without markers or padding is lossless, with and without input."""
        for record in (
            Record(instruction="Name a colour.", output="Blue."),
            Record(instruction="Translate to French.", input="Good morning", output="Bonjour"),
        ):
            assert self.format.check(record).lossless, self.format.check(record)
            assert self.format.parse(self.format.render(record).text) == record
            query = Query(instruction=record.instruction, input=record.input)
            assert self.format.parse(self.format.render(record).prompt) == query

    def test_whitespace_only_input_is_rendered_not_dropped(self) -> None:
        """docs/architecture.md, "Semantics": whitespace is an input; it is rendered unless the template trims it (then: lossy)."""
        record = Record(instruction="Summarise.", input="  ", output="Nothing.")
        plain = Record(instruction="Summarise.", output="Nothing.")
        if self.format.check(record).lossless:
            assert self.format.render(record).prompt != self.format.render(plain).prompt
        else:
            assert {loss.field for loss in self.format.check(record).losses} == {"input"}

    @given(data=st.data())
    def test_conversion_with_builtin_formats(self, data: st.DataObject) -> None:
        other = data.draw(st.sampled_from(_builtin_formats()))
        record = data.draw(record_strategy(self.format))
        prop_conversion(self.format, other, record)
        prop_conversion(other, self.format, record)

    @given(data=st.data())
    def test_conversations_render_into_segments_and_parse_back_when_lossless(self, data: st.DataObject) -> None:
        prop_conversation_round_trip(self.format, data.draw(conversation_strategy(self.format)))

    @given(data=st.data())
    def test_matches_chat_template(self, data: st.DataObject) -> None:
        """Only in classes that set ``chat_template`` (a class attribute or a property)."""
        assert self.chat_template is not None, "set chat_template to compare with the official template"
        prop_matches_chat_template(self.format, self.chat_template, data.draw(record_strategy(self.format)), self.separator)
        conversation = data.draw(conversation_strategy(self.format))
        prop_conversation_matches_chat_template(self.format, self.chat_template, conversation)


_KIT_PROPERTY_TESTS = {
    name: value.hypothesis.inner_test
    for name, value in vars(FormatConformance).items()
    if getattr(value, "hypothesis", None) is not None
}


def conformance_suite(
    fmt: Format | str | Path,
    *,
    golden: Sequence[tuple[Record, str]] = (),
    golden_prompts: Sequence[tuple[Query, str]] = (),
    chat_template: ChatTemplate | None = None,
    separator: str = "\n",
) -> type[FormatConformance]:
    """A `FormatConformance` test class for ``fmt`` (a format, or the path of a declarative TOML file).

    Assign it to a ``Test…`` name in a test module and pytest runs every check::

        TestHouseStyle = conformance_suite("formats/house-style.toml")
    """
    if not isinstance(fmt, Format):
        fmt = load_format_file(fmt)
    attributes = {
        "format": fmt, "golden": tuple(golden), "golden_prompts": tuple(golden_prompts),
        "chat_template": chat_template, "separator": separator,
    }
    name = "Test" + "".join(part.capitalize() for part in fmt.name.replace(".", "-").replace("_", "-").split("-"))
    return type(name, (FormatConformance,), attributes)

