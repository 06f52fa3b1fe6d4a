"""``promptfmt convert``: exact conversion, nothing lost, nothing half-written, usage errors."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from promptfmt import Record
from promptfmt.io import writers

from .helpers import COURSE, builtin, builtin_formats


def write_jsonl(path: Path, items: list) -> Path:
    path.write_text("".join(json.dumps(item, ensure_ascii=False) + "\n" for item in items), encoding="utf-8")
    return path


def read_jsonl(path: Path) -> list:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines()]


def leftovers(folder: Path) -> list[str]:
    """Temporary files that an atomic write would leave behind if it did not clean up."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".") and p.name.endswith(".tmp"))


# -- exact conversion between prompt styles ---------------------------------------------------------


def test_alpaca_text_to_phi3_equals_rendering_the_course_records_in_phi3(cli, tmp_path, shared_data):
    """Issue 4.3 on the 1100 course records; A -> B -> A for any pair is property 6 (test_builtin_conformance.py)."""
    alpaca, phi3 = builtin("alpaca"), builtin("phi3")
    records = [Record(**item) for item in json.loads((shared_data / COURSE).read_text("utf-8"))]
    infile = write_jsonl(tmp_path / "alpaca.jsonl", [{"text": alpaca.render(r).text} for r in records])
    outfile = tmp_path / "phi3.jsonl"
    result = cli("convert", str(infile), "-o", str(outfile), "--from", "alpaca", "--to", "phi3", "--json")
    assert result.exit_code == 0, result
    out = read_jsonl(outfile)
    assert len(out) == len(records) == 1100
    lossless = [i for i, r in enumerate(records) if alpaca.check(r).lossless and phi3.check(r).lossless]
    lossy = [i for i, r in enumerate(records) if not phi3.check(r).lossless]
    assert len(lossless) + len(lossy) == 1100 and lossy  # the course data has one instruction with a newline
    for i in lossless:
        assert out[i] == {"text": phi3.render(records[i]).text}, i
    summary = json.loads(result.stdout)
    assert summary["read"] == summary["written"] == 1100 and summary["quarantined"] == 0
    assert summary["lossy"] == {"records": len(lossy), "by_reason": {"separator-in-instruction": len(lossy)}}


def test_strict_quarantines_lossy_records_with_their_reason(cli, tmp_path, shared_data):
    course = json.loads((shared_data / COURSE).read_text("utf-8"))
    quarantine = tmp_path / "q.jsonl"
    outfile = tmp_path / "out.jsonl"
    result = cli("convert", str(shared_data / COURSE), "-o", str(outfile), "--to", "phi3", "--strict",
                 "--quarantine", str(quarantine))
    assert result.exit_code == 1, result
    phi3 = builtin("phi3")
    lossy = [i for i, item in enumerate(course) if not phi3.check(Record(**item)).lossless]
    assert len(read_jsonl(outfile)) == 1100 - len(lossy)
    entries = read_jsonl(quarantine)
    assert [e["record"] for e in entries] == lossy
    assert entries[0]["item"] == course[lossy[0]]  # unchanged
    (issue,) = entries[0]["issues"]
    assert issue["code"] == "lossy-in-format" and issue["field"] == "instruction"
    assert issue["message"].startswith("separator-in-instruction:") and "phi3" in issue["message"]
    assert f"read 1,100 = written {1100 - len(lossy):,} + quarantined {len(lossy)}" in result.stderr


def test_lossy_records_are_written_unchanged_in_meaning_and_counted(cli, tmp_path):
    items = [
        {"instruction": "Plain.", "output": "Fine."},
        {"instruction": "Quote it.", "output": "It ends with <|end|>\n<|endoftext|> and goes on."},  # phi3's end text
        {"instruction": "Two\nlines.", "input": "x", "output": "Done."},  # the chat separator
    ]
    infile = write_jsonl(tmp_path / "in.jsonl", items)
    result = cli("convert", str(infile), "-o", str(tmp_path / "out.jsonl"), "--to", "phi3", "--json")
    assert result.exit_code == 0, result
    summary = json.loads(result.stdout)
    assert summary["lossy"] == {"records": 2, "by_reason": {"marker-in-content": 1, "separator-in-instruction": 1}}
    phi3 = builtin("phi3")
    assert read_jsonl(tmp_path / "out.jsonl") == [{"text": phi3.render(Record(**item)).text} for item in items]


