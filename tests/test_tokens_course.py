"""The course's batches, exactly: LLMs-from-scratch chapter 7 against promptfmt tokenize + collate.

The reference below is the course's dataset and ``custom_collate_fn`` (both the main chapter's and
exercise 7.2's, which masks the instruction), written here in torch from their semantics, over
tiktoken's ``gpt2`` encoding built offline from the shared GPT-2 files. promptfmt's side goes through
the library (the GPT-2 ``tokenizer.json``) and through the real ``promptfmt tokenize`` (the GPT-2
folder); all 1,100 records are compared batch by batch, eight at a time, over the course's three
splits in order, with ``torch.equal``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from functools import partial
from pathlib import Path

import pytest

from promptfmt.conversion.stages import one_turn_of
from promptfmt.errors import UsageError
from promptfmt.tokens import Labeler, TokenizerError, load_tokenizer
from promptfmt.tokens.batch import tokenize_batch
from promptfmt.tokens.collate import collate, collate_fn

from .helpers import COURSE, builtin

torch = pytest.importorskip("torch")
tiktoken = pytest.importorskip("tiktoken")

EOT, IGNORE, BATCH, ALLOWED = 50256, -100, 8, 1024
PREAMBLE = "Below is an instruction that describes a task. Write a response that appropriately completes the request."
# Which --train-on gives which course variant: the main chapter trains every token, exercise 7.2
# masks the instruction (the prompt that format_input returns).
VARIANTS = {"all": False, "completion": True}

# -- the course, from its semantics ---------------------------------------------------------------------


def format_input(entry: dict) -> str:
    """The course's prompt: one preamble, the input block only for a non-empty input."""
    prompt = f"{PREAMBLE}\n\n### Instruction:\n{entry['instruction']}"
    return prompt + (f"\n\n### Input:\n{entry['input']}" if entry["input"] else "")


class CourseDataset(torch.utils.data.Dataset):
    """Each entry's ids (prompt + response header + output, nothing appended) and its prompt's length."""

    def __init__(self, entries: list[dict], encoding) -> None:
        self.items = [
            (len(encoding.encode(format_input(e))), encoding.encode(f"{format_input(e)}\n\n### Response:\n{e['output']}"))
            for e in entries
        ]

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int):
        return self.items[index]


def course_collate(batch, *, mask_instruction: bool, pad_token_id=EOT, ignore_index=IGNORE, allowed_max_length=None):
    """One end-of-text appended, padded to the longest + 1, shifted by one; in the targets every
    padding but the first is ignored, then (exercise 7.2) the instruction's targets; then the cut."""
    longest = max(len(ids) + 1 for _, ids in batch)
    inputs, targets = [], []
    for prompt_length, ids in batch:
        padded = [*ids, pad_token_id] + [pad_token_id] * (longest - len(ids) - 1)
        x, y = torch.tensor(padded[:-1]), torch.tensor(padded[1:])
        pads = torch.nonzero(y == pad_token_id).flatten()
        if pads.numel() > 1:
            y[pads[1:]] = ignore_index
        if mask_instruction:
            y[: prompt_length - 1] = ignore_index
        if allowed_max_length is not None:
            x, y = x[:allowed_max_length], y[:allowed_max_length]
        inputs.append(x)
        targets.append(y)
    return torch.stack(inputs), torch.stack(targets)


def course_splits(items: list) -> list[list]:
    """Train, test, validation: the first 85 %, the next 10 %, the rest, in order."""
    train, test = int(0.85 * len(items)), int(0.10 * len(items))
    return [items[:train], items[train:train + test], items[train + test:]]


def course_batches(dataset: CourseDataset, mask_instruction: bool, allowed_max_length=ALLOWED) -> list:
    """The batches of the course's DataLoaders over the three splits, unshuffled."""
    function = partial(course_collate, mask_instruction=mask_instruction, allowed_max_length=allowed_max_length)
    return [batch for split in course_splits(list(range(len(dataset))))
            for batch in torch.utils.data.DataLoader(torch.utils.data.Subset(dataset, split), batch_size=BATCH,
                                                     shuffle=False, collate_fn=function)]


