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
chat template rendered in a Jinja sandbox, on generated records.

The ``prop_*`` functions are the same checks for one example each; the ``*_strategy`` functions are
the generators. This module needs ``hypothesis`` and ``pytest`` (test dependencies, not runtime ones).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

try:
    from hypothesis import given
    from hypothesis import strategies as st
except ImportError as exc:  # the kit is an extra: say what to install
    raise ImportError(
        "promptfmt.testing (the conformance kit) needs Hypothesis and pytest: pip install 'promptfmt[testing]'"
    ) from exc

from .errors import ParseError
from .format import Format
from .models import LossReason, Query, Record
from .plugins.registry import load_registry
from .templating.declarative import load_format_file
from .templating.template import TemplateFormat

if TYPE_CHECKING:
    from .templating.sandbox import ChatTemplate

__all__ = [
    "FormatConformance",
    "conformance_suite",
    "content_strategy",
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

# Characters JSON can carry (no lone surrogates), with control characters and odd whitespace on purpose.
_CHARACTERS = st.characters(exclude_categories=["Cs"])
_EDGES = ("", " ", "\n", "\n\n", "\t", "  \n ", "\r\n", "\u00a0", "\u2028", "é", "日本語", "🙂", "\x00", "\x1b[0m")


def hostile_pieces(fmt: Format) -> tuple[str, ...]:
    """Literals that could confuse ``fmt``: its template pieces and markers, plus generic edge cases."""
    pieces: list[str] = list(fmt.markers)
    if isinstance(fmt, TemplateFormat):
        t = fmt.template
        pieces += [t.prefix, t.prefix_no_input or "", t.separator, t.prompt_suffix, t.response_prefix,
                   t.after_prompt, t.end, t.end + t.end]
    return tuple(dict.fromkeys(p for p in (*pieces, *_EDGES)))


def content_strategy(fmt: Format | None = None, *, max_pieces: int = 5) -> st.SearchStrategy[str]:
    """Field content: readable text mixed with the format's own markers and whitespace edges."""
    pieces = hostile_pieces(fmt) if fmt is not None else _EDGES
    part = st.one_of(
        st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=12),
        st.text(alphabet=_CHARACTERS, max_size=6),
        st.sampled_from(pieces),
    )
    return st.lists(part, max_size=max_pieces).map("".join)


def record_strategy(fmt: Format | None = None) -> st.SearchStrategy[Record]:
    """Records whose fields are drawn from `content_strategy`; a third have no input."""
    content = content_strategy(fmt)
    return st.builds(
        lambda instruction, input, output: Record(instruction=instruction, input=input, output=output),
        content,
        st.one_of(st.just(""), content),
        content,
    )


def text_strategy(fmt: Format) -> st.SearchStrategy[str]:
    """Texts to parse: renderings (full and prompt alone), damaged renderings, and arbitrary text."""
    rendered = record_strategy(fmt).flatmap(
        lambda r: st.sampled_from((fmt.render(r).text, fmt.render(r).prompt))
    )
    pieces = st.sampled_from(hostile_pieces(fmt))

    def damage(text: str, data: tuple[int, int, str]) -> str:
        start, length, insert = data
        start = start % (len(text) + 1)
        return text[:start] + insert + text[start + length :]

    damaged = st.tuples(rendered, st.tuples(st.integers(0, 10_000), st.integers(0, 8), st.one_of(st.just(""), pieces))).map(
        lambda pair: damage(*pair)
    )
    return st.one_of(rendered, damaged, content_strategy(fmt, max_pieces=8))


# -- properties (docs/architecture.md, "Properties"), one example each ------------------------------------------


