"""promptfmt's labels against Hugging Face's assistant masks, and the prefix invariant, on real data.

Hugging Face learns which text is trained from ``{% generation %}`` markers in a chat template:
``apply_chat_template(..., tokenize=True, return_dict=True, return_assistant_tokens_mask=True)``
masks every token overlapping the marked text. The official templates of ``../shared/data`` have no
markers, so marked copies are made here, mechanically, by wrapping what promptfmt's segments train
(the assistant content and the end-of-turn text after it; Phi-3's closing EOS when an answer ends
the conversation), and each copy must render byte for byte as its original. Token i is trained by
promptfmt exactly when ``assistant_masks[i] == 1``, and the ids are equal.

Where no template can be marked (Mistral v0.3 ships none here, the course's GPT-2 format is not a
chat template), the check is LLaMA-Factory's invariant: the text before each trained span, tokenized
alone, begins the whole text's ids (promptfmt's ``prefix-mismatch`` finding never raised).
"""

from __future__ import annotations

import itertools
import json
from collections import Counter
from functools import cache

import pytest

from promptfmt import Conversation
from promptfmt.conversion.stages import one_turn_of
from promptfmt.tokens import IGNORE, Labeler

from .helpers import SHARED_DATA, builtin, shared_tokenizer

transformers = pytest.importorskip("transformers")

SHAREGPT_ROLES = {"human": "user", "gpt": "assistant", "system": "system"}
SYSTEMS = ("You are a helpful assistant.", "Answer in French.\nKeep it short.",
           "A chat between a curious user and an artificial intelligence assistant. The assistant gives helpful, "
           "detailed, and polite answers to the user's questions.", "Réponds en 日本語, s'il te plaît.")
RECORDS = ("llama_factory_demo/alpaca_en_demo.json", "llama_factory_demo/alpaca_zh_demo.json",
           "llama_factory_demo/identity.json", "rasbt_llms_from_scratch_ch07/instruction-data.json")
RECORDS_EACH = 200
# Contents whose edges fall inside tokens (newlines, spaces before and after), so that the straddling
# tokens of both sides are compared; special-token text is compared apart (see the last test).
EDGES = ("\nHi", "  lead", "trail  ", "\n\nboth\n\n", "x\n", " ", "日本語 ü", "Tab\tend.\t")


def _sub(template: str, old: str, new: str) -> str:
    assert template.count(old) == 1, old
    return template.replace(old, new)


def _marked_qwen(template: str) -> str:
    turn = "{{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}"
    return _sub(template, turn, "{%- if message.role == 'assistant' %}{{- '<|im_start|>' + message.role + '\\n' }}"
                                "{%- generation %}{{- message.content + '<|im_end|>' + '\\n' }}{%- endgeneration %}"
                                "{%- else %}" + turn + "{%- endif %}")


def _marked_llama(template: str) -> str:
    turn = ("{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim "
            "+ '<|eot_id|>' }}")
    return _sub(template, turn, "{%- if message.role == 'assistant' %}"
                                "{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' }}"
                                "{%- generation %}{{- message['content'] | trim + '<|eot_id|>' }}{%- endgeneration %}"
                                "{%- else %}" + turn + "{%- endif %}")


def _marked_phi3(template: str) -> str:
    marked = _sub(template, "{{'<|assistant|>\n' + message['content'] + '<|end|>\n'}}",
                  "{{'<|assistant|>\n'}}{% generation %}{{message['content'] + '<|end|>\n'}}{% endgeneration %}")
    return _sub(marked, "{% else %}{{ eos_token }}{% endif %}",
                "{% elif messages[-1]['role'] == 'assistant' %}{% generation %}{{ eos_token }}{% endgeneration %}"
                "{% else %}{{ eos_token }}{% endif %}")


