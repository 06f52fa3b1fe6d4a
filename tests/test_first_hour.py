"""What a new user meets in the first hour on real datasets, through the real entry point: the task in
``input`` (``--swap-when-empty``), ``convert --ignore``, repeated warnings summarised, report lines
that no key can forge, ``split --val 0``, and the BOS text (``--strip-bos``)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from promptfmt.splitting import Fractions

UNSLOTH = "unsloth_alpaca/alpaca_unsloth.json"  # 219 questions in input under an empty instruction, 38 full records
LINE = re.compile(r'^data\.jsonl:\d+: record \d+: ([\w.$\[\]-]+|"(?:[^"\\]|\\.)*"): [a-z-]+: ')
TASK_IN_INPUT = [
    {"instruction": "", "input": "What is 2 + 2?", "output": "4"},
    {"instruction": "Translate to German.", "input": "Hello", "output": "Hallo"},  # a good record: left alone
    {"input": "Name a colour. ", "output": "Blue.", "id": 3},  # instruction missing
    {"instruction": "", "input": "  ", "output": "x"},  # nothing to read: still an error
]


def write_jsonl(path: Path, items: list) -> Path:
    path.write_text("".join(json.dumps(item, ensure_ascii=False) + "\n" for item in items), encoding="utf-8")
    return path


def read_jsonl(path: Path) -> list:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines()]


# -- 1. the task in input -------------------------------------------------------------------------


def test_validate_suggests_swap_when_empty_which_reads_only_the_records_that_need_it(cli, tmp_path):
    data = write_jsonl(tmp_path / "data.jsonl", TASK_IN_INPUT)
    plain = cli("validate", str(data))
    assert plain.exit_code == 1
    assert plain.stdout.count("pass --swap-when-empty") == 2 and "--map instruction=input" not in plain.stdout
    swapped = cli("validate", str(data), "--swap-when-empty")
    assert swapped.exit_code == 1, swapped  # record 3 has no text to read
    lines = swapped.stdout.splitlines()
    assert [line.split(": ")[1:4] for line in lines if ": record " in line] == [
        ["record 2", "id", "unknown-field"],
        ["record 2", "input", "surrounding-whitespace"],  # named by the key the text is in
        ["record 3", "instruction", "empty-instruction"],
        ["record 3", "input", "whitespace-only-input"],
    ]
    assert "'input' (instruction) has trailing \" \" whitespace" in swapped.stdout
    assert lines[-1] == "2 record(s) read with their input as the instruction (--swap-when-empty)."
    report = json.loads(cli("validate", str(data), "--swap-when-empty", "--json").stdout)
    assert (report["swapped"], report["invalid"]) == (2, 1)
    assert json.loads(cli("validate", str(data), "--json").stdout)["swapped"] == 0


def test_validate_counts_swapped_records_alike_in_several_processes(cli, tmp_path):
    data = write_jsonl(tmp_path / "many.jsonl", [TASK_IN_INPUT[n % 3] | {"n": n} for n in range(600)])
    one = cli("validate", str(data), "--swap-when-empty", "--json", "--workers", "1")
    two = cli("validate", str(data), "--swap-when-empty", "--json", "--workers", "2")
    assert json.loads(one.stdout) == json.loads(two.stdout)
    assert json.loads(two.stdout)["swapped"] == 400


def test_convert_swaps_the_unsloth_questions_and_leaves_the_full_records_alone(cli, tmp_path, shared_data):
    source = json.loads((shared_data / UNSLOTH).read_text("utf-8"))
    full = [i for i, record in enumerate(source) if record["instruction"]]
    assert len(full) == 38 and source[full[0]]["instruction"] == "Answer the question about Unsloth:"
    out = tmp_path / "out.jsonl"
    result = cli("convert", str(shared_data / UNSLOTH), "-o", str(out), "--swap-when-empty", "--json")
    assert result.exit_code == 0, result
    assert json.loads(result.stdout)["swapped"] == 219
    written = read_jsonl(out)
    assert written[0] == {"instruction": source[0]["input"], "input": "", "output": source[0]["output"]}
    assert [written[i] for i in full] == [source[i] for i in full]
    # what --map would have done: every record swapped, the full ones come out wrong, exit 0
    both = cli("convert", str(shared_data / UNSLOTH), "-o", str(tmp_path / "map.jsonl"),
               "--map", "instruction=input", "--map", "input=instruction")
    assert both.exit_code == 0
    assert read_jsonl(tmp_path / "map.jsonl")[full[0]]["instruction"] == source[full[0]]["input"]


def test_convert_in_parts_counts_swapped_records_and_keeps_the_bos_note(cli, tmp_path):
    data = write_jsonl(tmp_path / "many.jsonl", [TASK_IN_INPUT[n % 3] | {"n": n} for n in range(600)])
    runs = [cli("convert", str(data), "-o", str(tmp_path / f"{w}.jsonl"), "--to", "llama3", "--swap-when-empty",
                "--ignore", "unknown-field", "--json", "--workers", w) for w in ("1", "2")]
    one, two = (json.loads(run.stdout) for run in runs)
    assert one == two | {"output": one["output"]}
    assert (two["swapped"], two["written"], two["bos"], two["ignored"]) == (400, 600, "<|begin_of_text|>", ["unknown-field"])
    assert (tmp_path / "1.jsonl").read_bytes() == (tmp_path / "2.jsonl").read_bytes()


def test_convert_swap_when_empty_text_summary_and_layouts_without_those_keys(cli, tmp_path):
    data = write_jsonl(tmp_path / "data.jsonl", TASK_IN_INPUT[:3])
    result = cli("convert", str(data), "-o", "-", "--to", "chatml", "--swap-when-empty")
    assert result.exit_code == 0, result
    assert read_text_column(result.stdout)[0] == "<|im_start|>user\nWhat is 2 + 2?<|im_end|>\n<|im_start|>assistant\n4<|im_end|>\n"
    assert "read with their input as the instruction (--swap-when-empty): 2 record(s)" in result.stderr
    chats = write_jsonl(tmp_path / "chats.jsonl", [{"messages": [{"role": "user", "content": "u"}]}])
    refused = cli("convert", str(chats), "-o", "-", "--swap-when-empty")
    assert refused.exit_code == 2 and "the messages layout has no instruction and input keys" in refused.stderr


def read_text_column(stdout: str) -> list[str]:
    return [json.loads(line)["text"] for line in stdout.splitlines()]


# -- 2. convert --ignore ----------------------------------------------------------------------------


def test_convert_ignore_lets_an_ignored_error_through_and_refuses_what_cannot_be_ignored(cli, tmp_path):
    data = write_jsonl(tmp_path / "data.jsonl", [{"instruction": "Say nothing.", "output": ""},
                                                 {"instruction": "Hi ", "output": "Hello"}])
    kept = cli("convert", str(data), "-o", "-", "--json-array", "--ignore", "empty-output")
    assert kept.exit_code == 0, kept
    assert json.loads(kept.stdout)[0] == {"instruction": "Say nothing.", "input": "", "output": ""}
    assert "checks not applied (--ignore): empty-output" in kept.stderr
    assert "warnings (written anyway): surrounding-whitespace 1" in kept.stderr
    refused = cli("convert", str(data), "-o", "-")
    assert refused.exit_code == 1 and "quarantined by reason: empty-output 1" in refused.stderr
    quiet = cli("convert", str(data), "-o", str(tmp_path / "o.jsonl"), "--json",
                "--ignore", "empty-output", "--ignore", "surrounding-whitespace")
    assert json.loads(quiet.stdout)["warnings"] == {}
    assert json.loads(quiet.stdout)["ignored"] == ["empty-output", "surrounding-whitespace"]
    for code, why in (("invalid-json", "not a record at all"), ("lossy-in-format", "unless --strict"),
                      ("duplicate-record", "convert does not look for it"), ("no-such-check", "unknown check")):
        result = cli("convert", str(data), "-o", "-", "--ignore", code)
        assert result.exit_code == 2 and why in result.stderr, (code, result)
    assert "no longer quarantines the record" in " ".join(cli("convert", "--help").stdout.split())


# -- 3. repeated warnings ---------------------------------------------------------------------------


def test_a_warning_repeated_on_one_key_is_listed_three_times_then_summarised(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rows = [{"instruction": f"Task {n}.", "output": "Done.", "source": "web"} for n in range(4535)]
    rows += [{"instruction": "Empty.", "output": ""} for _ in range(5)]
    write_jsonl(Path("data.jsonl"), rows)
    result = cli("validate", "data.jsonl")
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert sum("unknown-field" in line and line.startswith("data.jsonl:") for line in lines) == 3
    assert sum("empty-output" in line and line.startswith("data.jsonl:") for line in lines) == 5  # errors: all
    assert 'unknown-field on key "source": 4,535 records (first: data.jsonl:1, data.jsonl:2, data.jsonl:3)' in lines
    assert "more issue(s) not listed" not in result.stdout
    assert re.search(r"^unknown-field +warning +4,535$", result.stdout, flags=re.M)
    report = json.loads(cli("validate", "data.jsonl", "--json").stdout)
    assert sum(issue["code"] == "unknown-field" for issue in report["issues"]) == 4535


# -- 4. one issue, one line -------------------------------------------------------------------------


def test_no_key_or_value_can_forge_a_report_line(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    forged = "x\n data.jsonl:9: record 8 ok"
    write_jsonl(Path("data.jsonl"), [
        {"instruction": "a", "output": "b", forged: 1},
        {"instruction": "a\u2028", "output": "b\x85"},  # line separators that str.splitlines honours
        {"instruction": "c", "output": "d", "key: with colon": 1, "": 2},
    ])
    result = cli("validate", "data.jsonl")
    listed = [line for line in result.stdout.splitlines() if re.match(r"data\.jsonl:\d", line)]
    assert len(listed) == json.loads(cli("validate", "data.jsonl", "--json").stdout)["warnings"] == 6
    assert all(LINE.match(line) for line in listed), listed
    assert listed[0].startswith('data.jsonl:1: record 0: "x\\n data.jsonl:9: record 8 ok": unknown-field: ')
    assert "\\u2028" in listed[1] and "\\u0085" in listed[2]
    assert listed[4].startswith('data.jsonl:3: record 2: "key: with colon": unknown-field')
    assert listed[5].startswith('data.jsonl:3: record 2: "": unknown-field')
    assert result.stdout.splitlines() == result.stdout.rstrip("\n").split("\n")  # no other line break anywhere
    issues = json.loads(cli("validate", "data.jsonl", "--json").stdout)["issues"]
    assert issues[0]["field"] == forged  # the JSON report keeps the key as written


# -- 5. split with a fraction of 0 ------------------------------------------------------------------


@pytest.mark.parametrize(("options", "counts", "files"), [
    (("--train", "0.9", "--test", "0.1", "--val", "0"), (9, 1, 0), ("train", "test")),
    (("--train", "0.95", "--test", "0", "--val", "0.05"), (9, 0, 1), ("train", "val")),
    (("--train", "1", "--test", "0", "--val", "0"), (10, 0, 0), ("train",)),
])
def test_a_part_of_fraction_zero_gets_no_item_and_no_file(cli, tmp_path, options, counts, files):
    data = write_jsonl(tmp_path / "in.jsonl", [{"i": i} for i in range(10)])
    out = tmp_path / "parts"
    result = cli("split", str(data), "--out-dir", str(out), *options, "--json")
    assert result.exit_code == 0, result
    summary = json.loads(result.stdout)
    assert (summary["train"], summary["test"], summary["val"]) == counts
    assert summary["read"] == sum(counts) + summary["refused"]
    assert sorted(summary["files"]) == sorted(files)
    assert sorted(path.stem for path in out.iterdir()) == sorted(files)
    written = [item["i"] for name in files for item in read_jsonl(out / f"{name}.jsonl")]
    assert written == list(range(10))
    human = cli("split", str(data), "--out-dir", str(tmp_path / "again"), *options)
    for name in {"train", "test", "val"} - set(files):
        assert re.search(rf"^  {name} +0  no file written \(--{name} 0\)$", human.stderr, flags=re.M), human.stderr


def test_fractions_of_zero_give_the_rest_to_the_last_part_in_use():
    assert Fractions(0.9, 0.1, 0).counts(3) == (2, 1, 0)  # the course's formula would give val 1
    assert Fractions(0.85, 0.10, 0.05).counts(1100) == (935, 110, 55)
    assert Fractions(0, 0.5, 0.5).counts(5) == (0, 2, 3)


# -- 7. the BOS text ------------------------------------------------------------------------------

RECORDS = [{"instruction": "Name a colour.", "output": "Blue."}, {"instruction": "Pad ", "output": "me"}]


@pytest.mark.parametrize(("name", "bos"), [("llama3", "<|begin_of_text|>"), ("gemma", "<bos>"), ("mistral", "<s>")])
def test_convert_notes_the_bos_text_and_strips_it_when_asked(cli, tmp_path, name, bos):
    data = write_jsonl(tmp_path / "data.jsonl", RECORDS)
    full = cli("convert", str(data), "-o", "-", "--to", name)
    assert full.exit_code == 0, full
    texts = read_text_column(full.stdout)
    assert all(text.startswith(bos) for text in texts)
    assert f"Note: every text starts with the BOS text {bos!r}" in full.stderr and "--strip-bos" in full.stderr
    stripped = cli("convert", str(data), "-o", "-", "--to", name, "--strip-bos")
    assert read_text_column(stripped.stdout) == [text[len(bos):] for text in texts]
    assert "Note:" not in stripped.stderr
    # the verdict is the format's, on the whole rendering, whether the text is stripped or not
    lossy = [json.loads(cli("convert", str(data), "-o", str(tmp_path / f"{n}.jsonl"), "--to", name, *more,
                            "--json").stdout)["lossy"] for n, more in enumerate([(), ("--strip-bos",)])]
    assert lossy[0] == lossy[1]
    if name == "llama3":
        assert lossy[0] == {"records": 1, "by_reason": {"trimmed-whitespace": 1}}
    pairs = cli("convert", str(data), "-o", str(tmp_path / "pc.jsonl"), "--to", name, "--layout", "prompt-completion",
                "--strip-bos", "--json")
    assert json.loads(pairs.stdout)["bos"] is None
    first = read_jsonl(tmp_path / "pc.jsonl")[0]
    assert first["prompt"] + first["completion"] == texts[0][len(bos):]


def test_strip_bos_reaches_conversations_and_refuses_layouts_without_rendered_text(cli, tmp_path):
    chats = write_jsonl(tmp_path / "chats.jsonl", [{"messages": [
        {"role": "system", "content": "Be brief."}, {"role": "user", "content": "u"}, {"role": "assistant", "content": "a"},
        {"role": "user", "content": "v"}, {"role": "assistant", "content": "b"}]}])
    result = cli("convert", str(chats), "-o", "-", "--to", "llama3", "--strip-bos")
    assert read_text_column(result.stdout)[0].startswith("<|start_header_id|>system<|end_header_id|>\n\nBe brief.")
    json_summary = cli("convert", str(chats), "-o", str(tmp_path / "o.jsonl"), "--to", "llama3", "--json")
    assert json.loads(json_summary.stdout)["bos"] == "<|begin_of_text|>"
    for layout in ("segments", "alpaca"):
        options = ("--to", "llama3") if layout == "segments" else ()
        refused = cli("convert", str(chats), "-o", "-", "--layout", layout, *options, "--strip-bos")
        assert refused.exit_code == 2 and "--strip-bos applies to rendered text" in refused.stderr
    none = cli("convert", str(chats), "-o", "-", "--to", "chatml", "--strip-bos")
    assert none.exit_code == 0 and "--strip-bos has no effect: chatml" in none.stderr


def test_render_strip_bos(cli, tmp_path):
    data = write_jsonl(tmp_path / "data.jsonl", RECORDS[:1])
    full = json.loads(cli("render", str(data), "-f", "gemma", "--json").stdout)
    stripped = json.loads(cli("render", str(data), "-f", "gemma", "--json", "--strip-bos").stdout)
    assert stripped == {"prompt": full["prompt"][5:], "completion": full["completion"], "text": full["text"][5:]}
    assert full["text"].startswith("<bos><start_of_turn>user\n")
    assert cli("render", str(data), "-f", "gemma", "--strip-bos").stdout == full["text"][5:] + "\n"