def prop_lossless_round_trip(fmt: Format, record: Record) -> None:
    """Property 1: a record the format calls lossless comes back exactly, and so does its prompt."""
    if fmt.check(record).lossless:
        rendered = fmt.render(record)
        back = fmt.parse(rendered.text)
        assert isinstance(back, Record), f"{fmt.name}: parsing a full text gave no output: {back!r}"
        assert back.fields() == record.fields(), f"{fmt.name}: round trip changed {record!r} into {back!r}"
    query = Query(instruction=record.instruction, input=record.input)
    if fmt.check(query).lossless:
        back = fmt.parse(fmt.render(query).prompt)
        assert not isinstance(back, Record), f"{fmt.name}: a prompt alone parsed with an output: {back!r}"
        assert back.fields() == query.fields(), f"{fmt.name}: prompt round trip changed {query!r} into {back!r}"


def prop_lossy_verdict_is_right(fmt: Format, record: Record) -> None:
    """Property 2: a lossy verdict gives declared reasons, and the round trip indeed fails."""
    for subject in (record, Query(instruction=record.instruction, input=record.input)):
        verdict = fmt.check(subject)
        if verdict.lossless:
            continue
        assert verdict.losses, f"{fmt.name}: lossy verdict without a reason"
        for loss in verdict.losses:
            assert loss.reason in set(LossReason), f"{fmt.name}: undeclared reason {loss.reason!r}"
            assert loss.field in ("instruction", "input", "output"), f"{fmt.name}: unknown field {loss.field!r}"
            assert loss.message, f"{fmt.name}: a loss without a message"
        rendered = fmt.render(subject)
        text = rendered.text if isinstance(subject, Record) else rendered.prompt
        try:
            back = fmt.parse(text)
        except ParseError:
            continue
        same = back.fields() == subject.fields() and isinstance(back, Record) == isinstance(subject, Record)
        assert not same, f"{fmt.name}: called {subject!r} lossy ({verdict.losses}) but it round-trips"


def prop_reparse(fmt: Format, text: str) -> None:
    """Property 3: accepted text renders back to itself; rejected text names an offset and an expectation."""
    try:
        parsed = fmt.parse(text)
    except ParseError as exc:
        assert 0 <= exc.offset <= len(text), f"{fmt.name}: offset {exc.offset} outside the text"
        assert exc.expected, f"{fmt.name}: a parse error that does not say what was expected"
        assert str(exc.offset) in str(exc), f"{fmt.name}: the message does not name the offset: {exc}"
        return
    rendered = fmt.render(parsed)
    again = rendered.text if isinstance(parsed, Record) else rendered.prompt
    assert again == text, f"{fmt.name}: parse accepted {text!r} but renders it as {again!r}"


def prop_prompt_is_prefix(fmt: Format, record: Record, other_output: str) -> None:
    """Property 4: the prompt is a prefix of the text and does not depend on the output."""
    rendered = fmt.render(record)
    assert rendered.text == rendered.prompt + rendered.completion
    assert rendered.text.startswith(rendered.prompt), f"{fmt.name}: prompt is not a prefix of the text"
    changed = record.model_copy(update={"output": other_output})
    assert fmt.render(changed).prompt == rendered.prompt, f"{fmt.name}: the prompt depends on the output"
    query = Query(instruction=record.instruction, input=record.input)
    assert fmt.render(query).prompt == rendered.prompt, f"{fmt.name}: a Query renders another prompt"


def prop_empty_input(fmt: Format, instruction: str, input: str, output: str) -> None:
    """Property 5: a missing input and "" render identically; a non-empty input appears in the prompt."""
    missing = Record.model_validate({"instruction": instruction, "output": output})
    empty = Record.model_validate({"instruction": instruction, "input": "", "output": output})
    assert fmt.render(missing) == fmt.render(empty), f"{fmt.name}: missing input and '' render differently"
    if input:
        record = Record(instruction=instruction, input=input, output=output)
        trimmed = any(loss.field == "input" and loss.reason is LossReason.TRIMMED_WHITESPACE
                      for loss in fmt.check(record).losses)
        if not trimmed:
            assert input in fmt.render(record).prompt, f"{fmt.name}: the input {input!r} is not in the prompt"


