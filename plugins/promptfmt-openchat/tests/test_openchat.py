"""The plugin's own tests: promptfmt's conformance kit in one line, plus golden tests against the template.

The golden strings follow the OpenChat-3.5 chat template; the template checks render the template
itself in a Jinja sandbox (read at test time from promptfmt's shared reference data, or from the
folder in PROMPTFMT_SHARED_DATA; skipped when it is not there).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from promptfmt_openchat import OPENCHAT

from promptfmt import ChatTemplate, Query, Record, load_chat_template
from promptfmt.testing import conformance_suite, conversation_strategy, prop_matches_chat_template, record_strategy

GOLDEN = [
    (
        Record(instruction="How are you today?", output="I am fine."),
        "<s>GPT4 Correct User: How are you today?<|end_of_turn|>GPT4 Correct Assistant: I am fine.<|end_of_turn|>",
    ),
    (
        Record(instruction="Translate to French.", input="Good morning", output="Bonjour"),
        "<s>GPT4 Correct User: Translate to French.\nGood morning<|end_of_turn|>GPT4 Correct Assistant: Bonjour<|end_of_turn|>",
    ),
]
GOLDEN_PROMPTS = [
    (Query(instruction="How are you today?"), "<s>GPT4 Correct User: How are you today?<|end_of_turn|>GPT4 Correct Assistant:"),
]

# The conformance kit: every property promptfmt's built-in formats pass, plus the golden strings.
TestOpenChat = conformance_suite(OPENCHAT, golden=GOLDEN, golden_prompts=GOLDEN_PROMPTS)


def shared_templates() -> Path:
    default = Path(__file__).resolve().parents[4] / "shared" / "data"
    folder = Path(os.environ.get("PROMPTFMT_SHARED_DATA", default)) / "chat_templates"
    if not folder.is_dir():
        pytest.skip(f"reference chat templates not found at {folder}")
    return folder


@pytest.fixture(scope="module")
def official_template():
    """The OpenChat-3.5 chat template, with the tokenizer's BOS text."""
    return load_chat_template(shared_templates() / "ollama" / "extracted" / "04_openchat.jinja", tokens={"bos_token": "<s>"})


@given(data=st.data())
def test_generated_records_render_like_the_template(official_template, data):
    prop_matches_chat_template(OPENCHAT, official_template, data.draw(record_strategy(OPENCHAT)))


@pytest.mark.parametrize(("record", "expected"), GOLDEN)
def test_golden_strings_equal_the_template(official_template, record, expected):
    prop_matches_chat_template(OPENCHAT, official_template, record)
    assert OPENCHAT.render(record).text == expected


@given(data=st.data())
def test_generated_conversations_render_like_the_template(official_template, data):
    """Any number of turns, with and without a system message, through the official template."""
    conversation = data.draw(conversation_strategy(OPENCHAT))
    messages = [{"role": m.role, "content": m.content} for m in conversation.messages]
    expected = official_template.render(messages, add_generation_prompt=conversation.is_prompt)
    assert OPENCHAT.render_conversation(conversation).text == expected


def test_chujiezheng_variant_agrees_for_one_user_turn():
    """chujiezheng's corrected template (flattened as its README says) renders the same pieces."""
    path = shared_templates() / "chujiezheng" / "chat_templates" / "openchat-3.5.jinja"
    source = path.read_text("utf-8").replace("    ", "").replace("\n", "")
    template = ChatTemplate(source, {"bos_token": "<s>"}, path.name)
    for record, _ in GOLDEN:
        prop_matches_chat_template(OPENCHAT, template, record)


def test_registered_through_the_entry_point():
    """Installed, the package's entry point registers the format with promptfmt."""
    from importlib.metadata import entry_points

    from promptfmt import load_registry

    names = {ep.name: ep.value for ep in entry_points(group="promptfmt")}
    assert names.get("openchat") == "promptfmt_openchat"
    registry, failures = load_registry(entry_points=True, formats_dir="")
    assert failures == []
    assert registry.get("openchat-3.5") is OPENCHAT
    assert registry.entry("openchat").plugin == "openchat"