# -- nothing lost ------------------------------------------------------------------------------------


def test_read_equals_written_plus_quarantined_and_the_quarantine_keeps_items_unchanged(cli, tmp_path):
    lines = [
        '{"instruction": "Good.", "output": "Yes."}',
        "{not json",
        '{"instruction": "No output."}',
        '{"instruction": null, "output": "x"}',
        '["a", "list"]',
        '{"instruction": "Empty output.", "output": ""}',
        '{"instruction": "Also good.", "input": "with input", "output": "Yes.", "id": 9}',
    ]
    infile = tmp_path / "in.jsonl"
    infile.write_text("\n".join(lines) + "\n", encoding="utf-8")
    quarantine = tmp_path / "q.jsonl"
    outfile = tmp_path / "out.jsonl"
    result = cli("convert", str(infile), "-o", str(outfile), "--layout", "alpaca", "--quarantine", str(quarantine), "--json")
    assert result.exit_code == 1, result
    summary = json.loads(result.stdout)
    assert (summary["read"], summary["written"], summary["quarantined"]) == (7, 2, 5)
    assert summary["quarantined_by_code"] == {"empty-output": 1, "invalid-json": 1, "missing-field": 1, "not-an-object": 1, "wrong-type": 1}
    assert read_jsonl(outfile) == [
        {"instruction": "Good.", "input": "", "output": "Yes."},
        {"instruction": "Also good.", "input": "with input", "output": "Yes.", "id": 9},
    ]
    entries = read_jsonl(quarantine)
    assert [(e["record"], e["line"]) for e in entries] == [(1, 2), (2, 3), (3, 4), (4, 5), (5, 6)]
    assert entries[0]["text"] == "{not json" and "item" not in entries[0]
    assert [e["item"] for e in entries[1:]] == [json.loads(line) for line in lines[2:6]]
    assert entries[2]["issues"][0]["field"] == "instruction" and "null" in entries[2]["issues"][0]["message"]


def test_without_a_quarantine_file_refused_items_are_listed_on_stderr(cli, tmp_path):
    infile = tmp_path / "in.jsonl"
    infile.write_text('{"instruction": "a", "output": "b"}\n{"instruction": "a"}\n', encoding="utf-8")
    result = cli("convert", str(infile), "-o", "-", "--to", "alpaca")
    assert result.exit_code == 1
    assert f"{infile}:2: record 1: output: missing-field:" in result.stderr
    assert "--quarantine FILE" in result.stderr
    assert "read 2 = written 1 + quarantined 1" in result.stderr
    assert len(result.stdout.splitlines()) == 1


def test_text_the_source_format_did_not_produce_is_quarantined_with_the_offset(cli, tmp_path):
    phi3 = builtin("phi3")
    good = phi3.render(Record(instruction="Hi.", output="Hello.")).text
    infile = write_jsonl(tmp_path / "in.jsonl", [{"text": good}, {"text": "### Instruction:\nHi."}])
    result = cli("convert", str(infile), "-o", "-", "--from", "phi3", "--layout", "alpaca")
    assert result.exit_code == 1
    assert result.stdout == '{"instruction":"Hi.","input":"","output":"Hello."}\n'
    assert "record 1: text: parse-error: not phi3 text: at offset 0" in result.stderr


