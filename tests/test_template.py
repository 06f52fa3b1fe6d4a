"""The template engine: parse errors, prompt-alone parsing, trimming, and definitions it refuses."""

from __future__ import annotations

import pytest

from promptfmt import (
    FormatDefinitionError,
    LossReason,
    ParseError,
    Query,
    Record,
    Template,
    TemplateFormat,
)

from .helpers import builtin, builtin_registry

TRIMMING = TemplateFormat(
    "trimming",
    Template(prefix="<u>", separator="\n", prompt_suffix="</u><a>", end="</a>", chat=True, trim=True),
    description="A chat style whose template trims message contents.",
    reference="tests/test_template.py",
)


def test_parse_error_names_offset_and_expectation():
    fmt = builtin("phi3")
    with pytest.raises(ParseError) as caught:
        fmt.parse("<|user|>\nhello<|end|>\n<|assistant|>\nhi")
    error = caught.value
    assert error.offset == len("<|user|>\nhello<|end|>\n<|assistant|>\nhi")
    assert "<|end|>\\n<|endoftext|>" in error.expected
    assert f"offset {error.offset}" in str(error)
    with pytest.raises(ParseError, match="at offset 0 expected the preamble"):
        fmt.parse("### Instruction:\nhello")


def test_trailing_text_after_the_end_is_rejected():
    fmt = builtin("phi3")
    text = fmt.render(Record(instruction="a", output="b")).text
    with pytest.raises(ParseError, match=f"at offset {len(text)} expected the end of the text"):
        fmt.parse(text + "more")


def test_empty_input_block_is_not_text_the_format_produces():
    with pytest.raises(ParseError, match="a non-empty input"):
        builtin("phi3").parse("<|user|>\nhello\n<|end|>\n<|assistant|>\nhi<|end|>\n<|endoftext|>")


def test_prompt_alone_gives_a_query_for_every_builtin():
    for fmt in builtin_registry():
        for query in (Query(instruction="Add 2 and 3."), Query(instruction="Translate.", input="Hallo")):
            parsed = fmt.parse(fmt.render(query).prompt)
            assert type(parsed) is Query and parsed == query, fmt.name


def test_stanford_alpaca_and_course_alpaca_differ_only_with_input():
    stanford, course = builtin("alpaca"), builtin("alpaca-llmfs")
    plain = Record(instruction="Say hi.", output="Hi.")
    assert stanford.render(plain).text == course.render(plain).text
    assert stanford.render(plain).prompt != course.render(plain).prompt  # Stanford's prompt ends in '### Response:'
    with_input = Record(instruction="Say hi to", input="Ann", output="Hi Ann.")
    assert stanford.render(with_input).text != course.render(with_input).text


def test_trimming_template_renders_like_the_template_and_reports_the_loss():
    record = Record(instruction="  ask", input="ctx  ", output=" answer\n")
    rendered = TRIMMING.render(record)
    assert rendered.text == "<u>ask\nctx</u><a>answer</a>"
    verdict = TRIMMING.check(record)
    assert verdict.reasons == {LossReason.TRIMMED_WHITESPACE}
    assert {loss.field for loss in verdict.losses} == {"instruction", "input", "output"}
    assert TRIMMING.parse(rendered.text) == Record(instruction="ask", input="ctx", output="answer")
    with pytest.raises(ParseError, match="This template trims it"):
        TRIMMING.parse("<u> ask</u><a>answer</a>")


def test_marker_in_output_is_lossy_where_the_output_has_an_end():
    fmt = builtin("phi3")
    record = Record(instruction="a", output="x<|end|>\n<|endoftext|>y")
    verdict = fmt.check(record)
    assert [(loss.reason, loss.field) for loss in verdict.losses] == [(LossReason.MARKER_IN_CONTENT, "output")]
    with pytest.raises(ParseError):
        fmt.parse(fmt.render(record).text)
    # the Stanford output runs to the end of the text: any content survives
    assert builtin("alpaca").check(Record(instruction="a", output="### Response:\n### Input:")).lossless


def test_a_format_with_nothing_after_the_answer_reads_a_bare_prompt_as_a_prompt():
    """Allowed since templates such as ChatGLM-4's end there: an empty output is the one loss."""
    fmt = TemplateFormat("bare", Template(prefix="Q:", separator="\n", prompt_suffix="A:"))
    assert fmt.parse("Q:hiA:") == Query(instruction="hi") and fmt.parse("Q:hiA:yo") == Record(instruction="hi", output="yo")
    assert fmt.check(Record(instruction="hi", output="")).losses[0].reason == LossReason.EMPTY_OUTPUT
    assert fmt.check(Record(instruction="hi", output="yo")).lossless


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"separator": ""}, "separator: must not be empty"),
        ({"separator": "\n", "prompt_suffix": "", "response_prefix": ""}, "nothing would mark"),
        ({"separator": "A:", "prompt_suffix": "A:", "end": "."}, "input block could not be told apart"),
        ({"separator": "\n", "prompt_suffix": "A:", "chat": True, "prefix_no_input": "P:"}, "prefix_no_input, chat: "),
        ({"separator": "\n", "prompt_suffix": "A:", "end": ".", "input_block": "sometimes"}, "input_block: must be one of"),
    ],
)
def test_unusable_definitions_are_refused(fields, message):
    with pytest.raises(FormatDefinitionError, match=message):
        Template(prefix="Q:", **fields)
