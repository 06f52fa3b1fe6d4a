"""promptfmt tokenize through the real entry point: ids, labels and masks, every finding it reports,
the length policy, BOS and EOS, errors. A small tokenizer trained here serves the tests that need no
shared data; the real ones come from ../shared/data/tokenizers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from promptfmt.conversation import Conversation
from promptfmt.plugins.registry import default_registry
from promptfmt.tokens import IGNORE, Finding, Labeler, Tokenized, fit, load_tokenizer

CHAT = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Hi"},
    {"role": "assistant", "content": "Hello!"},
    {"role": "user", "content": "Bye"},
    {"role": "assistant", "content": "Ciao"},
]


def tokenizer_path(shared_data: Path, name: str) -> str:
    return str(shared_data / "tokenizers" / name)


def write_jsonl(path: Path, items: list[dict]) -> str:
    path.write_text("".join(json.dumps(item) + "\n" for item in items), encoding="utf-8")
    return str(path)


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def trained_text(tokenizer, item: dict) -> str:
    return tokenizer.decode([i for i, label in zip(item["input_ids"], item["labels"]) if label != IGNORE])


@pytest.fixture(scope="module")
def small_tokenizer(tmp_path_factory) -> str:
    """A byte-level BPE trained on a few lines, with ChatML's special tokens: no shared data needed."""
    tokenizers = pytest.importorskip("tokenizers")
    tokenizer = tokenizers.Tokenizer(tokenizers.models.BPE())
    tokenizer.pre_tokenizer = tokenizers.pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = tokenizers.decoders.ByteLevel()
    trainer = tokenizers.trainers.BpeTrainer(
        vocab_size=400, special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
        initial_alphabet=tokenizers.pre_tokenizers.ByteLevel.alphabet())
    tokenizer.train_from_iterator(["Below is an instruction that describes a task.", "### Response:", "Hello there"] * 20,
                                  trainer)
    path = tmp_path_factory.mktemp("tok") / "tokenizer.json"
    tokenizer.save(str(path))
    return str(path)


# -- the command ------------------------------------------------------------------------------------

def test_conversations_train_on_every_answer_with_its_end_of_turn(cli, tmp_path, shared_data):
    data = write_jsonl(tmp_path / "in.jsonl", [{"messages": CHAT, "id": 7}])
    out = tmp_path / "out.jsonl"
    path = tokenizer_path(shared_data, "Qwen2.5-0.5B-Instruct")
    result = cli("tokenize", data, "-o", str(out), "--format", "qwen2.5", "--tokenizer", path)
    assert result.exit_code == 0, result
    [item] = read_jsonl(out)
    assert list(item) == ["input_ids", "labels", "attention_mask", "id"]  # metadata kept after the columns
    tokenizer = load_tokenizer(path)
    assert trained_text(tokenizer, item) == "Hello!<|im_end|>\nCiao<|im_end|>\n"
    assert item["attention_mask"] == [1] * len(item["input_ids"])
    assert "read 1 = written 1 + quarantined 0" in result.stderr
    last = tmp_path / "last.jsonl"
    assert cli("tokenize", data, "-o", str(last), "-f", "qwen2.5", "-t", path, "--train-on", "last").exit_code == 0
    assert trained_text(tokenizer, read_jsonl(last)[0]) == "Ciao<|im_end|>\n"


def test_special_token_text_in_a_message_is_plain_text_and_reported(cli, tmp_path, shared_data):
    messages = [{"role": "user", "content": "Say <|im_end|> now"}, {"role": "assistant", "content": "ok"}]
    data = write_jsonl(tmp_path / "in.jsonl", [{"messages": messages}])
    out = tmp_path / "out.jsonl"
    path = tokenizer_path(shared_data, "Qwen2.5-0.5B-Instruct")
    result = cli("tokenize", data, "-o", str(out), "-f", "qwen2.5", "-t", path)
    assert result.exit_code == 0, result
    assert "messages.0: special-token-text: message 0 (user) holds '<|im_end|>'" in result.stderr
    ids = read_jsonl(out)[0]["input_ids"]
    im_end = 151645
    # the template closes the system, user and assistant turns: three <|im_end|>, not four
    assert ids.count(im_end) == 3
    tokenizer = load_tokenizer(path)
    assert tokenizer.decode(ids).count("<|im_end|>") == 4  # the fourth is plain text inside the message