def test_every_sharegpt_conversation_converts_to_messages_and_to_every_chat_format(cli, tmp_path, shared_data):
    """The real ShareGPT file: 167 one-turn, 333 multi-turn conversations, none refused (issue: all 333
    used to be quarantined as not-single-turn); to records, the multi-turn ones are refused with why."""
    source = shared_data / "fastchat_sharegpt" / "dummy_conversation.json"
    items = json.loads(source.read_text("utf-8"))
    messages = cli("convert", str(source), "-o", "-", "--layout", "messages")
    assert messages.exit_code == 0 and "read 500 = written 500 + quarantined 0" in messages.stderr
    written = [json.loads(line) for line in messages.stdout.splitlines()]
    roles = {"human": "user", "gpt": "assistant"}
    assert [[(m["role"], m["content"]) for m in item["messages"]] for item in written] == [
        [(roles[t["from"]], t["value"]) for t in item["conversations"]] for item in items]
    assert [item["id"] for item in written] == [item["id"] for item in items]
    back = cli("convert", "-", "-o", "-", "--layout", "sharegpt", input=messages.stdout)
    assert [json.loads(line) for line in back.stdout.splitlines()] == items
    chat_formats = [fmt.name for fmt in builtin_formats() if fmt.multi_turn]
    assert len(chat_formats) == 19
    for name in chat_formats:
        result = cli("convert", str(source), "-o", str(tmp_path / f"{name}.jsonl"), "--to", name, "--json")
        summary = json.loads(result.stdout)
        assert (summary["read"], summary["written"], summary["quarantined"]) == (500, 500, 0), name
        assert summary["conversations"] == 333, name
    quarantine = tmp_path / "q.jsonl"
    records = cli("convert", str(source), "-o", "-", "--layout", "alpaca", "--quarantine", str(quarantine), "--json-array")
    assert records.exit_code == 1 and "read 500 = written 167 + quarantined 333" in records.stderr
    assert {e["issues"][0]["code"] for e in read_jsonl(quarantine)} == {"not-single-turn"}


def test_the_llama_factory_demo_files_convert_to_messages_and_to_every_chat_format(cli, tmp_path, shared_data):
    folder = shared_data / "llama_factory_demo"
    chat_formats = [fmt.name for fmt in builtin_formats() if fmt.multi_turn]
    for name, count in (("alpaca_en_demo.json", 999), ("alpaca_zh_demo.json", 1000), ("identity.json", 91)):
        messages = tmp_path / f"{name}.messages.jsonl"
        result = cli("convert", str(folder / name), "-o", str(messages), "--layout", "messages")
        assert result.exit_code == 0 and f"read {count:,} = written {count:,} + quarantined 0" in result.stderr
        for fmt in chat_formats:
            summary = json.loads(cli("convert", str(messages), "-o", str(tmp_path / f"{name}.{fmt}.jsonl"), "--to", fmt,
                                     "--json").stdout)
            assert (summary["read"], summary["written"], summary["quarantined"]) == (count, count, 0), (name, fmt)


# -- metadata ------------------------------------------------------------------------------------------


def test_metadata_travels_unless_dropped(cli, tmp_path):
    infile = write_jsonl(tmp_path / "in.jsonl", [{"id": 1, "instruction": "a", "output": "b", "tags": ["x"]}])
    kept = cli("convert", str(infile), "-o", "-", "--to", "phi3-llmfs")
    assert kept.stdout == '{"text":"<|user|>\\na\\n<|assistant|>:\\nb","id":1,"tags":["x"]}\n'
    dropped = cli("convert", str(infile), "-o", "-", "--to", "phi3-llmfs", "--drop-metadata")
    assert dropped.stdout == '{"text":"<|user|>\\na\\n<|assistant|>:\\nb"}\n'


def test_metadata_that_the_output_layout_uses_itself_is_refused_not_overwritten(cli, tmp_path, shared_data):
    """torchtune's alpaca_tiny carries the published rendering in a 'text' column."""
    source = shared_data / "torchtune_alpaca_tiny" / "alpaca_tiny.json"
    count = len(json.loads(source.read_text("utf-8")))
    refused = cli("convert", str(source), "-o", "-", "--to", "alpaca", "--json-array")
    assert refused.exit_code == 1
    assert json.loads(refused.stdout) == []
    assert f"read {count} = written 0 + quarantined {count}" in refused.stderr
    assert "metadata-collision" in refused.stderr and "--drop-metadata" in refused.stderr
    dropped = cli("convert", str(source), "-o", "-", "--to", "alpaca", "--drop-metadata")
    assert dropped.exit_code == 0, dropped
    published = [item["text"] for item in json.loads(source.read_text("utf-8"))]
    assert [item["text"] for item in map(json.loads, dropped.stdout.splitlines())] == published


