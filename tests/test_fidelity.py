"""Fidelity: each format named after a model renders byte for byte what the model's official template renders.

The official Jinja templates are read from ``../shared/data/chat_templates`` at test time (its
SOURCE.md says which file is which model) and rendered like Hugging Face ``apply_chat_template``
(`tests.reference`): ``text`` is ``[user, assistant]`` without a generation prompt, ``prompt`` is
``[user]`` with one (templates without a generation prompt render ``[user]`` alone). The user message
is the instruction, then ``"\\n"`` and the input when non-empty, as in the course. Each case runs on
all 1100 course records and on Hypothesis-generated records.

Formats without an official Jinja template are checked against golden strings from the reference
they name: ``vicuna`` (FastChat's ``vicuna_v1.1`` conversation, whose ``get_prompt`` is re-typed
below) and ``mistral-v3`` (Mistral's published V3 rendering).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from promptfmt import LossReason, Query, Record

from .golden import (
    MISTRAL_V3_HELLO,
    MISTRAL_V3_HELLO_PROMPT,
    MISTRAL_V3_HELLO_TEXT,
    MISTRAL_V3_HI,
    MISTRAL_V3_HI_TEXT,
    VICUNA_HELLO,
    VICUNA_HELLO_PROMPT,
    VICUNA_HELLO_TEXT,
    VICUNA_PADDED,
    VICUNA_PADDED_TEXT,
    VICUNA_SYSTEM,
)
from .helpers import COURSE, ROOT, builtin, builtin_registry
from .reference import TemplateRaised, load_template, reference_pair, render_chat, user_content
from .strategies import padded_records

README = ROOT / "README.md"

LLAMA_TOKENS = {"bos_token": "<s>", "eos_token": "</s>"}  # Llama-2, Mistral, Zephyr (sentencepiece)
LLAMA3_TOKENS = {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>"}
PHI3_TOKENS = {"bos_token": "<s>", "eos_token": "<|endoftext|>"}
QWEN_TOKENS = {"bos_token": "", "eos_token": "<|im_end|>"}
GEMMA_CONFIG = "tokenizer_configs/torchtune_tokenizer_config_gemma.json"  # bos <bos>, eos <eos>


@dataclass(frozen=True)
class Case:
    format: str
    template: str  # path under chat_templates/
    tokens: dict[str, str] | None = None  # None: read from the Gemma tokenizer_config; variables such as date_string too

    @property
    def id(self) -> str:
        return f"{self.format}:{Path(self.template).stem}"


CASES = [
    Case("chatml", "ollama/extracted/06_chatml.jinja", QWEN_TOKENS),
    Case("qwen2", "ollama/extracted/07_chatml.jinja", QWEN_TOKENS),
    Case("qwen2.5", "trl_original/qwen2_5.jinja", QWEN_TOKENS),
    Case("llama2", "ollama/extracted/28_llama2-chat.jinja", LLAMA_TOKENS),
    Case("llama2", "ollama/extracted/12_llama2-chat.jinja", LLAMA_TOKENS),
    Case("llama3", "trl_original/llama3.jinja", LLAMA3_TOKENS),
    Case("llama3.1", "ollama/extracted/24_llama3-instruct.jinja", LLAMA3_TOKENS),
    Case("mistral", "ollama/extracted/10_mistral-instruct.jinja", LLAMA_TOKENS),
    Case("mistral-v0.1", "ollama/extracted/14_mistral-instruct.jinja", LLAMA_TOKENS),
    Case("zephyr", "ollama/extracted/02_zephyr.jinja", LLAMA_TOKENS),
    Case("gemma", "trl_original/gemma.jinja"),
    Case("gemma3", "ollama/extracted/22_gemma3-instruct.jinja"),
    Case("phi3", "trl_original/phi3.jinja", PHI3_TOKENS),
    Case("phi3", "trl_original/phi3_5.jinja", PHI3_TOKENS),  # Phi-3.5 renders a conversation without system alike
    # today's families (chat_templates/current, see its SOURCE.md)
    Case("llama3.1", "current/llama-3.2-3b-instruct.jinja", {**LLAMA3_TOKENS, "date_string": "26 Jul 2024"}),
    Case("phi4", "current/phi-4.jinja", {"bos_token": "<|endoftext|>", "eos_token": "<|im_end|>"}),
    Case("phi4-mini", "current/phi-4-mini.tokenizer_config.json", {"bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>"}),
    Case("mistral-nemo", "current/mistral-nemo-instruct-2407.jinja", LLAMA_TOKENS),
    Case("qwen3", "current/qwen3-0.6b.jinja", {**QWEN_TOKENS, "enable_thinking": False}),
    Case("smollm3", "current/smollm3-3b.jinja", {**QWEN_TOKENS, "enable_thinking": False}),
]
TRIMMING = {"llama2", "llama3", "llama3.1", "gemma", "gemma3"}  # templates that | trim / .strip() user message and output
LEADING_NEWLINES = {"qwen3", "smollm3"}  # templates that strip leading newlines of the (last) answer
CONTENT_DEPENDENT = LossReason.CONTENT_DEPENDENT  # such records render otherwise in the template, and say so

by_case = pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])


@pytest.fixture(scope="module")
def chat_templates(shared_data) -> Path:
    return shared_data / "chat_templates"


@pytest.fixture(scope="module")
def course_records(shared_data) -> list[Record]:
    data = json.loads((shared_data / COURSE).read_text("utf-8"))
    return [Record(instruction=e["instruction"], input=e["input"], output=e["output"]) for e in data]


def _tokens(case: Case, chat_templates: Path) -> dict[str, str]:
    if case.tokens is not None:
        return case.tokens
    config = json.loads((chat_templates / GEMMA_CONFIG).read_text("utf-8"))
    return {"bos_token": config["bos_token"], "eos_token": config["eos_token"]}


def _mismatch(case: Case, source: str, tokens: dict[str, str], record: Record) -> str | None:
    """None when promptfmt renders ``record`` exactly like the template, else what differs."""
    if CONTENT_DEPENDENT in builtin(case.format).check(record).reasons:
        return None  # rendered by the pieces, reported lossy: the template renders such an answer otherwise
    text, prompt = reference_pair(source, record.instruction, record.input, record.output, **tokens)
    rendered = builtin(case.format).render(record)
    if not text.startswith(prompt):
        return f"the template's own prompt {prompt!r} is not a prefix of its text {text!r}"
    if rendered.text != text:
        return f"text {rendered.text!r} != template {text!r}"
    if rendered.prompt != prompt:
        return f"prompt {rendered.prompt!r} != template {prompt!r}"
    return None


@by_case
def test_every_course_record_renders_like_the_official_template(case, chat_templates, course_records):
    source = load_template(chat_templates / case.template)
    tokens = _tokens(case, chat_templates)
    assert len(course_records) == 1100
    bad = {}
    for index, record in enumerate(course_records):
        problem = _mismatch(case, source, tokens, record)
        if problem:
            bad[index] = problem
    assert not bad, f"{len(bad)} of 1100 records differ from {case.template}; first: {next(iter(bad.items()))}"


@by_case
@given(data=st.data())
def test_generated_records_render_like_the_official_template(case, chat_templates, data):
    record = data.draw(padded_records(case.format), "record")
    source = load_template(chat_templates / case.template)
    assert _mismatch(case, source, _tokens(case, chat_templates), record) is None


@pytest.mark.parametrize("name", sorted({case.format for case in CASES}))
@given(data=st.data())
def test_the_check_reports_exactly_the_whitespace_the_template_drops(name, data):
    record = data.draw(padded_records(name), "record")
    user = user_content(record.instruction, record.input)
    dropped = name in TRIMMING and (user != user.strip() or record.output != record.output.strip()) or \
        name in LEADING_NEWLINES and record.output.startswith("\n")
    verdict = builtin(name).check(record)
    if verdict.reasons == {LossReason.CONTENT_DEPENDENT}:  # check stops at that reason (Qwen3's '</think>')
        return
    assert (LossReason.TRIMMED_WHITESPACE in verdict.reasons) == dropped, verdict


def test_trimming_templates_render_padded_records_and_call_them_lossy(chat_templates):
    record = Record(instruction="  Add 2 and 3.", input="", output="5\n")
    for case in CASES:
        if case.format not in TRIMMING:
            continue
        fmt = builtin(case.format)
        source = load_template(chat_templates / case.template)
        assert _mismatch(case, source, _tokens(case, chat_templates), record) is None
        assert "  Add" not in fmt.render(record).text and "5\n" not in fmt.render(record).text
        assert fmt.check(record).reasons == {LossReason.TRIMMED_WHITESPACE}
        assert fmt.parse(fmt.render(record).text) == Record(instruction="Add 2 and 3.", output="5")


@pytest.mark.parametrize(
    ("instruction", "input", "fields"),
    [
        ("  Add", "2 and 3", {"instruction"}),
        ("Add", "2 and 3\n", {"input"}),
        ("", " 2 and 3", {"input"}),  # the trimmed separator and the input's own space
        ("Add ", " ", {"instruction", "input"}),  # a whitespace input vanishes with the instruction's space
        ("", "2 and 3", {"instruction"}),  # only the separator goes: the input becomes the instruction
    ],
)
def test_trim_losses_name_every_field_the_trimmed_user_message_loses(instruction, input, fields):
    record = Record(instruction=instruction, input=input, output="5")
    verdict = builtin("gemma").check(record)
    assert verdict.reasons == {LossReason.TRIMMED_WHITESPACE}
    assert {loss.field for loss in verdict.losses} == fields


# -- system prompts: what each template does without, and with, a system message ------------------


@pytest.mark.parametrize(
    "template",
    ["trl_original/gemma.jinja", "ollama/extracted/10_mistral-instruct.jinja", "ollama/extracted/14_mistral-instruct.jinja"],
)
def test_templates_that_reject_a_system_role_raise(chat_templates, template):
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    with pytest.raises(TemplateRaised):
        render_chat(load_template(chat_templates / template), messages, add_generation_prompt=True, **LLAMA_TOKENS)


def test_a_query_renders_as_the_generation_prompt_with_any_default_system_turn(chat_templates):
    user = [{"role": "user", "content": "Hi"}]
    for case in CASES:
        fmt = builtin(case.format)
        rendered = render_chat(load_template(chat_templates / case.template), user, add_generation_prompt=True,
                               **_tokens(case, chat_templates))
        assert rendered == fmt.render(Query(instruction="Hi")).prompt, case.id
    assert builtin("qwen2").render(Query(instruction="Hi")).prompt.startswith(
        "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
    )


# -- vicuna: FastChat's conversation template, not Jinja -----------------------------------------

def fastchat_vicuna_v1_1(messages: list[tuple[str, str | None]]) -> str:
    """FastChat ``Conversation.get_prompt`` for ``vicuna_v1.1`` (``ADD_COLON_TWO``, sep ' ', sep2 '</s>')."""
    seps = (" ", "</s>")
    ret = VICUNA_SYSTEM + seps[0]
    for i, (role, message) in enumerate(messages):
        ret += f"{role}: {message}{seps[i % 2]}" if message else f"{role}:"
    return ret


def _vicuna_matches_fastchat(record: Record) -> None:
    fmt = builtin("vicuna")
    user = user_content(record.instruction, record.input)
    rendered = fmt.render(record)
    assert rendered.text == fastchat_vicuna_v1_1([("USER", user), ("ASSISTANT", record.output)])
    assert rendered.prompt == fastchat_vicuna_v1_1([("USER", user), ("ASSISTANT", None)])


def test_vicuna_golden_strings():
    """SOURCE.md: "{system} USER: {u1} ASSISTANT: {a1}</s>USER: {u2} ASSISTANT:", first turn (tests/golden.py)."""
    fmt = builtin("vicuna")
    assert fmt.render(VICUNA_HELLO).text == VICUNA_HELLO_TEXT
    assert fmt.render(VICUNA_HELLO).prompt == VICUNA_HELLO_PROMPT
    assert fmt.render(VICUNA_HELLO).completion == " Hello! How can I help?</s>"
    assert fmt.render(VICUNA_PADDED).text == VICUNA_PADDED_TEXT  # nothing is stripped


def test_vicuna_matches_fastchat_on_every_course_record(course_records):
    for record in course_records:
        _vicuna_matches_fastchat(record)


@given(record=padded_records("vicuna", empty=False))
def test_vicuna_matches_fastchat_on_generated_records(record):
    _vicuna_matches_fastchat(record)


def test_vicuna_empty_output_keeps_its_separator_unlike_fastchat():
    """FastChat treats an empty message like None (a bare 'ASSISTANT:'); promptfmt still closes the answer."""
    rendered = builtin("vicuna").render(Record(instruction="Say nothing.", output=""))
    assert rendered.completion == " </s>"
    assert fastchat_vicuna_v1_1([("USER", "Say nothing."), ("ASSISTANT", "")]) == rendered.prompt


# -- mistral-v3: no verbatim template in the reference data; golden strings ----------------------


def test_mistral_v3_golden_strings():
    """mistralai/cookbook's Tokenizer V3 row and Mistral-7B-Instruct-v0.3 discussion #37 (tests/golden.py)."""
    fmt = builtin("mistral-v3")
    assert fmt.render(MISTRAL_V3_HELLO).text == MISTRAL_V3_HELLO_TEXT
    assert fmt.render(MISTRAL_V3_HELLO).prompt == MISTRAL_V3_HELLO_PROMPT
    assert fmt.render(MISTRAL_V3_HI).text == MISTRAL_V3_HI_TEXT