def test_a_segment_boundary_inside_a_token_is_reported_with_its_place(cli, tmp_path, shared_data):
    fmt = tmp_path / "qa.toml"
    fmt.write_text('name = "qa-space"\nreference = "a test"\ndescription = "Q and A, the answer after a space"\n[template]\nprefix = "Q: "\nseparator = "\\n"\nprompt_suffix = "\\nA: "\n', encoding="utf-8")
    data = write_jsonl(tmp_path / "in.jsonl", [{"instruction": "Why", "output": "Because"}])
    out = tmp_path / "out.jsonl"
    path = tokenizer_path(shared_data, "gpt2")
    result = cli("tokenize", data, "-o", str(out), "-f", "qa-space", "--format-file", str(fmt), "-t", path, "--json")
    assert result.exit_code == 0, result
    summary = json.loads(result.stdout)
    assert summary["findings"] == {"token-boundary": 1}
    [finding] = summary["first_findings"]
    assert finding["field"] == "messages.1" and finding["record"] == 0
    assert "the start of message 1 (character 10) falls inside token 6 ' Because' (characters 9-17)" in finding["message"]
    # the straddling token is trained, as Hugging Face's assistant mask marks it
    assert trained_text(load_tokenizer(path), read_jsonl(out)[0]) == " Because"


def test_a_prompt_that_tokenizes_otherwise_alone_is_a_prefix_mismatch(cli, tmp_path, shared_data):
    # GPT-2 reads "\n\n" at the end of a text as one token, but before a word as two
    data = write_jsonl(tmp_path / "in.jsonl", [{"messages": CHAT[1:3]}])
    result = cli("tokenize", data, "-o", str(tmp_path / "out.jsonl"), "-f", "llama3", "-t",
                 tokenizer_path(shared_data, "gpt2"), "--eos-token", "<|endoftext|>", "--json")
    assert result.exit_code == 0, result
    summary = json.loads(result.stdout)
    assert summary["findings"] == {"prefix-mismatch": 1}
    assert "the text before message 1 encodes alone as" in summary["first_findings"][0]["message"]
    quiet = cli("tokenize", str(tmp_path / "in.jsonl"), "-o", str(tmp_path / "o2.jsonl"), "-f", "llama3", "-t",
                tokenizer_path(shared_data, "gpt2"), "--no-prefix-check", "--json")
    assert json.loads(quiet.stdout)["findings"] == {}


def test_over_max_length_is_quarantined_never_cut(cli, tmp_path, small_tokenizer):
    items = [{"instruction": "Hello", "output": "Hello there"}, {"instruction": "Hi", "output": "x" * 200}]
    data = write_jsonl(tmp_path / "in.jsonl", items)
    out, kept = tmp_path / "out.jsonl", tmp_path / "q.jsonl"
    result = cli("tokenize", data, "-o", str(out), "-f", "alpaca-llmfs", "-t", small_tokenizer,
                 "--max-length", "80", "--quarantine", str(kept))
    assert result.exit_code == 1, result
    assert "read 2 = written 1 + quarantined 1" in result.stderr
    assert "too-many-tokens 1" in result.stderr
    [refused] = read_jsonl(kept)
    assert refused["item"] == items[1] and refused["issues"][0]["code"] == "too-many-tokens"
    assert len(read_jsonl(out)[0]["input_ids"]) <= 80


def test_a_conversation_without_an_answer_has_nothing_to_train(cli, tmp_path, small_tokenizer):
    data = write_jsonl(tmp_path / "in.jsonl", [{"messages": [{"role": "user", "content": "Hi"}]}])
    result = cli("tokenize", data, "-o", str(tmp_path / "out.jsonl"), "-f", "chatml", "-t", small_tokenizer)
    assert result.exit_code == 1
    assert "nothing-to-train" in result.stderr and "read 1 = written 0 + quarantined 1" in result.stderr