def test_a_system_message_is_rendered_where_the_template_puts_it_or_refused_never_dropped(cli, tmp_path):
    item = {"messages": [{"role": "system", "content": "You are a pirate."}, {"role": "user", "content": "Hi?"},
                         {"role": "assistant", "content": "Arr."}]}
    infile = write_jsonl(tmp_path / "in.jsonl", [item])
    records = cli("convert", str(infile), "-o", "-", "--layout", "alpaca")
    assert records.stdout == '{"instruction":"Hi?","input":"","output":"Arr.","system":"You are a pirate."}\n'
    back = cli("convert", "-", "-o", "-", "--layout", "messages", input=records.stdout)
    assert json.loads(back.stdout) == item
    qwen = cli("convert", str(infile), "-o", "-", "--to", "qwen2.5")
    assert json.loads(qwen.stdout) == {"text": "<|im_start|>system\nYou are a pirate.<|im_end|>\n<|im_start|>user\nHi?"
                                               "<|im_end|>\n<|im_start|>assistant\nArr.<|im_end|>\n"}
    llama3 = cli("convert", str(infile), "-o", "-", "--to", "llama3", "--layout", "prompt-completion")
    assert json.loads(llama3.stdout)["prompt"].startswith(
        "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are a pirate.<|eot_id|>")
    # the same system message as the metadata key of a record
    rendered = cli("convert", "-", "-o", "-", "--to", "qwen2.5", input=records.stdout)
    assert rendered.stdout == qwen.stdout
    refused = cli("convert", str(infile), "-o", "-", "--to", "gemma")
    assert refused.exit_code == 1 and "read 1 = written 0 + quarantined 1" in refused.stderr
    assert "messages.0: system-not-supported" in refused.stderr
    from_record = cli("convert", "-", "-o", "-", "--to", "gemma", input=records.stdout)
    assert from_record.exit_code == 1 and "system: system-not-supported" in from_record.stderr


# -- --from auto ---------------------------------------------------------------------------------------


def test_from_auto_detects_the_format(cli, tmp_path):
    phi3 = builtin("phi3")
    records = [Record(instruction="Translate.", input="Hallo", output="Hello"), Record(instruction="Hi.", output="Yo.")]
    infile = write_jsonl(tmp_path / "in.jsonl", [{"text": phi3.render(r).text} for r in records])
    result = cli("convert", str(infile), "-o", "-", "--from", "auto", "--layout", "alpaca")
    assert result.exit_code == 0, result
    assert [json.loads(line) for line in result.stdout.splitlines()] == [r.model_dump() for r in records]
    assert "(text, phi3)" in result.stderr


def test_from_auto_that_cannot_decide_is_a_usage_error_naming_the_candidates(cli, tmp_path):
    stanford = builtin("alpaca")  # without inputs, Stanford and course Alpaca render the same text
    infile = write_jsonl(tmp_path / "in.jsonl", [{"text": stanford.render(Record(instruction="Hi.", output="Yo.")).text}])
    result = cli("convert", str(infile), "-o", str(tmp_path / "out.jsonl"), "--from", "auto", "--to", "phi3")
    assert result.exit_code == 2
    assert "alpaca, alpaca-llmfs" in result.stderr and "--from FORMAT" in result.stderr
    assert not (tmp_path / "out.jsonl").exists()


# -- usage errors ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--layout", "text"], "--to FORMAT"),
        (["--layout", "prompt-completion"], "--to FORMAT"),
        (["--layout", "alpaca", "--to", "phi3"], "has no effect"),
        (["--layout", "csv"], "unknown output layout 'csv'"),
        (["--input-layout", "csv", "--to", "phi3"], "unknown input layout 'csv'"),
        (["--to", "phi-5"], "unknown format 'phi-5'"),
    ],
)
def test_options_that_do_not_fit_are_usage_errors(cli, tmp_path, args, message):
    infile = write_jsonl(tmp_path / "in.jsonl", [{"instruction": "a", "output": "b"}])
    result = cli("convert", str(infile), "-o", str(tmp_path / "out.jsonl"), *args)
    assert result.exit_code == 2, result
    assert message in result.stderr
    assert not (tmp_path / "out.jsonl").exists()