def test_mistral_v3_trims_the_answer_but_not_the_user_message():
    fmt = builtin("mistral-v3")
    record = Record(instruction=" Hello ", input="", output="\n Hi there! ")
    assert fmt.render(record).text == "<s>[INST]  Hello [/INST] Hi there!</s>"  # " " + content|trim + eos_token
    assert [(loss.reason, loss.field) for loss in fmt.check(record).losses] == [(LossReason.TRIMMED_WHITESPACE, "output")]
    assert fmt.check(record.model_copy(update={"output": "Hi there!"})).lossless


def test_mistral_variants_differ_only_where_their_templates_do():
    record = Record(instruction="Hi", output="Hello")
    texts = {name: builtin(name).render(record).text for name in ("mistral", "mistral-v0.1", "mistral-v3", "llama2")}
    assert texts == {
        "mistral": "<s>[INST] Hi [/INST]Hello</s>",
        "mistral-v0.1": "<s>[INST] Hi [/INST]Hello</s> ",
        "mistral-v3": "<s>[INST] Hi[/INST] Hello</s>",
        "llama2": "<s>[INST] Hi [/INST] Hello </s>",
    }


# -- the README's fidelity table ----------------------------------------------------------------


def test_readme_fidelity_table_has_a_row_for_every_builtin_format():
    section = README.read_text("utf-8").split("## Fidelity", 1)[1].split("\n## ", 1)[0]
    rows = set(re.findall(r"^\| `([^`]+)` \|", section, flags=re.M))
    assert rows == set(builtin_registry().names()), f"rows {sorted(rows)} != formats {sorted(builtin_registry().names())}"
