"""Dataset layouts: telling them apart, items to records, records to items (`promptfmt.records.layouts`)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from promptfmt.conversation import Conversation
from promptfmt.records import builders, layouts
from promptfmt.records.fields import Problem

from .helpers import builtin


@pytest.mark.parametrize(
    ("item", "layout"),
    [
        ({"instruction": "a", "output": "b"}, "alpaca"),
        ({"instruction": "a", "input": "", "output": "b", "text": "rendered"}, "alpaca"),  # a text column is metadata
        ({"output": "b"}, "alpaca"),
        ({"text": "t", "id": 3}, "text"),
        ({"prompt": "p", "completion": "c"}, "prompt-completion"),
        ({"prompt": "p", "completion": "c", "text": "pc"}, "prompt-completion"),
        ({"messages": []}, "messages"),
        ({"conversations": [], "id": "x"}, "sharegpt"),
        ({"something": "else"}, "alpaca"),
        ([1, 2], "alpaca"),
    ],
)
def test_layout_is_told_by_the_keys(item, layout):
    assert layouts.detect_layout(item) == layout


def test_text_items_parse_back_with_their_metadata():
    text = builtin("alpaca").render_text(_record("Translate.", "Hallo", "Hello"))
    read = layouts.reader("text", builtin("alpaca"))
    assert read({"text": text, "id": 7}) == {"instruction": "Translate.", "input": "Hallo", "output": "Hello", "id": 7}


def test_text_that_the_format_did_not_produce_is_a_problem_naming_the_offset():
    (problem,) = layouts.reader("text", builtin("alpaca"))({"text": "<|user|>\nhi<|end|>\n"})
    assert problem.code == "parse-error" and problem.field == "text"
    assert "offset 0" in problem.message and "--from" in problem.message


def test_a_prompt_without_completion_is_refused():
    prompt = builtin("phi3").render(_record("Say hi.", "", "Hi")).prompt
    (problem,) = layouts.reader("text", builtin("phi3"))({"text": prompt})
    assert problem.code == "no-output"


def test_prompt_completion_must_split_where_the_format_splits():
    rendered = builtin("alpaca").render(_record("Say hi.", "", "Hi"))
    read = layouts.reader("prompt-completion", builtin("alpaca"))
    assert read({"prompt": rendered.prompt, "completion": rendered.completion}) == {
        "instruction": "Say hi.", "input": "", "output": "Hi"}
    (problem,) = read({"prompt": rendered.prompt + "\n", "completion": rendered.completion[1:]})
    assert problem.code == "prompt-split" and "text" in problem.message


def test_metadata_that_collides_with_a_record_field_is_a_problem():
    text = builtin("alpaca").render_text(_record("a", "", "b"))
    (problem,) = layouts.reader("text", builtin("alpaca"))({"text": text, "output": "other"})
    assert (problem.code, problem.field) == ("metadata-collision", "output")


@pytest.mark.parametrize(
    ("content", "fields"),
    [
        ("Name a colour.", ("Name a colour.", "")),
        ("Translate.\nHallo", ("Translate.", "Hallo")),
        ("Translate.\nline 1\nline 2", ("Translate.", "line 1\nline 2")),
        ("Ends with a newline\n", ("Ends with a newline\n", "")),
        ("\nstarts with one", ("", "starts with one")),
    ],
)
def test_user_messages_split_at_the_first_newline_followed_by_text(content, fields):
    assert layouts.split_user_message(content) == fields
    assert layouts.join_user_message(*fields) == content


@given(st.text(), st.text())
def test_conversation_losses_are_exactly_the_records_that_do_not_come_back(instruction, input):
    back = layouts.split_user_message(layouts.join_user_message(instruction, input))
    assert (back == (instruction, input)) == (not builders.conversation_losses(instruction, input))


def test_messages_with_a_system_message_are_a_conversation_and_a_record_with_the_system_as_metadata():
    item = {
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Translate.\nHallo"},
            {"role": "assistant", "content": "Hello"},
        ],
        "id": 1,
    }
    conversation = layouts.reader("messages")(item)
    assert isinstance(conversation, Conversation)
    assert (conversation.system, conversation.metadata) == ("Be brief.", {"id": 1})
    assert layouts.record_of(conversation, "messages") == {
        "instruction": "Translate.", "input": "Hallo", "output": "Hello", "id": 1, "system": "Be brief."}
    assert builders.to_messages("Translate.", "Hallo", "Hello", {"id": 1, "system": "Be brief."}) == item
    assert builders.conversation_item("messages", conversation, conversation.metadata) == item


def test_sharegpt_maps_to_a_record_and_back():
    item = {"id": "a", "conversations": [{"from": "human", "value": "Hi?"}, {"from": "gpt", "value": "Hello."}]}
    record = layouts.reader("sharegpt")(item)
    assert record == {"instruction": "Hi?", "input": "", "output": "Hello.", "id": "a"}
    assert builders.to_sharegpt("Hi?", "", "Hello.", {"id": "a"}) == {
        "conversations": [{"from": "human", "value": "Hi?"}, {"from": "gpt", "value": "Hello."}], "id": "a"}
    spelled = {"conversations": [{"from": "user", "value": "Hi?"}, {"from": "assistant", "value": "Hello."}]}
    assert layouts.reader("sharegpt")(spelled) == {"instruction": "Hi?", "input": "", "output": "Hello."}


@pytest.mark.parametrize(
    "item",
    [
        {"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"},
                      {"role": "user", "content": "c"}, {"role": "assistant", "content": "d"}]},
        {"messages": [{"role": "user", "content": "a"}]},
        {"messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "a"},
                      {"role": "assistant", "content": "b"}], "system": "other"},
    ],
)
def test_conversations_that_are_not_one_turn_are_read_as_conversations(item):
    conversation = layouts.reader("messages")(item)
    assert isinstance(conversation, Conversation)
    assert [(m.role, m.content) for m in conversation.messages] == [(m["role"], m["content"]) for m in item["messages"]]


@pytest.mark.parametrize(
    ("item", "code", "field"),
    [
        ({"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"},
                       {"role": "user", "content": "c"}, {"role": "assistant", "content": "d"}]}, "not-single-turn", "messages"),
        ({"messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "a"},
                       {"role": "assistant", "content": "b"}], "system": "other"}, "metadata-collision", "system"),
    ],
)
def test_conversations_that_do_not_fit_a_record_are_refused_as_records_with_a_reason(item, code, field):
    problems = layouts.record_of(layouts.reader("messages")(item), "messages")
    assert [(p.code, p.field) for p in problems] == [(code, field)]


@pytest.mark.parametrize(
    ("item", "code", "field"),
    [
        ({"messages": [{"role": "assistant", "content": "b"}, {"role": "user", "content": "a"}]}, "not-starting-with-user", "messages.0"),
        ({"messages": [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]}, "consecutive-user", "messages.1"),
        ({"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"},
                       {"role": "system", "content": "s"}]}, "system-not-first", "messages.2"),
        ({"messages": [{"role": "system", "content": "s"}]}, "empty-conversation", "messages"),
        ({"messages": [{"role": "tool", "content": "a"}]}, "tool-turn", "messages.0.role"),
        ({"messages": [{"role": "narrator", "content": "a"}]}, "unknown-role", "messages.0.role"),
        ({"messages": [{"role": "user", "content": [{"type": "text", "text": "a"}]}]}, "wrong-type", "messages.0.content"),
        ({"messages": [{"role": "user", "content": "a", "name": "x"}]}, "unsupported-key", "messages.0.name"),
        ({"messages": "hello"}, "wrong-type", "messages"),
    ],
)
def test_conversations_that_break_the_rules_are_refused_with_a_reason(item, code, field):
    problems = layouts.reader("messages")(item)
    assert [(p.code, p.field) for p in problems] == [(code, field)]
    assert all(isinstance(p, Problem) and p.message for p in problems)


def test_every_sharegpt_conversation_is_read(shared_data):
    import json

    items = json.loads((shared_data / "fastchat_sharegpt" / "dummy_conversation.json").read_text("utf-8"))
    read = layouts.reader("sharegpt")
    results = [read(item) for item in items]
    assert sum(isinstance(r, dict) for r in results) == 167  # one turn: records
    assert sum(isinstance(r, Conversation) for r in results) == 333  # several turns
def test_metadata_collisions_with_the_output_layout_are_named():
    (problem,) = builders.metadata_collisions("text", {"text": "old rendering", "id": 1})
    assert (problem.code, problem.field) == ("metadata-collision", "text")
    assert "--drop-metadata" in problem.message
    assert builders.metadata_collisions("alpaca", {"text": "x"}) == []


def _record(instruction, input, output):
    from promptfmt import Record

    return Record(instruction=instruction, input=input, output=output)