# -- fixtures -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def entries(shared_data: Path) -> list[dict]:
    return json.loads((shared_data / COURSE).read_text("utf-8"))


@pytest.fixture(scope="module")
def gpt2(shared_data: Path) -> Path:
    return shared_data / "tokenizers" / "gpt2"


@pytest.fixture(scope="module")
def course(entries, gpt2) -> CourseDataset:
    """tiktoken's gpt2 encoding, offline: the data-gym files are the shared vocab.bpe and encoder.json
    (tiktoken checks its own pinned hashes of them), with the r50k pattern."""
    from tiktoken.load import data_gym_to_mergeable_bpe_ranks
    from tiktoken_ext.openai_public import ENDOFTEXT, r50k_pat_str

    ranks = data_gym_to_mergeable_bpe_ranks(
        vocab_bpe_file=str(gpt2 / "merges.txt"), encoder_json_file=str(gpt2 / "vocab.json"),
        vocab_bpe_hash="1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5",
        encoder_json_hash="196139668be63f3b5d6574427317ae82f612a97c5d1cdaf36ed2256dbf636783")
    encoding = tiktoken.Encoding("gpt2", pat_str=r50k_pat_str, mergeable_ranks=ranks, special_tokens={ENDOFTEXT: EOT})
    assert encoding.n_vocab == 50257 and encoding.encode("Hello, world") == [15496, 11, 995]
    return CourseDataset(entries, encoding)


@pytest.fixture(scope="module")
def tokenized(entries, gpt2) -> dict[str, list[dict]]:
    """promptfmt's items through the library (the GPT-2 tokenizer.json), per --train-on."""
    fmt = builtin("alpaca-llmfs")
    conversations = [one_turn_of(fmt)(e["instruction"], e["input"], e["output"]) for e in entries]
    renderings = [(fmt.render_conversation(c), c.messages) for c in conversations]
    tokenizer = load_tokenizer(gpt2 / "tokenizer.json")
    items = {}
    for train_on in VARIANTS:
        results = Labeler(tokenizer, train_on=train_on, append_eos=fmt.append_eos).tokenize(renderings)
        assert [r.findings for r in results if r.findings] == []  # no token straddles the prompt's end
        items[train_on] = [r.as_dict() for r in results]
    return items


def assert_same_batches(ours: list, theirs: list) -> None:
    assert len(ours) == len(theirs) == 117 + 14 + 7  # 935, 110 and 55 records in batches of 8
    for number, ((inputs, targets), (course_inputs, course_targets)) in enumerate(zip(ours, theirs)):
        assert inputs.dtype == course_inputs.dtype == torch.long, number
        assert torch.equal(inputs, course_inputs), f"batch {number}: inputs differ"
        assert torch.equal(targets, course_targets), f"batch {number}: targets differ"


# -- the comparisons ----------------------------------------------------------------------------------


def test_the_course_data_and_its_splits(entries, course):
    assert [len(split) for split in course_splits(entries)] == [935, 110, 55]
    with_input = sum(1 for e in entries if e["input"])
    assert 0 < with_input < len(entries)  # both prompt shapes are compared
    assert max(len(ids) for _, ids in course.items) + 1 == 92  # the longest item is far below 1024


@pytest.mark.parametrize("train_on", VARIANTS)
def test_promptfmt_ids_and_labels_are_the_course_tokens(train_on, course, tokenized):
    """GPT-2's tokenizer.json through promptfmt gives tiktoken's ids for every record, then the
    end-of-text the course's collate appends; --train-on completion leaves the prompt's tokens out."""
    for index, ((prompt_length, ids), item) in enumerate(zip(course.items, tokenized[train_on], strict=True)):
        assert item["input_ids"] == [*ids, EOT], index
        expected = [*ids, EOT] if train_on == "all" else [IGNORE] * prompt_length + [*ids[prompt_length:], EOT]
        assert item["labels"] == expected, index