def test_course_formats_append_the_eos_id_trained(cli, tmp_path, small_tokenizer):
    data = write_jsonl(tmp_path / "in.jsonl", [{"instruction": "Hi", "output": "Hello"}])
    out = tmp_path / "out.jsonl"
    assert cli("tokenize", data, "-o", str(out), "-f", "alpaca-llmfs", "-t", small_tokenizer).exit_code == 0
    item = read_jsonl(out)[0]
    assert item["input_ids"][-1] == 0 and item["labels"][-1] == 0  # <|endoftext|>, the first special token
    assert trained_text(load_tokenizer(small_tokenizer), item) == "\n\n### Response:\nHello<|endoftext|>"


def test_parquet_output_holds_integer_lists(cli, tmp_path, small_tokenizer):
    pq = pytest.importorskip("pyarrow.parquet")
    data = write_jsonl(tmp_path / "in.jsonl", [{"instruction": "Hi", "output": "Hello"}] * 3)
    out = tmp_path / "out.parquet"
    assert cli("tokenize", data, "-o", str(out), "-f", "alpaca-llmfs", "-t", small_tokenizer).exit_code == 0
    table = pq.read_table(out)
    assert table.column_names == ["input_ids", "labels", "attention_mask"]
    assert str(table.schema.field("labels").type.value_type) == "int64"
    assert table.column("labels").to_pylist()[0][0] == IGNORE


# -- BOS and EOS with real tokenizers ----------------------------------------------------------------

@pytest.mark.parametrize(("format_name", "tokenizer", "bos"), [
    ("llama3.1", "Llama-3.2-1B-Instruct", 128000),  # rendered <|begin_of_text|>: the tokenizer adds none
    ("alpaca", "Llama-3.2-1B-Instruct", 128000),  # no BOS text: the tokenizer's own
    ("mistral-v3", "Mistral-7B-Instruct-v0.3", 1),  # rendered <s>
    ("alpaca", "Mistral-7B-Instruct-v0.3", 1),
])
def test_exactly_one_bos(shared_data, format_name, tokenizer, bos):
    fmt = default_registry().get(format_name)
    conversation = Conversation.of([("user", "Hi"), ("assistant", "Hello")])
    labeler = Labeler(load_tokenizer(tokenizer_path(shared_data, tokenizer)), append_eos=fmt.append_eos)
    [tokenized] = labeler.tokenize([(fmt.render_conversation(conversation), conversation.messages)])
    assert tokenized.input_ids[0] == bos and tokenized.input_ids.count(bos) == 1
    assert tokenized.labels[0] == IGNORE


def test_alpaca_appends_the_configured_eos(shared_data):
    fmt = default_registry().get("alpaca")
    tokenizer = load_tokenizer(tokenizer_path(shared_data, "Llama-3.2-1B-Instruct"))
    assert tokenizer.eos == 128009  # tokenizer_config.json names <|eot_id|>, as train.py's tokenizer.eos_token
    conversation = Conversation.of([("user", "Hi"), ("assistant", "Hello")])
    [tokenized] = Labeler(tokenizer, append_eos=True).tokenize([(fmt.render_conversation(conversation), conversation.messages)])
    assert tokenized.input_ids[-1] == tokenized.labels[-1] == 128009


def test_the_tiktoken_file_gives_the_ids_of_the_tokenizer_json(shared_data):
    folder = Path(tokenizer_path(shared_data, "Llama-3.2-1B-Instruct"))
    texts = ["<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi  there\n\n\n123456 ünïcode<|eot_id|>"]
    [from_json] = load_tokenizer(str(folder)).encode_batch(texts)
    [from_ranks] = load_tokenizer(str(folder / "original" / "tokenizer.model")).encode_batch(texts)
    assert from_json.ids == from_ranks.ids and list(from_json.offsets) == list(from_ranks.offsets)


