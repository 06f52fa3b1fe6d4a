"""`promptfmt.tokens.batch.tokenize_batch`: the columns `promptfmt tokenize` writes, for
``datasets.map(batched=True)``, compared with the CLI's own output file for the same data."""

from __future__ import annotations

import json
from functools import partial

import pytest

from promptfmt.batch import BatchError
from promptfmt.tokens import IGNORE, load_tokenizer
from promptfmt.tokens.batch import tokenize_batch

COLUMNS = ("input_ids", "labels", "attention_mask")

RECORDS = [
    {"instruction": "Convert 45 kilometers to meters.", "input": "", "output": "45 kilometers is 45000 meters.", "id": 1},
    {"instruction": "Edit the following sentence for grammar.", "input": "He go to the park every day.",
     "output": "He goes to the park every day.", "id": 2},
    {"instruction": "Explain <|im_end|> and <|endoftext|>.", "input": "  café 東京 🙂\n",
     "output": "They are special tokens.\n\n", "id": 3},
]

CONVERSATIONS = [
    {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"},
                  {"role": "assistant", "content": "Hello!"}, {"role": "user", "content": "Name a colour."},
                  {"role": "assistant", "content": "Blue."}]},
    {"messages": [{"role": "user", "content": "What is <|im_start|>?"}, {"role": "assistant", "content": "A marker."}]},
]


@pytest.fixture(scope="module")
def tokenizers(shared_data):
    root = shared_data / "tokenizers"
    return {name: (str(root / name), load_tokenizer(str(root / name))) for name in ("gpt2", "Qwen2.5-0.5B-Instruct")}


def cli_columns(cli, tmp_path, rows, format, tokenizer_path, *extra):
    source, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    source.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    result = cli("tokenize", str(source), "-o", str(out), "-f", format, "-t", tokenizer_path, "-q", *extra)
    assert result.exit_code == 0, result
    written = [json.loads(line) for line in out.read_text("utf-8").splitlines()]
    assert len(written) == len(rows)
    return {name: [item[name] for item in written] for name in COLUMNS}


def columns_of(rows, *names):
    return {name: [row.get(name) for row in rows] for name in names}


@pytest.mark.parametrize(("format", "tokenizer", "train_on"), [
    ("alpaca-llmfs", "gpt2", "assistant"),
    ("alpaca", "gpt2", "completion"),
    ("qwen2.5", "Qwen2.5-0.5B-Instruct", "assistant"),
    ("qwen2.5", "Qwen2.5-0.5B-Instruct", "all"),
])
def test_records_give_the_columns_the_cli_writes(cli, tmp_path, tokenizers, format, tokenizer, train_on):
    path, loaded = tokenizers[tokenizer]
    expected = cli_columns(cli, tmp_path, RECORDS, format, path, "--train-on", train_on)
    got = tokenize_batch(columns_of(RECORDS, "instruction", "input", "output"), format=format, tokenizer=loaded,
                         train_on=train_on)
    assert got == expected
    assert all(IGNORE not in labels for labels in got["labels"]) == (train_on == "all")


def test_a_messages_column_gives_the_columns_the_cli_writes(cli, tmp_path, tokenizers):
    path, loaded = tokenizers["Qwen2.5-0.5B-Instruct"]
    expected = cli_columns(cli, tmp_path, CONVERSATIONS, "qwen2.5", path)
    got = tokenize_batch(columns_of(CONVERSATIONS, "messages"), format="qwen2.5", tokenizer=loaded)
    assert got == expected
    # both answers of the first conversation are trained, with their end-of-turn text ("Blue.<|im_end|>\n")
    trained = [token for token in got["labels"][0] if token != IGNORE]
    assert loaded.decode(trained) == "Hello!<|im_end|>\nBlue.<|im_end|>\n"
    # special-token text inside a message is plain text: <|im_start|> occurs once per turn only
    assert got["input_ids"][1].count(loaded.special["<|im_start|>"]) == 3


def test_through_datasets_map_batched(cli, tmp_path, tokenizers):
    datasets = pytest.importorskip("datasets")
    path, loaded = tokenizers["gpt2"]
    expected = cli_columns(cli, tmp_path, RECORDS, "alpaca-llmfs", path)
    dataset = datasets.Dataset.from_list(RECORDS)
    mapped = dataset.map(partial(tokenize_batch, format="alpaca-llmfs", tokenizer=loaded), batched=True, batch_size=2,
                         remove_columns=dataset.column_names)
    assert mapped.column_names == list(COLUMNS)
    assert mapped.to_dict() == expected
    assert mapped[0]["input_ids"][-1] == mapped[0]["labels"][-1] == loaded.eos == 50256  # the course's EOS, trained

    chats = datasets.Dataset.from_list(CONVERSATIONS)
    path, loaded = tokenizers["Qwen2.5-0.5B-Instruct"]
    mapped = chats.map(partial(tokenize_batch, format="qwen2.5", tokenizer=loaded), batched=True,
                       remove_columns=["messages"])
    assert mapped.to_dict() == cli_columns(cli, tmp_path, CONVERSATIONS, "qwen2.5", path)