@pytest.mark.parametrize("train_on", VARIANTS)
def test_library_batches_equal_the_course_batches(train_on, course, tokenized):
    items = tokenized[train_on]
    ours = [collate(split[start:start + BATCH], pad_token_id=EOT, allowed_max_length=ALLOWED)
            for split in course_splits(items) for start in range(0, len(split), BATCH)]
    assert_same_batches(ours, course_batches(course, VARIANTS[train_on]))


@pytest.mark.parametrize("train_on", VARIANTS)
def test_cli_tokenize_split_and_a_dataloader_give_the_course_batches(train_on, course, gpt2, cli, tmp_path):
    """`promptfmt tokenize` of the course file, `promptfmt split` of its tokens (the course's 85 % /
    10 % / rest, in order), each part read back and batched by a DataLoader with promptfmt's
    collate_fn: the course's tensors."""
    tokens = tmp_path / "tokens.jsonl"
    result = cli("tokenize", str(gpt2.parents[1] / COURSE), "--format", "alpaca-llmfs", "--tokenizer", str(gpt2),
                 "--train-on", train_on, "-o", str(tokens), "--json")
    assert result.exit_code == 0, result
    summary = json.loads(result.stdout)
    assert (summary["written"], summary["findings"], summary["longest"]) == (1100, {}, 92)
    result = cli("split", str(tokens), "--out-dir", str(tmp_path / "parts"))
    assert result.exit_code == 0, result
    function = collate_fn(pad_token_id=EOT, allowed_max_length=ALLOWED)
    ours = []
    for part, size in (("train", 935), ("test", 110), ("val", 55)):
        items = [json.loads(line) for line in (tmp_path / "parts" / f"{part}.jsonl").read_text("utf-8").splitlines()]
        assert len(items) == size
        ours += torch.utils.data.DataLoader(items, batch_size=BATCH, shuffle=False, collate_fn=function)
    assert_same_batches(ours, course_batches(course, VARIANTS[train_on]))
    ignored = sum(int((targets == IGNORE).sum()) for _, targets in ours)
    assert ignored > (30_000 if train_on == "completion" else 1_000)  # the masks are compared, not only ids


@pytest.mark.parametrize("train_on", VARIANTS)
def test_a_cut_below_the_longest_item_is_the_course_cut(train_on, course, tokenized):
    """With allowed_max_length=40 every item is cut (after the masks, as the course cuts)."""
    items = tokenized[train_on]
    ours = [collate(split[start:start + BATCH], pad_token_id=EOT, allowed_max_length=40)
            for split in course_splits(items) for start in range(0, len(split), BATCH)]
    assert {tuple(inputs.shape)[1] for inputs, _ in ours} == {40}
    assert_same_batches(ours, course_batches(course, VARIANTS[train_on], allowed_max_length=40))


# -- collate itself -----------------------------------------------------------------------------------

ITEMS = [{"input_ids": [1, 2, 3], "labels": [IGNORE, 2, 3]}, {"input_ids": [4], "labels": [4]}]


def test_shift_gives_inputs_and_targets_as_lists_without_tensors():
    assert collate(ITEMS, pad_token_id=0, return_tensors=None) == ([[1, 2], [4, 0]], [[2, 3], [IGNORE, IGNORE]])


def test_without_shift_a_hugging_face_batch_is_padded():
    batch = collate(ITEMS, pad_token_id=0, shift=False)
    assert set(batch) == {"input_ids", "labels", "attention_mask"}
    assert torch.equal(batch["input_ids"], torch.tensor([[1, 2, 3], [4, 0, 0]]))
    assert torch.equal(batch["labels"], torch.tensor([[IGNORE, 2, 3], [4, IGNORE, IGNORE]]))
    assert torch.equal(batch["attention_mask"], torch.tensor([[1, 1, 1], [1, 0, 0]]))
    assert collate(ITEMS, pad_token_id=9, shift=False, return_tensors=None, ignore_index=-1) == {
        "input_ids": [[1, 2, 3], [4, 9, 9]], "labels": [[-1, 2, 3], [4, -1, -1]],
        "attention_mask": [[1, 1, 1], [1, 0, 0]]}


