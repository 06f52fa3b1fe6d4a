"""Golden tests: each built-in Alpaca and Phi-3 format against the reference it names.

References (read from ../shared/data at test time, never copied; the golden strings copied from them
are in tests/golden.py):
* alpaca       -- the `text` column of torchtune_alpaca_tiny/alpaca_tiny.json (Stanford Alpaca as published),
                  prompt = stanford_alpaca train.py PROMPT_DICT (quoted in stanford_alpaca/SOURCE.md).
* alpaca-llmfs -- LLMs-from-scratch ch07 `format_input`: the notebook's printed strings for entries
                  50 and 999 (rasbt_llms_from_scratch_ch07/SOURCE.md), and the course formula for all 1100.
* phi3         -- the official Phi-3-mini chat template, chat_templates/trl_original/phi3.jinja, rendered
                  in a Jinja sandbox for all 1100 course records.
* phi3-llmfs   -- the course's exercise 7.1 `format_input_phi` (same SOURCE.md).
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given

from promptfmt import Query, Record

from .golden import (
    COURSE_50,
    COURSE_999,
    LLMFS_50,
    LLMFS_999,
    PHI3_LLMFS_PROMPT_50,
    PHI3_LLMFS_TEXT_50,
    STANFORD_PROMPT_INPUT,
    STANFORD_PROMPT_NO_INPUT,
)
from .helpers import COURSE, builtin
from .reference import load_template, reference_pair
from .strategies import builtin_records


def course_format_input(entry: dict) -> str:
    """The course's format_input, as SOURCE.md describes it (one preamble, input block only when truthy)."""
    text = (
        "Below is an instruction that describes a task. Write a response that appropriately completes the request."
        f"\n\n### Instruction:\n{entry['instruction']}"
    )
    return text + (f"\n\n### Input:\n{entry['input']}" if entry["input"] else "")


def course_format_input_phi(entry: dict) -> str:
    return f"<|user|>\n{entry['instruction']}" + (f"\n{entry['input']}" if entry["input"] else "")


@pytest.fixture(scope="module")
def course_data(shared_data):
    return json.loads((shared_data / COURSE).read_text("utf-8"))


@pytest.fixture(scope="module")
def alpaca_tiny(shared_data):
    return json.loads((shared_data / "torchtune_alpaca_tiny" / "alpaca_tiny.json").read_text("utf-8"))


def as_record(entry: dict) -> Record:
    return Record(instruction=entry["instruction"], input=entry["input"], output=entry["output"])


# -- alpaca ------------------------------------------------------------------------------------


def test_alpaca_equals_published_text_column(alpaca_tiny):
    fmt = builtin("alpaca")
    assert len(alpaca_tiny) == 100
    assert sum(1 for e in alpaca_tiny if e["input"]) == 46  # both preambles are exercised
    for entry in alpaca_tiny:
        rendered = fmt.render(as_record(entry))
        assert rendered.text == entry["text"]
        template = STANFORD_PROMPT_INPUT if entry["input"] else STANFORD_PROMPT_NO_INPUT
        assert rendered.prompt == template.format_map(entry)
        assert rendered.completion == "\n" + entry["output"]
        assert fmt.parse(entry["text"]) == as_record(entry)
        assert fmt.check(as_record(entry)).lossless


def test_alpaca_prompt_alone_parses_for_inference():
    fmt = builtin("alpaca")
    prompt = STANFORD_PROMPT_INPUT.format(instruction="Identify the odd one out.", input="Twitter, Instagram, Telegram")
    assert fmt.parse(prompt) == Query(instruction="Identify the odd one out.", input="Twitter, Instagram, Telegram")


# -- alpaca-llmfs --------------------------------------------------------------------------------


def test_alpaca_llmfs_exact_for_notebook_entries(course_data):
    fmt = builtin("alpaca-llmfs")
    assert fmt.render(as_record(course_data[50])).text == LLMFS_50
    assert fmt.render(as_record(course_data[999])).text == LLMFS_999
    assert fmt.parse(LLMFS_50) == as_record(course_data[50])
    # the records the conformance classes get these strings with are the notebook's entries
    assert (as_record(course_data[50]), as_record(course_data[999])) == (COURSE_50, COURSE_999)


def test_alpaca_llmfs_consistent_for_all_course_records(course_data):
    fmt = builtin("alpaca-llmfs")
    assert len(course_data) == 1100
    for entry in course_data:
        rendered = fmt.render(as_record(entry))
        assert rendered.prompt == course_format_input(entry)
        assert rendered.text == course_format_input(entry) + f"\n\n### Response:\n{entry['output']}"
        assert fmt.parse(rendered.text) == as_record(entry)


# -- phi3 ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def phi3_template(shared_data):
    return load_template(shared_data / "chat_templates" / "trl_original" / "phi3.jinja")


def test_phi3_equals_official_template_for_all_course_records(course_data, phi3_template):
    fmt = builtin("phi3")
    for entry in course_data:
        text, prompt = reference_pair(phi3_template, entry["instruction"], entry["input"], entry["output"],
                                      eos_token="<|endoftext|>")
        rendered = fmt.render(as_record(entry))
        assert rendered.text == text
        assert rendered.prompt == prompt


@given(record=builtin_records("phi3"))
def test_phi3_equals_official_template_for_generated_records(record, shared_data):
    template = load_template(shared_data / "chat_templates" / "trl_original" / "phi3.jinja")
    text, prompt = reference_pair(template, record.instruction, record.input, record.output, eos_token="<|endoftext|>")
    rendered = builtin("phi3").render(record)
    assert (rendered.text, rendered.prompt) == (text, prompt)


def test_phi3_course_record_with_multiline_instruction_is_lossy_but_rendered(course_data):
    """One course record has a newline in its instruction: the separator, so the split is ambiguous."""
    fmt = builtin("phi3")
    multiline = [i for i, e in enumerate(course_data) if "\n" in e["instruction"]]
    assert len(multiline) == 1
    verdict = fmt.check(as_record(course_data[multiline[0]]))
    assert [loss.reason.value for loss in verdict.losses] == ["separator-in-instruction"]
    lossless = [e for e in course_data if fmt.check(as_record(e)).lossless]
    assert len(lossless) == 1099
    assert all(fmt.parse(fmt.render(as_record(e)).text) == as_record(e) for e in lossless)


# -- phi3-llmfs --------------------------------------------------------------------------------------


def test_phi3_llmfs_exact_for_exercise_entry(course_data):
    fmt = builtin("phi3-llmfs")
    rendered = fmt.render(as_record(course_data[50]))
    assert rendered.prompt == PHI3_LLMFS_PROMPT_50
    assert rendered.text == PHI3_LLMFS_TEXT_50
    assert fmt.render(as_record(course_data[999])).prompt == "<|user|>\nWhat is an antonym of 'complicated'?"


def test_phi3_llmfs_consistent_for_all_course_records(course_data):
    fmt = builtin("phi3-llmfs")
    for entry in course_data:
        rendered = fmt.render(as_record(entry))
        assert rendered.prompt == course_format_input_phi(entry)
        assert rendered.text == course_format_input_phi(entry) + f"\n<|assistant|>:\n{entry['output']}"
