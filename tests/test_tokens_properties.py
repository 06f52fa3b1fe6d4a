"""Properties of ids and labels, for the five real tokenizers and generated conversations.

For every conversation (any number of turns, with or without a system message, contents of words,
spaces, newlines, unicode and, sometimes, the text of the tokenizer's special tokens):

* each label is ``IGNORE`` or the id at its position;
* the trained tokens decode to text that covers every trained segment (whitespace aside: SentencePiece
  decoders drop a leading space, Phi-3's tokens take the newline after them);
* without special-token text in any message, the ids are the tokenizer's own encoding of the whole
  text (``tokenizers``, nothing added), with the BOS and EOS rules: the tokenizer's BOS first when the
  text does not start with it, the EOS appended by the formats that append one;
* with special-token text in a message, the special ids are exactly those of the tokenizer's own
  encoding outside the messages (none comes from a message), and the item has a finding saying so;
* a tokenizer with a BOS gets exactly one, first (Llama-3 never two).
"""

from __future__ import annotations

from functools import cache
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from promptfmt.tokens import IGNORE, Labeler

from .helpers import builtin, shared_data_folder, shared_tokenizer
from .strategies import token_conversations

tokenizers = pytest.importorskip("tokenizers")

# format, tokenizer folder, its BOS id and the EOS id the format appends (None: none), the conversations
# it takes (no system message for Mistral v0.3, one turn of a record for the course's format)
CASES = [
    ("qwen2.5", "Qwen2.5-0.5B-Instruct", None, None, {}),
    ("llama3.1", "Llama-3.2-1B-Instruct", 128000, None, {}),
    ("phi3", "Phi-3.5-mini-instruct", None, None, {}),
    ("mistral-v3", "Mistral-7B-Instruct-v0.3", 1, None, {"system": False}),
    ("alpaca-llmfs", "gpt2", None, 50256, {"record": True}),
]


@cache
def _own(folder: str) -> Any:
    """The tokenizer itself, through the ``tokenizers`` library (promptfmt aside)."""
    return tokenizers.Tokenizer.from_file(str(shared_data_folder() / "tokenizers" / folder / "tokenizer.json"))


@cache
def _specials(folder: str) -> tuple[str, ...]:
    """The texts the tokenizer matches as a whole: its added tokens, special or not."""
    return tuple(sorted(token.content for token in _own(folder).get_added_tokens_decoder().values()))


def _squeezed(text: str) -> str:
    return "".join(text.split())


def _content_spans(rendering, messages) -> dict[int, tuple[int, int]]:
    """Where each message's content (as rendered: trimmed by the templates that trim) lies in the text."""
    spans, at = {}, 0
    for segment in rendering.segments:
        if segment.message is not None:
            content = messages[segment.message].content
            shown = content if content in segment.text else content.strip()
            start = at + segment.text.find(shown)
            spans[segment.message] = (start, start + len(shown))
        at += len(segment.text)
    return spans


def _trained_runs(ids: list[int], labels: list[int]) -> list[list[int]]:
    runs: list[list[int]] = []
    for position, (token, label) in enumerate(zip(ids, labels)):
        if label == IGNORE:
            continue
        if position and labels[position - 1] != IGNORE:
            runs[-1].append(token)
        else:
            runs.append([token])
    return runs


def _check_special_ids(folder, rendering, messages, holding, ids, appended) -> None:
    """The special ids are those of the whole text's own encoding that start outside the messages
    holding special-token text, in order, and the appended ones."""
    encoding = _own(folder).encode(rendering.text, add_special_tokens=False)
    special = set(_own(folder).get_added_tokens_decoder())
    spans = [span for index, span in _content_spans(rendering, messages).items() if index in holding]
    expected = [token for token, (start, _) in zip(encoding.ids, encoding.offsets)
                if token in special and not any(a <= start < b for a, b in spans)]
    assert [token for token in ids if token in special] == expected + appended


@pytest.mark.parametrize(("name", "folder", "bos", "eos", "shape"), CASES, ids=[case[0] for case in CASES])
@given(data=st.data())
def test_ids_and_labels_follow_the_tokenizer(name, folder, bos, eos, shape, data):
    fmt, specials = builtin(name), _specials(folder)
    assert fmt.append_eos == (eos is not None)
    conversation = data.draw(token_conversations(name, specials, **shape))
    rendering = fmt.render_conversation(conversation)
    [tokenized] = Labeler(shared_tokenizer(folder), append_eos=fmt.append_eos).tokenize(
        [(rendering, conversation.messages)])
    ids, labels = tokenized.input_ids, tokenized.labels
    assert len(labels) == len(ids) and all(label in (IGNORE, token) for label, token in zip(labels, ids))

    decoded = "\x00".join(_squeezed(_own(folder).decode(run, skip_special_tokens=False))
                          for run in _trained_runs(ids, labels))
    trained = [segment.text for segment in rendering.segments if segment.trainable]
    assert trained and all(_squeezed(text) in decoded for text in trained)

    messages = conversation.messages
    holding = {index for index, message in enumerate(messages) if any(text in message.content for text in specials)}
    codes = {finding.code for finding in tokenized.findings}
    if holding:
        assert "special-token-text" in codes
        _check_special_ids(folder, rendering, messages, holding, ids, [eos] if eos else [])
    else:
        assert "special-token-text" not in codes
        own = _own(folder).encode(rendering.text, add_special_tokens=False).ids
        assert ids == ([bos] if bos is not None and own[:1] != [bos] else []) + own + ([eos] if eos else [])
    if bos is not None:
        assert ids[0] == bos and ids.count(bos) == 1