@cache
def _reference(name: str):
    """(Hugging Face tokenizer, official template, marked copy, template variables, promptfmt tokenizer path)."""
    tokenizers = SHARED_DATA / "tokenizers"
    if name == "qwen2.5":
        folder = tokenizers / "Qwen2.5-0.5B-Instruct"
        hf = transformers.AutoTokenizer.from_pretrained(str(folder))
        return hf, hf.chat_template, _marked_qwen(hf.chat_template), {}, folder
    if name == "llama3.1":  # the date promptfmt's llama3.1 renders, not today's (strftime_now)
        folder = tokenizers / "Llama-3.2-1B-Instruct"
        hf = transformers.AutoTokenizer.from_pretrained(str(folder))
        return hf, hf.chat_template, _marked_llama(hf.chat_template), {"date_string": "26 Jul 2024"}, folder
    # Phi-3.5 through its tokenizer.json alone: transformers 5 replaces the file's normalizer when it
    # builds a LlamaTokenizer (tokenizers/SOURCE.md)
    folder = tokenizers / "Phi-3.5-mini-instruct"
    hf = transformers.PreTrainedTokenizerFast(tokenizer_file=str(folder / "tokenizer.json"), bos_token="<s>",
                                              eos_token="<|endoftext|>", unk_token="<unk>")
    template = (SHARED_DATA / "chat_templates" / "trl_original" / "phi3.jinja").read_text("utf-8")
    return hf, template, _marked_phi3(template), {}, folder


@pytest.fixture(scope="module")
def sharegpt(shared_data) -> list[Conversation]:
    """FastChat's 500 ShareGPT conversations (2, 4 or 6 messages)."""
    data = json.loads((shared_data / "fastchat_sharegpt" / "dummy_conversation.json").read_text("utf-8"))
    return [Conversation.of([(SHAREGPT_ROLES[turn["from"]], turn["value"]) for turn in item["conversations"]])
            for item in data]


@pytest.fixture(scope="module")
def records(shared_data) -> list[tuple[str, str, str]]:
    """The first 200 records of LLaMA-Factory's demo files and of the course's data (691 in all)."""
    found = []
    for name in RECORDS:
        data = json.loads((shared_data / name).read_text("utf-8"))[:RECORDS_EACH]
        found += [(item["instruction"], item.get("input", ""), item["output"]) for item in data]
    return found


def _with_systems(conversations: list[Conversation]) -> list[Conversation]:
    """Every other ShareGPT conversation, after a system message."""
    return [Conversation.of([("system", SYSTEMS[index % len(SYSTEMS)]),
                             *((m.role, m.content) for m in conversation.messages)])
            for index, conversation in enumerate(conversations[::2])]


def _edges() -> list[Conversation]:
    return [Conversation.of([("system", EDGES[index % len(EDGES)]), ("user", user), ("assistant", answer),
                             ("user", answer), ("assistant", user)])
            for index, (user, answer) in enumerate(itertools.product(EDGES, EDGES))]


def _conversations(name: str, sharegpt, records) -> dict[str, list[Conversation]]:
    one_turn = one_turn_of(builtin(name))
    return {"sharegpt": sharegpt, "sharegpt+system": _with_systems(sharegpt),
            "records": [one_turn(*record) for record in records], "edges": _edges()}


def _messages(conversation: Conversation) -> list[dict[str, str]]:
    return [{"role": message.role, "content": message.content} for message in conversation.messages]


AGREEMENT = {  # items compared, and the token-boundary findings among them (all in the edge set)
    "qwen2.5": ({"sharegpt": 500, "sharegpt+system": 250, "records": 691, "edges": 64}, 28),
    "llama3.1": ({"sharegpt": 500, "sharegpt+system": 250, "records": 691, "edges": 64}, 0),
    "phi3": ({"sharegpt": 500, "sharegpt+system": 250, "records": 691, "edges": 64}, 48),
}


@pytest.mark.parametrize("name", sorted(AGREEMENT))
def test_labels_equal_hugging_face_assistant_masks(name, sharegpt, records):
    hf, official, marked, variables, folder = _reference(name)
    fmt = builtin(name)
    labeler = Labeler(shared_tokenizer(folder.name), append_eos=fmt.append_eos)
    compared, boundaries, disagreements = Counter(), 0, []
    for source, conversations in _conversations(name, sharegpt, records).items():
        for conversation in conversations:
            messages = _messages(conversation)
            rendering = fmt.render_conversation(conversation)
            text = hf.apply_chat_template(messages, tokenize=False, chat_template=official, **variables)
            assert hf.apply_chat_template(messages, tokenize=False, chat_template=marked, **variables) == text
            assert rendering.text == text, (source, messages)
            reference = hf.apply_chat_template(messages, chat_template=marked, tokenize=True, return_dict=True,
                                               return_assistant_tokens_mask=True, **variables)
            [tokenized] = labeler.tokenize([(rendering, conversation.messages)])
            codes = Counter(finding.code for finding in tokenized.findings)
            assert set(codes) <= {"token-boundary"}, tokenized.findings  # never a prefix mismatch
            boundaries += codes["token-boundary"] > 0
            trained = [int(label != IGNORE) for label in tokenized.labels]
            if (list(reference["input_ids"]), list(reference["assistant_masks"])) != (tokenized.input_ids, trained):
                disagreements.append((source, messages))
            assert sum(trained) > 0
            compared[source] += 1
    assert disagreements == []
    assert (dict(compared), boundaries) == AGREEMENT[name]


