"""Batch functions: columns in, columns out, as ``datasets.map(batched=True)`` calls them.

``datasets`` is not needed: a batch is a dict of equal-length lists, which is what it passes.
"""

from __future__ import annotations

import pickle
from functools import partial

import pytest

from promptfmt import Conversation, Record
from promptfmt.batch import BatchError, messages_batch, parse_batch, render_batch

from .helpers import builtin

BATCH = {
    "instruction": ["Name a colour.", "Translate.", "Two\nlines."],
    "input": ["", "Hallo", "x"],
    "output": ["Blue.", "Hello", "y"],
    "id": [1, 2, 3],
}


def records():
    return [Record(instruction=i, input=x, output=o) for i, x, o in zip(BATCH["instruction"], BATCH["input"], BATCH["output"])]


@pytest.mark.parametrize("name", ["alpaca", "phi3", "llama3", "chatml"])
def test_render_batch_equals_rendering_each_record(name):
    fmt = builtin(name)
    assert render_batch(BATCH, format=name) == {"text": [fmt.render(r).text for r in records()]}
    assert render_batch(BATCH, format=fmt, layout="prompt-completion") == {
        "prompt": [fmt.render(r).prompt for r in records()],
        "completion": [fmt.render(r).completion for r in records()],
    }


def test_lossless_columns_report_the_reasons():
    columns = render_batch(BATCH, format="phi3", lossless=True)
    assert columns["lossless"] == [True, True, False]
    assert columns["loss_reasons"] == [[], [], ["separator-in-instruction"]]


def test_parse_batch_gives_the_records_back():
    texts = render_batch(BATCH, format="alpaca")
    assert parse_batch(texts, format="alpaca") == {k: BATCH[k] for k in ("instruction", "input", "output")}
    with pytest.raises(BatchError, match=r"row 0: text: not phi3 text: at offset 0"):
        parse_batch(texts, format="phi3")


def test_messages_batch():
    columns = messages_batch(BATCH, lossless=True)
    assert columns["messages"][1] == [{"role": "user", "content": "Translate.\nHallo"}, {"role": "assistant", "content": "Hello"}]
    assert columns["lossless"] == [True, True, False]


def test_a_batch_without_input_column_has_no_input_and_other_columns_can_be_named():
    batch = {"question": ["Why?"], "answer": ["Because."]}
    columns = render_batch(batch, format="phi3-llmfs", instruction="question", output="answer")
    assert columns == {"text": ["<|user|>\nWhy?\n<|assistant|>:\nBecause."]}


def test_values_that_are_not_strings_are_errors_naming_row_and_column():
    with pytest.raises(BatchError, match=r"row 1: output must be a string, got null: give it a text"):
        render_batch({"instruction": ["a", "b"], "input": ["", ""], "output": ["c", None]}, format="phi3")
    with pytest.raises(BatchError, match=r"row 0: input must be a string, got int"):
        render_batch({"instruction": ["a"], "input": [5], "output": ["c"]}, format="phi3")
    assert render_batch({"instruction": [None], "output": ["c"]}, format="phi3-llmfs", null_as_empty=True) == {
        "text": ["<|user|>\n\n<|assistant|>:\nc"]}
    with pytest.raises(BatchError, match="no column 'output'"):
        render_batch({"instruction": ["a"]}, format="phi3")


def test_null_input_is_no_input_as_datasets_fills_a_missing_key():
    """``datasets.Dataset.from_list`` (and a JSON file loaded with it) gives None where a record has no input."""
    batch = {"instruction": ["a", "b"], "input": [None, "x"], "output": ["c", "d"]}
    assert render_batch(batch, format="alpaca-llmfs") == render_batch(
        {"instruction": ["a", "b"], "input": ["", "x"], "output": ["c", "d"]}, format="alpaca-llmfs")
    assert "### Input" not in render_batch(batch, format="alpaca-llmfs")["text"][0]
    assert messages_batch(batch)["messages"][0][0] == {"role": "user", "content": "a"}
    for column in ("instruction", "output"):  # None elsewhere stays an error
        with pytest.raises(BatchError, match=rf"row 0: {column} must be a string, got null"):
            render_batch({**batch, column: [None, "e"]}, format="alpaca-llmfs")


@pytest.mark.parametrize(("name", "bos"), [("llama3", "<|begin_of_text|>"), ("gemma", "<bos>"), ("mistral", "<s>")])
def test_strip_bos_leaves_the_formats_bos_text_out_of_text_and_prompt(name, bos):
    full = render_batch(BATCH, format=name)["text"]
    assert all(text.startswith(bos) for text in full)
    assert render_batch(BATCH, format=name, strip_bos=True)["text"] == [text[len(bos):] for text in full]
    pairs = render_batch(BATCH, format=name, layout="prompt-completion", strip_bos=True, lossless=True)
    assert pairs["prompt"][0] == builtin(name).render(records()[0]).prompt[len(bos):]
    assert pairs["completion"] == render_batch(BATCH, format=name, layout="prompt-completion")["completion"]
    assert pairs["lossless"] == render_batch(BATCH, format=name, layout="prompt-completion", lossless=True)["lossless"]
    chats = {"messages": [[{"role": "user", "content": "u"}, {"role": "assistant", "content": "a"}]]}
    assert render_batch(chats, format=name, messages="messages", strip_bos=True)["text"][0] == (
        render_batch(chats, format=name, messages="messages")["text"][0][len(bos):])
    assert render_batch(BATCH, format="chatml", strip_bos=True) == render_batch(BATCH, format="chatml")


def test_the_function_pickles_for_worker_processes():
    function = pickle.loads(pickle.dumps(partial(render_batch, format="phi3")))
    assert function(BATCH)["text"][0] == builtin("phi3").render(records()[0]).text


def test_a_messages_column_renders_conversations_turn_by_turn():
    batch = {"messages": [
        [{"role": "system", "content": "S"}, {"role": "user", "content": "u"}, {"role": "assistant", "content": "a"},
         {"role": "user", "content": "v"}, {"role": "assistant", "content": " b"}],
        [{"role": "user", "content": "x"}, {"role": "assistant", "content": "y"}],
    ]}
    columns = render_batch(batch, format="llama3", messages="messages", layout="prompt-completion", lossless=True)
    llama3 = builtin("llama3")
    for row, messages in enumerate(batch["messages"]):
        rendered = llama3.render_conversation(Conversation.model_validate({"messages": messages}))
        assert (columns["prompt"][row], columns["completion"][row]) == (rendered.prompt, rendered.completion)
    assert columns["completion"] == ["b<|eot_id|>", "y<|eot_id|>"]
    assert (columns["lossless"], columns["loss_reasons"]) == ([False, True], [["trimmed-whitespace"], []])
    assert render_batch(batch, format="chatml", messages="messages")["text"][1] == (
        "<|im_start|>user\nx<|im_end|>\n<|im_start|>assistant\ny<|im_end|>\n")


def test_a_messages_column_names_the_row_that_cannot_be_rendered():
    with pytest.raises(BatchError, match="row 0: message 0: system-not-supported"):
        render_batch({"messages": [[{"role": "system", "content": "S"}, {"role": "user", "content": "u"}]]},
                     format="gemma", messages="messages")
    with pytest.raises(BatchError, match="row 1: messages: consecutive-user: messages.1"):
        render_batch({"messages": [[{"role": "user", "content": "u"}],
                                   [{"role": "user", "content": "u"}, {"role": "user", "content": "v"}]]},
                     format="gemma", messages="messages")
