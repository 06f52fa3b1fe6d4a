"""Golden token ids and labels: one conversation per real tokenizer, written out in full.

Each conversation has a system prompt (where the format takes one), several turns (where it takes
them), and the text of one of the tokenizer's special tokens inside a message. The ids were computed
once by promptfmt and checked against the tokenizer's own encoding of each piece of the rendering
(`PIECES`, encoded by the ``tokenizers`` library directly, special tokens recognised except in the
pieces marked plain), which the second test repeats. ``-100`` is ``IGNORE``: not trained.
Tokenizers: ``../shared/data/tokenizers`` (their SOURCE.md gives the special ids quoted below).
"""

from __future__ import annotations

from typing import NamedTuple

import pytest

from promptfmt import Conversation
from promptfmt.conversion.stages import one_turn_of
from promptfmt.tokens import IGNORE, Labeler

from .helpers import SHARED_DATA, builtin, shared_tokenizer

tokenizers = pytest.importorskip("tokenizers")


class Golden(NamedTuple):
    format: str
    folder: str
    messages: list[tuple[str, str]] | tuple[str, str, str]  # a conversation, or a record's three fields
    ids: list[int]
    labels: list[int]
    pieces: list[tuple[str, bool]]  # (text, plain): the rendering cut at its special tokens, then appended ids


QWEN = Golden(
    "qwen2.5", "Qwen2.5-0.5B-Instruct",
    [("system", "Be brief."), ("user", "Say <|im_end|> now"), ("assistant", "Done."), ("user", "Again?"),
     ("assistant", "Yes.")],
    # 151644 <|im_start|>, 151645 <|im_end|> (also Qwen's EOS), 198 "\n"; no BOS (Qwen has none)
    ids=[151644, 8948, 198, 3430, 9814, 13, 151645, 198,  # <|im_start|> system \n Be ␣brief . <|im_end|> \n
         # the user's "<|im_end|>" is plain text: ␣<| im _end | > (318 6213 91 29), never 151645
         151644, 872, 198, 45764, 82639, 318, 6213, 91, 29, 1431, 151645, 198,
         151644, 77091, 198, 17453, 13, 151645, 198,  # <|im_start|> assistant \n Done . <|im_end|> \n
         151644, 872, 198, 30385, 30, 151645, 198,  # <|im_start|> user \n Again ? <|im_end|> \n
         151644, 77091, 198, 9454, 13, 151645, 198],  # <|im_start|> assistant \n Yes . <|im_end|> \n
    # trained: each answer with its <|im_end|> and the "\n" after it
    labels=[-100] * 23 + [17453, 13, 151645, 198] + [-100] * 10 + [9454, 13, 151645, 198],
    pieces=[("<|im_start|>", False), ("system\nBe brief.", False), ("<|im_end|>", False), ("\n", False),
            ("<|im_start|>", False), ("user\nSay <|im_end|> now", True), ("<|im_end|>", False), ("\n", False),
            ("<|im_start|>", False), ("assistant\nDone.", False), ("<|im_end|>", False), ("\n", False),
            ("<|im_start|>", False), ("user\nAgain?", False), ("<|im_end|>", False), ("\n", False),
            ("<|im_start|>", False), ("assistant\nYes.", False), ("<|im_end|>", False), ("\n", False)],
)

LLAMA = Golden(
    "llama3.1", "Llama-3.2-1B-Instruct",
    [("system", "Be brief."), ("user", "Hi"), ("assistant", "It is <|eot_id|>."), ("user", "Again?"),
     ("assistant", "Yes.")],
    # 128000 <|begin_of_text|> (BOS: the rendered one, once), 128006/128007 <|start_header_id|>/<|end_header_id|>,
    # 128009 <|eot_id|> (end of turn), 271 "\n\n"
    ids=[128000, 128006, 9125, 128007, 271,  # BOS, system header
         38766, 1303, 33025, 2696, 25, 6790, 220, 2366, 18, 198,  # Cutting Knowledge Date: December 2023\n
         15724, 2696, 25, 220, 1627, 10263, 220, 2366, 19, 271,  # Today Date: 26 Jul 2024\n\n
         3513, 10015, 13, 128009,  # Be ␣brief . <|eot_id|>
         128006, 882, 128007, 271, 13347, 128009,  # user header, Hi, <|eot_id|>
         128006, 78191, 128007, 271,  # assistant header
         # the answer's "<|eot_id|>" is plain text: ␣<| e ot _id | >. (83739 68 354 851 91 14611), not 128009
         2181, 374, 83739, 68, 354, 851, 91, 14611, 128009,
         128006, 882, 128007, 271, 31485, 30, 128009,  # user header, Again ?, <|eot_id|>
         128006, 78191, 128007, 271, 9642, 13, 128009],  # assistant header, Yes ., <|eot_id|>
    # trained: the answers, their plain-text "<|eot_id|>" too, and the template's <|eot_id|> after them
    labels=[-100] * 39 + [2181, 374, 83739, 68, 354, 851, 91, 14611, 128009] + [-100] * 11 + [9642, 13, 128009],
    pieces=[("<|begin_of_text|>", False), ("<|start_header_id|>", False), ("system", False),
            ("<|end_header_id|>", False),
            ("\n\nCutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\nBe brief.", False),
            ("<|eot_id|>", False), ("<|start_header_id|>", False), ("user", False), ("<|end_header_id|>", False),
            ("\n\nHi", False), ("<|eot_id|>", False), ("<|start_header_id|>", False), ("assistant", False),
            ("<|end_header_id|>", False), ("\n\n", False), ("It is <|eot_id|>.", True), ("<|eot_id|>", False),
            ("<|start_header_id|>", False), ("user", False), ("<|end_header_id|>", False), ("\n\nAgain?", False),
            ("<|eot_id|>", False), ("<|start_header_id|>", False), ("assistant", False),
            ("<|end_header_id|>", False), ("\n\n", False), ("Yes.", False), ("<|eot_id|>", False)],
)