PREFIX_CHECKED = {  # (format, tokenizer folder): items whose every trained span's prefix was checked
    ("qwen2.5", "Qwen2.5-0.5B-Instruct"): 1441,
    ("llama3.1", "Llama-3.2-1B-Instruct"): 1441,
    ("phi3", "Phi-3.5-mini-instruct"): 1441,
    ("mistral-v3", "Mistral-7B-Instruct-v0.3"): 1191,
    ("alpaca-llmfs", "gpt2"): 691,
}


@pytest.mark.parametrize(("name", "folder"), sorted(PREFIX_CHECKED), ids=[n for n, _ in sorted(PREFIX_CHECKED)])
def test_the_prefix_invariant_holds_on_real_data(name, folder, sharegpt, records):
    fmt = builtin(name)
    groups = _conversations(name, sharegpt, records)
    conversations = groups["records"]
    if name == "mistral-v3":  # no system message: the template folds it into the last user turn
        conversations = [*sharegpt, *conversations]
    elif name != "alpaca-llmfs":  # records only: the course's format renders one turn
        conversations = [*sharegpt, *groups["sharegpt+system"], *conversations]
    labeler = Labeler(shared_tokenizer(folder), append_eos=fmt.append_eos)
    results = labeler.tokenize([(fmt.render_conversation(c), c.messages) for c in conversations])
    assert [finding for result in results for finding in result.findings] == []
    assert all(result.trained for result in results)
    assert len(results) == PREFIX_CHECKED[(name, folder)]


# Special-token text in a message: Hugging Face's mask path reads it as the control token (so no
# mask can be compared), and ``sanitize_control_tokens=True`` (no masks) encodes each occurrence as
# a separate piece; promptfmt encodes the message's text as the tokenizer encodes plain text.
@pytest.mark.parametrize(("name", "content", "hf_piece", "promptfmt_piece"), [
    ("qwen2.5", " <|im_end|>\n\nx", ["Ġ", "<", "|", "im", "_end", "|", ">", "ĊĊ", "x"],
     ["Ġ<|", "im", "_end", "|", ">ĊĊ", "x"]),
    ("phi3", "a <|end|> b", ["▁a", "▁", "<", "|", "end", "|", ">", "▁b"], ["▁a", "▁<", "|", "end", "|", ">", "▁b"]),
])
def test_special_token_text_is_encoded_as_the_tokenizer_encodes_plain_text(shared_data, name, content, hf_piece,
                                                                          promptfmt_piece):
    hf, official, _, variables, folder = _reference(name)
    conversation = Conversation.of([("user", content), ("assistant", "ok")])
    rendering = builtin(name).render_conversation(conversation)
    [tokenized] = Labeler(shared_tokenizer(folder.name)).tokenize([(rendering, conversation.messages)])
    assert [finding.code for finding in tokenized.findings] == ["special-token-text"]
    ours = hf.convert_ids_to_tokens(tokenized.input_ids)
    sanitized = hf.apply_chat_template(_messages(conversation), chat_template=official, tokenize=True,
                                       return_dict=True, sanitize_control_tokens=True, **variables)["input_ids"]
    theirs = hf.convert_ids_to_tokens(list(sanitized))
    assert promptfmt_piece == hf.tokenize(content, split_special_tokens=True)  # the message's own plain encoding
    start = ours.index(promptfmt_piece[0])
    assert ours[start:start + len(promptfmt_piece)] == promptfmt_piece
    assert theirs[start:start + len(hf_piece)] == hf_piece
    assert ours[:start] == theirs[:start] and ours[start + len(promptfmt_piece):] == theirs[start + len(hf_piece):]