def test_allowed_max_length_cuts_every_column():
    assert collate(ITEMS, pad_token_id=0, return_tensors=None, allowed_max_length=1) == ([[1], [4]], [[2], [IGNORE]])
    assert collate(ITEMS, pad_token_id=0, shift=False, return_tensors=None, allowed_max_length=2) == {
        "input_ids": [[1, 2], [4, 0]], "labels": [[IGNORE, 2], [4, IGNORE]], "attention_mask": [[1, 1], [1, 0]]}


def test_an_empty_batch_and_an_unknown_tensor_kind_are_usage_errors():
    with pytest.raises(UsageError, match="collate: the batch is empty"):
        collate([], pad_token_id=0)
    with pytest.raises(UsageError, match="return_tensors='np'; use 'pt'"):
        collate(ITEMS, pad_token_id=0, return_tensors="np")
    with pytest.raises(UsageError, match="collate: item 1 has no labels"):
        collate([{"input_ids": [1], "labels": [1]}, {"input_ids": [2]}], pad_token_id=0)
    with pytest.raises(UsageError, match="collate: item 0 has 2 input_ids and 1 labels"):
        collate([{"input_ids": [1, 2], "labels": [1]}], pad_token_id=0)


def test_tensors_without_torch_name_the_extra_to_install():
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "from promptfmt.errors import MissingExtraError\n"
        "from promptfmt.tokens.collate import collate\n"
        "assert collate([{'input_ids': [1], 'labels': [1]}], pad_token_id=0, return_tensors=None) == ([[]], [[]])\n"
        "try:\n"
        "    collate([{'input_ids': [1], 'labels': [1]}], pad_token_id=0)\n"
        "except MissingExtraError as error:\n"
        "    print(error)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False,
                            env={"PROMPTFMT_DISABLE_ENTRY_POINTS": "1", "PATH": ""})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "PyTorch tensors need torch, which is not installed: pip install 'promptfmt[torch]'"


def test_the_gpt2_folder_without_tokenizer_json_gives_the_same_ids(course, gpt2, tmp_path):
    """vocab.json + merges.txt alone (GPT-2's original files) tokenize as tokenizer.json does."""
    for name in ("vocab.json", "merges.txt"):
        shutil.copy(gpt2 / name, tmp_path / name)
    tokenizer = load_tokenizer(tmp_path, eos_token="<|endoftext|>")  # a pathlib.Path, as everywhere here
    assert tokenizer.eos == EOT
    texts = [format_input(e) + f"\n\n### Response:\n{e['output']}" for e in json.loads((gpt2.parents[1] / COURSE).read_text("utf-8"))]
    assert [encoding.ids for encoding in tokenizer.encode_batch(texts)] == [ids for _, ids in course.items]
    with pytest.raises(TokenizerError, match="missing: no such file or folder"):
        load_tokenizer(tmp_path / "missing")


def test_tokenize_batch_gives_the_library_items(entries, gpt2, tokenized):
    """The datasets.map(batched=True) function gives the same columns as the Labeler."""
    columns = {key: [e[key] for e in entries] for key in ("instruction", "input", "output")}
    tokenizer = load_tokenizer(gpt2)
    for train_on in VARIANTS:
        out = tokenize_batch(columns, format="alpaca-llmfs", tokenizer=tokenizer, train_on=train_on)
        assert out["input_ids"] == [item["input_ids"] for item in tokenized[train_on]], train_on
        assert out["labels"] == [item["labels"] for item in tokenized[train_on]], train_on