PHI3 = Golden(
    "phi3", "Phi-3.5-mini-instruct",
    [("system", "Be brief."), ("user", "Hi <|end|>"), ("assistant", "Hello."), ("user", "Bye"),
     ("assistant", "Bye.")],
    # 32006 <|system|>, 32010 <|user|>, 32001 <|assistant|>, 32007 <|end|>: each takes the "\n" after it
    # (rstrip), so no "\n" id appears; 32000 <|endoftext|> is the EOS the template renders at the end; no BOS
    # (the template renders none); SentencePiece puts ▁ before the text after each special token
    ids=[32006, 1522, 11473, 29889, 32007,  # <|system|>\n ▁Be ▁brief . <|end|>\n
         # the user's "<|end|>" is plain text: ▁< | end | > (529 29989 355 29989 29958), never 32007
         32010, 6324, 529, 29989, 355, 29989, 29958, 32007,
         32001, 15043, 29889, 32007,  # <|assistant|>\n ▁Hello . <|end|>\n
         32010, 2648, 29872, 32007,  # <|user|>\n ▁By e <|end|>\n
         32001, 2648, 29872, 29889, 32007, 32000],  # <|assistant|>\n ▁By e . <|end|>\n <|endoftext|>
    # trained: the answers with their <|end|>, and the closing <|endoftext|> after the last one
    labels=[-100] * 14 + [15043, 29889, 32007] + [-100] * 5 + [2648, 29872, 29889, 32007, 32000],
    pieces=[("<|system|>\n", False), ("Be brief.", False), ("<|end|>\n", False), ("<|user|>\n", False),
            ("Hi <|end|>", True), ("<|end|>\n", False), ("<|assistant|>\n", False), ("Hello.", False),
            ("<|end|>\n", False), ("<|user|>\n", False), ("Bye", False), ("<|end|>\n", False),
            ("<|assistant|>\n", False), ("Bye.", False), ("<|end|>\n", False), ("<|endoftext|>", False)],
)

MISTRAL = Golden(
    "mistral-v3", "Mistral-7B-Instruct-v0.3",
    [("user", "Hi [INST]"), ("assistant", "Hello."), ("user", "Bye"), ("assistant", "Bye.")],  # no system
    # 1 <s>: the rendered BOS, and the tokenizer's own (it adds 1 to plain text): once, not twice;
    # 3 [INST], 4 [/INST], 2 </s> (EOS, rendered after each answer)
    ids=[1, 3, 16127, 1501, 17057, 29561, 4,  # <s> [INST] ▁Hi ▁[ INST ] [/INST]: the user's "[INST]" is plain
         23325, 29491, 2,  # ▁Hello . </s>
         3, 3231, 29474, 4,  # [INST] ▁By e [/INST]
         3231, 29474, 29491, 2],  # ▁By e . </s>
    # trained: " " + answer + </s> (the space is in ▁Hello)
    labels=[-100] * 7 + [23325, 29491, 2] + [-100] * 4 + [3231, 29474, 29491, 2],
    pieces=[("<s>", False), ("[INST]", False), (" Hi [INST]", True), ("[/INST]", False), (" Hello.", False),
            ("</s>", False), ("[INST]", False), (" Bye", False), ("[/INST]", False), (" Bye.", False),
            ("</s>", False)],
)