def test_rendered_input_needs_from(cli, tmp_path):
    infile = write_jsonl(tmp_path / "in.jsonl", [{"text": "whatever"}])
    result = cli("convert", str(infile), "-o", "-", "--to", "phi3")
    assert result.exit_code == 2
    assert "--from FORMAT" in result.stderr and "--from auto" in result.stderr


def test_from_on_records_is_ignored_with_a_warning(cli, tmp_path):
    infile = write_jsonl(tmp_path / "in.jsonl", [{"instruction": "a", "output": "b"}])
    result = cli("convert", str(infile), "-o", "-", "--from", "alpaca", "--to", "phi3-llmfs")
    assert result.exit_code == 0
    assert "Warning: --from alpaca is ignored" in result.stderr
    assert result.stdout == '{"text":"<|user|>\\na\\n<|assistant|>:\\nb"}\n'


def test_json_summary_needs_a_file_output(cli, tmp_path):
    infile = write_jsonl(tmp_path / "in.jsonl", [{"instruction": "a", "output": "b"}])
    result = cli("convert", str(infile), "-o", "-", "--to", "phi3", "--json")
    assert result.exit_code == 2 and "--json" in result.stderr and result.stdout == ""


def test_a_missing_input_is_a_usage_error(cli, tmp_path):
    result = cli("convert", str(tmp_path / "nope.jsonl"), "-o", str(tmp_path / "out.jsonl"), "--to", "phi3")
    assert result.exit_code == 2 and "nope.jsonl: no such file. Check the path." in result.stderr


# -- nothing half-written --------------------------------------------------------------------------------


def test_out_equal_to_in_is_refused_and_the_input_is_untouched(cli, tmp_path):
    infile = write_jsonl(tmp_path / "in.jsonl", [{"instruction": "a", "output": "b"}])
    before = infile.read_bytes()
    link = tmp_path / "link.jsonl"
    link.symlink_to(infile)
    for out in (str(infile), str(tmp_path / "." / "in.jsonl"), str(link)):
        result = cli("convert", str(infile), "-o", out, "--to", "phi3")
        assert result.exit_code == 2, (out, result)
        assert "never overwrites its input" in result.stderr
    result = cli("convert", str(infile), "-o", str(tmp_path / "out.jsonl"), "--quarantine", str(infile), "--to", "phi3")
    assert result.exit_code == 2
    result = cli("convert", str(infile), "-o", str(tmp_path / "o.jsonl"), "--quarantine", str(tmp_path / "o.jsonl"), "--to", "phi3")
    assert result.exit_code == 2 and "the same file" in result.stderr
    assert infile.read_bytes() == before
    assert leftovers(tmp_path) == []


def test_an_interrupted_conversion_leaves_no_output_and_no_temporary_file(cli, tmp_path, monkeypatch):
    infile = write_jsonl(tmp_path / "in.jsonl", [{"instruction": f"task {i}", "output": "x"} for i in range(50)])
    outfile = tmp_path / "out.jsonl"
    outfile.write_text("the previous result\n", encoding="utf-8")
    quarantine = tmp_path / "q.jsonl"
    line_writer = writers._line_writer
    calls = []

    def interrupted(write, failed):
        write_line = line_writer(write, failed)

        def interrupting(item):
            calls.append(item)
            if len(calls) == 20:
                raise KeyboardInterrupt
            write_line(item)

        return interrupting

    monkeypatch.setattr(writers, "_line_writer", interrupted)
    result = cli("convert", str(infile), "-o", str(outfile), "--to", "phi3", "--quarantine", str(quarantine))
    assert result.exit_code == 130
    assert len(calls) == 20
    assert outfile.read_text("utf-8") == "the previous result\n"
    assert not quarantine.exists()
    assert leftovers(tmp_path) == []