# -- the length policy ------------------------------------------------------------------------------

def test_fit_cuts_only_untrained_tokens():
    tokenized = Tokenized([1, 2, 3, 4, 5], [IGNORE, 2, 3, IGNORE, IGNORE])
    assert fit(tokenized, None) == (tokenized, None)
    cut, problem = fit(tokenized, 3)
    assert problem is None and cut.input_ids == [1, 2, 3] and cut.labels == [IGNORE, 2, 3]
    assert cut.findings == (Finding("cut-to-max-length", "$", "5 tokens cut to 3: the 2 cut are all untrained"),)
    same, problem = fit(tokenized, 2)
    assert same is tokenized and problem is not None and problem[0] == "too-many-tokens"
    assert "its trained tokens run to token 3" in problem.message


# -- validation warns too ---------------------------------------------------------------------------

def test_validate_with_a_tokenizer_warns_about_special_token_text(cli, tmp_path, shared_data):
    data = write_jsonl(tmp_path / "in.jsonl", [{"instruction": "Say <|eot_id|>", "output": "ok"},
                                               {"instruction": "plain", "output": "ok"}])
    result = cli("validate", data, "--tokenizer", tokenizer_path(shared_data, "Llama-3.2-1B-Instruct"), "--json")
    issues = [(i["record"], i["code"], i["field"]) for i in json.loads(result.stdout)["issues"]]
    assert (0, "special-token-text", "instruction") in issues
    assert all(record == 0 for record, _, _ in issues)


# -- errors -----------------------------------------------------------------------------------------

def test_tokenizer_errors_are_usage_errors(cli, tmp_path, small_tokenizer):
    data = write_jsonl(tmp_path / "in.jsonl", [{"instruction": "Hi", "output": "Hello"}])
    out = str(tmp_path / "out.jsonl")
    missing = cli("tokenize", data, "-o", out, "-f", "alpaca", "-t", str(tmp_path / "nope"))
    assert missing.exit_code == 2 and "no such file or folder" in missing.stderr
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\x00\x01 not a tokenizer")
    assert "neither a tokenizer.json nor a tiktoken BPE rank file" in cli("tokenize", data, "-o", out, "-f", "alpaca",
                                                                          "-t", str(junk)).stderr
    ranks = tmp_path / "ranks.tiktoken"
    ranks.write_text("YQ== 0\nYg== 1\n", encoding="utf-8")
    odd = cli("tokenize", data, "-o", out, "-f", "alpaca", "-t", str(ranks))
    assert odd.exit_code == 2 and "a BPE rank file of 2 tokens" in odd.stderr
    bad_eos = cli("tokenize", data, "-o", out, "-f", "alpaca", "-t", small_tokenizer, "--eos-token", "</s>")
    assert bad_eos.exit_code == 2 and "is not one of the tokenizer's special tokens" in bad_eos.stderr
    part = cli("tokenize", data, "-o", out, "-f", "alpaca", "-t", small_tokenizer, "--train-on", "prompt")
    assert part.exit_code == 2 and "choose one of assistant, last, completion, all" in part.stderr
    assert not Path(out).exists()


def test_a_tokenizer_without_eos_for_a_format_that_appends_it(cli, tmp_path):
    tokenizers = pytest.importorskip("tokenizers")
    bare = tokenizers.Tokenizer(tokenizers.models.WordLevel({"a": 0, "[UNK]": 1}, unk_token="[UNK]"))
    path = tmp_path / "tokenizer.json"
    bare.save(str(path))
    data = write_jsonl(tmp_path / "in.jsonl", [{"instruction": "a", "output": "a"}])
    result = cli("tokenize", data, "-o", str(tmp_path / "out.jsonl"), "-f", "alpaca-llmfs", "-t", str(path))
    assert result.exit_code == 2 and "pass --eos-token TEXT" in result.stderr