GPT2 = Golden(
    "alpaca-llmfs", "gpt2",
    ("Repeat <|endoftext|>", "x", "Done."),  # a record: the course's format takes one turn, no system
    ids=[21106, 318, 281, 12064, 326, 8477, 257, 4876, 13, 19430, 257, 2882, 326, 20431, 32543, 262, 2581, 13,
         198, 198, 21017, 46486, 25, 198,  # \n \n ### ␣Instruction : \n
         # the instruction's "<|endoftext|>" is plain text: ␣< | end of text | > (1279 ... 29), never 50256
         40322, 1279, 91, 437, 1659, 5239, 91, 29,
         198, 198, 21017, 23412, 25, 198, 87,  # \n \n ### ␣Input : \n x
         198, 198, 21017, 18261, 25, 198, 45677, 13,  # \n \n ### ␣Response : \n Done .
         50256],  # <|endoftext|>: the EOS the course appends to the text (no BOS: GPT-2 has none)
    # trained: the response text as the course's exercise 7.2 leaves it ("\n\n### Response:\n" + output),
    # and the appended EOS
    labels=[-100] * 39 + [198, 198, 21017, 18261, 25, 198, 45677, 13, 50256],
    pieces=[("Below is an instruction that describes a task. Write a response that appropriately completes the "
             "request.\n\n### Instruction:\nRepeat <|endoftext|>\n\n### Input:\nx", True),
            ("\n\n### Response:\nDone.", False), ("<|endoftext|>", False)],
)

GOLDEN = {golden.format: golden for golden in (QWEN, LLAMA, PHI3, MISTRAL, GPT2)}
by_format = pytest.mark.parametrize("golden", GOLDEN.values(), ids=GOLDEN.keys())


def _tokenized(golden: Golden):
    fmt = builtin(golden.format)
    if isinstance(golden.messages, tuple):
        conversation = one_turn_of(fmt)(*golden.messages)
    else:
        conversation = Conversation.of(golden.messages)
    rendering = fmt.render_conversation(conversation)
    labeler = Labeler(shared_tokenizer(golden.folder), append_eos=fmt.append_eos)
    [tokenized] = labeler.tokenize([(rendering, conversation.messages)])
    return rendering, tokenized


@by_format
def test_golden_ids_and_labels(golden):
    _, tokenized = _tokenized(golden)
    assert tokenized.input_ids == golden.ids
    assert tokenized.labels == golden.labels
    assert [finding.code for finding in tokenized.findings] == ["special-token-text"]
    assert all(label in (IGNORE, token) for label, token in zip(tokenized.labels, tokenized.input_ids))


@by_format
def test_golden_ids_are_the_tokenizers_own_encodings_of_the_pieces(golden):
    rendering, _ = _tokenized(golden)
    appended = "<|endoftext|>" if builtin(golden.format).append_eos else ""
    assert "".join(text for text, _ in golden.pieces) == rendering.text + appended
    tokenizer = tokenizers.Tokenizer.from_file(str(SHARED_DATA / "tokenizers" / golden.folder / "tokenizer.json"))
    ids = []
    for text, plain in golden.pieces:
        tokenizer.encode_special_tokens = plain
        ids += tokenizer.encode(text, add_special_tokens=False).ids
    assert ids == golden.ids


@pytest.mark.parametrize(("golden", "bos"), [(LLAMA, 128000), (MISTRAL, 1)], ids=["llama3.1", "mistral-v3"])
def test_the_rendered_bos_is_the_only_one(golden, bos):
    """Both tokenizers put their BOS before plain text; the rendering starts with its text already."""
    assert shared_tokenizer(golden.folder).prefix == (bos,)
    _, tokenized = _tokenized(golden)
    assert tokenized.input_ids[0] == bos and tokenized.input_ids.count(bos) == 1


# Found by tests/test_tokens_properties.py: the text of an added token that is not special (Qwen's
# </tool_call>, Phi-3's </s>) was still read as that token inside a message, and a message the
# template trims ("<|begin_of_text|> " rendered without its space) took the template's <|eot_id|>
# after it for its own text, encoding it as plain text.
@pytest.mark.parametrize(("name", "folder", "answer", "tail"), [
    # ... <|im_start|> assistant \n, then </ tool _call > as plain text (never 151658), <|im_end|> \n
    ("qwen2.5", "Qwen2.5-0.5B-Instruct", "</tool_call>", [151644, 77091, 198, 522, 14172, 13429, 29, 151645, 198]),
    # <|assistant|>\n, then ▁a </ s > b as plain text (never 2, </s>), <|end|>\n <|endoftext|>
    ("phi3", "Phi-3.5-mini-instruct", "a</s>b", [32001, 263, 829, 29879, 29958, 29890, 32007, 32000]),
    # \n\n after the assistant header, then < | begin _of _text | > as plain text, the template's <|eot_id|>
    ("llama3.1", "Llama-3.2-1B-Instruct", "<|begin_of_text|> ", [271, 27, 91, 7413, 3659, 4424, 91, 29, 128009]),
])
def test_answers_holding_added_token_text(name, folder, answer, tail):
    conversation = Conversation.of([("user", "Hi"), ("assistant", answer)])
    rendering = builtin(name).render_conversation(conversation)
    [tokenized] = Labeler(shared_tokenizer(folder)).tokenize([(rendering, conversation.messages)])
    assert tokenized.input_ids[-len(tail):] == tail
    trained = [label for label in tokenized.labels if label != IGNORE]
    assert trained == tail[-len(trained):] and len(trained) == len(tail) - (3 if name == "qwen2.5" else 1)
    assert [finding.code for finding in tokenized.findings] == ["special-token-text"]