def test_an_error_inside_datasets_map_names_the_row(tokenizers):
    datasets = pytest.importorskip("datasets")
    rows = [{"instruction": "a", "input": "", "output": "b"}, {"instruction": "c", "input": "", "output": "d" * 400}]
    dataset = datasets.Dataset.from_list(rows)
    with pytest.raises(BatchError, match=r"^row 1: too-many-tokens: \d+ tokens, over --max-length 60"):
        dataset.map(partial(tokenize_batch, format="alpaca-llmfs", tokenizer=tokenizers["gpt2"][1], max_length=60),
                    batched=True, remove_columns=dataset.column_names)


@pytest.mark.parametrize(("batch", "options", "message"), [
    ({"instruction": ["a"], "input": [""]}, {}, r"no column 'output'"),
    ({"instruction": ["a", "b"], "input": ["", ""], "output": ["c", 5]}, {}, r"^row 1: output must be a string, got int"),
    ({"messages": [[{"role": "user", "content": "u"}, {"role": "assistant", "content": "a"}],
                   [{"role": "system", "content": "S"}, {"role": "user", "content": "u"},
                    {"role": "assistant", "content": "a"}]]},
     {"format": "gemma"}, r"^row 1: message 0: system-not-supported"),
    ({"messages": [[{"role": "user", "content": "u"}, {"role": "assistant", "content": "a"}],
                   [{"role": "user", "content": "u"}, {"role": "user", "content": "v"}]]},
     {}, r"^row 1: messages: consecutive-user"),
    ({"instruction": ["a", "b"], "input": ["", ""], "output": ["c", "long " * 50]}, {"max_length": 40},
     r"^row 1: too-many-tokens: 83 tokens, over --max-length 40 by 43"),
    ({"messages": [[{"role": "user", "content": "u"}, {"role": "assistant", "content": "a"}],
                   [{"role": "user", "content": "u"}]]}, {}, r"^row 1: nothing-to-train: no token is trained"),
])
def test_errors_raise_batch_error_naming_the_row(tokenizers, batch, options, message):
    with pytest.raises(BatchError, match=message):
        tokenize_batch(batch, **{"format": "qwen2.5", "tokenizer": tokenizers["Qwen2.5-0.5B-Instruct"][1], **options})


def test_max_length_that_fits_changes_nothing(tokenizers):
    loaded = tokenizers["gpt2"][1]
    batch = columns_of(RECORDS, "instruction", "input", "output")
    whole = tokenize_batch(batch, format="alpaca-llmfs", tokenizer=loaded)
    longest = max(map(len, whole["input_ids"]))
    assert tokenize_batch(batch, format="alpaca-llmfs", tokenizer=loaded, max_length=longest) == whole


# -- the faster paths of the tokenizer give what the plain ones give -------------------------------

TEXTS = ["<|im_start|>user\nHi café 東京 🙂<|im_end|>\n", "Below is an instruction.\n\n### Response:\n  x  ", "", "<|endoftext|>"]


@pytest.mark.parametrize("name", ["gpt2", "Qwen2.5-0.5B-Instruct", "Llama-3.2-1B-Instruct/original/tokenizer.model"])
def test_ids_without_offsets_are_the_ids_with_them(shared_data, name):
    tokenizer = load_tokenizer(str(shared_data / "tokenizers" / name))
    assert tokenizer.encode_ids_batch(TEXTS) == [encoding.ids for encoding in tokenizer.encode_batch(TEXTS)]


def test_offsets_read_token_by_token_are_the_backends(tokenizers):
    backend = tokenizers["Qwen2.5-0.5B-Instruct"][1]._tokenizer
    for encoding, expected in zip(tokenizers["Qwen2.5-0.5B-Instruct"][1].encode_batch(TEXTS),
                                  backend.encode_batch(TEXTS, add_special_tokens=False)):
        offsets = encoding.offsets
        assert len(offsets) == len(expected.offsets)
        assert list(offsets) == [offsets[index] for index in range(len(offsets))] == expected.offsets
        assert offsets[1:3] == expected.offsets[1:3]
        if expected.offsets:
            assert offsets[-1] == expected.offsets[-1]
        with pytest.raises(IndexError):
            offsets[len(expected.offsets)]
    # character offsets, shared by the tokens of one character ("東" is two byte-level tokens)
    assert list(tokenizers["Qwen2.5-0.5B-Instruct"][1].encode_batch(TEXTS[:1])[0].offsets) == [
        (0, 12), (12, 16), (16, 17), (17, 19), (19, 24), (24, 26), (25, 26), (26, 27), (27, 29), (29, 39), (39, 40)]