def prop_fast_paths_agree(fmt: Format, record: Record) -> None:
    """The plain-string fast paths (`Format.render_fields`, ``render_text_fields``, ``check_fields``)
    give exactly what `Format.render` and `Format.check` give on the record; a `TemplateFormat`'s
    ``clearly_lossless`` says True only of records `Format.check` finds lossless."""
    fields = (record.instruction, record.input, record.output)
    rendered = fmt.render(record)
    assert fmt.render_fields(*fields) == (rendered.prompt, rendered.completion), f"{fmt.name}: render_fields differs"
    assert fmt.render_text_fields(*fields) == rendered.text, f"{fmt.name}: render_text_fields differs"
    assert fmt.check_fields(*fields) == fmt.check(record), f"{fmt.name}: check_fields differs from check"
    if isinstance(fmt, TemplateFormat) and fmt.clearly_lossless(*fields):
        assert fmt.check(record).lossless, f"{fmt.name}: clearly_lossless on a record that check finds lossy"
    query = Query(instruction=record.instruction, input=record.input)
    assert fmt.check_fields(record.instruction, record.input) == fmt.check(query), f"{fmt.name}: check_fields (prompt)"


def prop_conversion(source: Format, target: Format, record: Record) -> None:
    """Property 6: text converted A -> B -> A is the original text when the record is lossless in both."""
    if not (source.check(record).lossless and target.check(record).lossless):
        return
    text_a = source.render(record).text
    text_b = target.render(source.parse(text_a)).text
    assert target.render(record).text == text_b, f"{source.name} -> {target.name} is not the direct rendering"
    assert source.render(target.parse(text_b)).text == text_a, f"{source.name} -> {target.name} -> back changed"


def prop_golden(fmt: Format, record: Query, expected: str) -> None:
    """Golden: ``record`` renders to exactly ``expected`` (the text, or the prompt of a `Query`) and parses back."""
    rendered = fmt.render(record)
    got = rendered.text if isinstance(record, Record) else rendered.prompt
    assert got == expected, f"{fmt.name}: golden {'text' if isinstance(record, Record) else 'prompt'} differs for {record!r}:\n{got!r}\n!=\n{expected!r}"
    if fmt.check(record).lossless:
        back = fmt.parse(expected)
        assert back.fields() == record.fields() and isinstance(back, Record) == isinstance(record, Record), (
            f"{fmt.name}: golden text parses as {back!r}, not {record!r}"
        )


def prop_matches_chat_template(fmt: Format, template: ChatTemplate, record: Record, separator: str = "\n") -> None:
    """Fidelity: the text equals the chat template's ``[user, assistant]`` rendering, the prompt its
    ``[user]`` rendering with the generation prompt (docs/architecture.md, "Semantics").

    The user message is the instruction, then ``separator`` and the input when the input is non-empty.
    """
    user = record.instruction + separator + record.input if record.input else record.instruction
    messages = [{"role": "user", "content": user}]
    text = template.render([*messages, {"role": "assistant", "content": record.output}], add_generation_prompt=False)
    prompt = template.render(messages, add_generation_prompt=True)
    rendered = fmt.render(record)
    assert rendered.text == text, f"{fmt.name}: text differs from {template.origin} for {record!r}:\n{rendered.text!r}\n!=\n{text!r}"
    assert rendered.prompt == prompt, f"{fmt.name}: prompt differs from {template.origin} for {record!r}:\n{rendered.prompt!r}\n!=\n{prompt!r}"


@lru_cache(maxsize=1)
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
    def test_matches_chat_template(self, data: st.DataObject) -> None:
        """Only in classes that set ``chat_template`` (a class attribute or a property)."""
        assert self.chat_template is not None, "set chat_template to compare with the official template"
        prop_matches_chat_template(self.format, self.chat_template, data.draw(record_strategy(self.format)), self.separator)


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