def test_without_the_tokenizers_library_the_message_says_what_to_install(tmp_path, small_tokenizer):
    data = write_jsonl(tmp_path / "in.jsonl", [{"instruction": "Hi", "output": "Hello"}])
    code = ("import sys; sys.modules['tokenizers'] = None; from promptfmt.cli import main; "
            f"main(['tokenize', {data!r}, '-o', {str(tmp_path / 'o.jsonl')!r}, '-f', 'alpaca', '-t', {small_tokenizer!r}])")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 2
    assert run.stderr.strip() == ("Error: Hugging Face tokenizer files need tokenizers, which is not installed: "
                                  "pip install 'promptfmt[tokenize]'")


def test_a_lone_surrogate_is_quarantined_not_a_crash(cli, tmp_path, small_tokenizer):
    data = tmp_path / "in.jsonl"
    data.write_text('{"instruction": "Hi \\ud800 there", "output": "ok"}\n{"instruction": "Hello", "output": "ok"}\n',
                    encoding="utf-8")
    result = cli("tokenize", str(data), "-o", str(tmp_path / "out.jsonl"), "-f", "alpaca-llmfs", "-t", small_tokenizer)
    assert result.exit_code == 1, result
    assert "record 0: messages.0: not-encodable: message 0 (user) holds a lone surrogate" in result.stderr
    assert "read 2 = written 1 + quarantined 1" in result.stderr


def test_rendered_text_is_read_back_with_from(cli, tmp_path, small_tokenizer):
    records = [{"instruction": "Hello", "input": "there", "output": "Hello there"}, {"instruction": "Hi", "output": "ok"}]
    data = write_jsonl(tmp_path / "in.jsonl", records)
    rendered = tmp_path / "rendered.jsonl"
    assert cli("convert", data, "-o", str(rendered), "--to", "alpaca-llmfs").exit_code == 0
    direct, back = tmp_path / "direct.jsonl", tmp_path / "back.jsonl"
    assert cli("tokenize", data, "-o", str(direct), "-f", "alpaca-llmfs", "-t", small_tokenizer).exit_code == 0
    unnamed = cli("tokenize", str(rendered), "-o", str(back), "-f", "alpaca-llmfs", "-t", small_tokenizer)
    assert unnamed.exit_code == 2 and "--from FORMAT" in unnamed.stderr
    result = cli("tokenize", str(rendered), "-o", str(back), "-f", "alpaca-llmfs", "-t", small_tokenizer, "--from", "auto")
    assert result.exit_code == 0, result
    assert back.read_bytes() == direct.read_bytes()


def test_a_text_the_tokenizer_cannot_encode_is_quarantined_the_rest_written(cli, tmp_path):
    tokenizers = pytest.importorskip("tokenizers")
    vocabulary = {"Q": 0, ":": 1, "A": 2, "Why": 3, "Because": 4}
    words = tokenizers.Tokenizer(tokenizers.models.WordLevel(vocabulary))  # no unknown token: "Huh" cannot be encoded
    words.pre_tokenizer = tokenizers.pre_tokenizers.Whitespace()
    path = tmp_path / "tokenizer.json"
    words.save(str(path))
    fmt = tmp_path / "qa.toml"
    fmt.write_text('name = "qa"\nreference = "a test"\ndescription = "Q and A"\n[template]\nprefix = "Q: "\n'
                   'separator = "\\n"\nprompt_suffix = "\\nA: "\n', encoding="utf-8")
    data = write_jsonl(tmp_path / "in.jsonl", [{"instruction": "Why", "output": "Because"},
                                               {"instruction": "Huh", "output": "Because"}])
    out = tmp_path / "out.jsonl"
    result = cli("tokenize", data, "-o", str(out), "-f", "qa", "--format-file", str(fmt), "-t", str(path))
    assert result.exit_code == 1, result
    assert "record 1: $: not-encodable: the tokenizer cannot encode the text: WordLevel error" in result.stderr
    assert "read 2 = written 1 + quarantined 1" in result.stderr
    [item] = read_jsonl(out)
    assert item["input_ids"] == [0, 1, 3, 2, 1, 4] and item["labels"] == [IGNORE] * 5 + [4]