def test_output_files_get_ordinary_permissions(cli, tmp_path):
    infile = write_jsonl(tmp_path / "in.jsonl", [{"instruction": "a", "output": "b"}])
    outfile = tmp_path / "out.jsonl"
    assert cli("convert", str(infile), "-o", str(outfile), "--to", "phi3").exit_code == 0
    umask = os.umask(0)
    os.umask(umask)
    assert outfile.stat().st_mode & 0o777 == 0o666 & ~umask


def test_profiles_and_maps_read_records_from_other_keys(cli, tmp_path):
    infile = write_jsonl(tmp_path / "in.jsonl", [
        {"instruction": "Summarise.", "context": "A long text.", "response": "Short.", "category": "summarization"},
    ])
    result = cli("convert", str(infile), "-o", "-", "--profile", "dolly")
    assert result.exit_code == 0, result
    assert json.loads(result.stdout) == {"instruction": "Summarise.", "input": "A long text.", "output": "Short.",
                                         "category": "summarization"}
    prompts = write_jsonl(tmp_path / "pc.jsonl", [{"prompt": "Why?", "completion": "Because."}])
    mapped = cli("convert", str(prompts), "-o", "-", "--map", "instruction=prompt", "--map", "output=completion")
    assert json.loads(mapped.stdout) == {"instruction": "Why?", "input": "", "output": "Because."}
    refused = cli("convert", str(prompts), "-o", "-", "--profile", "dolly", "--input-layout", "messages")
    assert refused.exit_code == 2 and "fixed keys" in refused.stderr
    unknown = cli("convert", str(prompts), "-o", "-", "--profile", "nope")
    assert unknown.exit_code == 2 and "unknown profile" in unknown.stderr


def test_a_key_shadowed_by_a_mapping_is_quarantined_never_dropped(cli, tmp_path):
    """--map output=response on an item that also has 'output': that value would be lost, so the
    item is refused with the reason (validate reports the same key as a warning)."""
    rows = [{"instruction": "a", "response": "b", "output": "OLD"}, {"instruction": "c", "response": "d"}]
    infile = write_jsonl(tmp_path / "in.jsonl", rows)
    quarantine = tmp_path / "q.jsonl"
    result = cli("convert", str(infile), "-o", "-", "--map", "output=response", "--to", "phi3",
                 "--quarantine", str(quarantine))
    assert result.exit_code == 1 and "read 2 = written 1 + quarantined 1" in result.stderr
    assert json.loads(result.stdout) == {"text": "<|user|>\nc<|end|>\n<|assistant|>\nd<|end|>\n<|endoftext|>"}
    entry = json.loads(quarantine.read_text())
    assert (entry["record"], entry["item"]) == (0, rows[0])
    assert [(i["code"], i["field"]) for i in entry["issues"]] == [("metadata-collision", "output")]
    assert "read from 'response'" in entry["issues"][0]["message"]
    swapped = write_jsonl(tmp_path / "swap.jsonl", [{"instruction": "x", "input": "y", "output": "z"}])
    both = cli("convert", str(swapped), "-o", "-", "--map", "instruction=input", "--map", "input=instruction")
    assert both.exit_code == 0 and json.loads(both.stdout) == {"instruction": "y", "input": "x", "output": "z"}


def test_the_input_layout_can_be_named_instead_of_detected(cli, tmp_path):
    phi3 = builtin("phi3")
    rendered = phi3.render(Record(instruction="Hi.", output="Yo."))
    item = {"prompt": rendered.prompt, "completion": rendered.completion, "text": rendered.text}
    infile = write_jsonl(tmp_path / "in.jsonl", [item])
    detected = cli("convert", str(infile), "-o", "-", "--from", "phi3", "--layout", "alpaca")
    assert json.loads(detected.stdout) == {"instruction": "Hi.", "input": "", "output": "Yo.", "text": rendered.text}
    named = cli("convert", str(infile), "-o", "-", "--from", "phi3", "--layout", "alpaca", "--input-layout", "text")
    assert json.loads(named.stdout) == {"instruction": "Hi.", "input": "", "output": "Yo.",
                                        "prompt": rendered.prompt, "completion": rendered.completion}
    assert "(text, phi3)" in named.stderr
