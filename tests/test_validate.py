"""The validation service: every check with its code, severity, location and message; the options.

Each check has a small example written by hand; `validate` reads files (and values), `Validator`
checks items one at a time for services that stream (convert).
"""

from __future__ import annotations

import gzip
import io
import json

import pytest

from promptfmt import Checked, FieldMapping, Issue, Report, UsageError, Validator, validate
from promptfmt.formats.alpaca import ALPACA, ALPACA_LLMFS
from promptfmt.formats.phi3 import PHI3, PHI3_LLMFS
from promptfmt.io import Item, read_items
from promptfmt.records.fields import to_record
from promptfmt.records.mapping import PROFILES, MappingError
from promptfmt.validation import ValidateUsageError
from promptfmt.validation.issues import CHECKS

from .helpers import builtin

FORMATS = (ALPACA, ALPACA_LLMFS, PHI3, PHI3_LLMFS)


def run(values, **options) -> Report:
    options.setdefault("registry", FORMATS)
    return validate(values, **options)


def found(report: Report) -> list[tuple]:
    return [(i.record, i.field, i.code, i.severity) for i in report.issues]


def jsonl(tmp_path, rows, name="data.jsonl") -> str:
    path = tmp_path / name
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    return str(path)


# -- one example per check -----------------------------------------------------------------------

CASES = [
    ({"instruction": "a", "output": "b"}, []),
    ({"instruction": "a", "input": "", "output": "b"}, []),
    (["instruction", "output"], [("$", "not-an-object", "error")]),
    ("text", [("$", "not-an-object", "error")]),
    ({"output": "b"}, [("instruction", "missing-field", "error")]),
    ({"instruction": "a"}, [("output", "missing-field", "error")]),
    ({"instruction": None, "output": "b"}, [("instruction", "wrong-type", "error")]),
    ({"instruction": "a", "input": None, "output": "b"}, [("input", "wrong-type", "error")]),
    ({"instruction": "a", "output": 42}, [("output", "wrong-type", "error")]),
    ({"instruction": ["a", "b"], "output": "b"}, [("instruction", "wrong-type", "error")]),
    ({"instruction": "", "output": "b"}, [("instruction", "empty-instruction", "error")]),
    ({"instruction": " \n", "output": "b"}, [("instruction", "empty-instruction", "error")]),
    ({"instruction": "a", "output": ""}, [("output", "empty-output", "error")]),
    ({"instruction": "a", "output": "\t"}, [("output", "empty-output", "error")]),
    ({"instruction": "a", "output": "b", "id": 1}, [("id", "unknown-field", "warning")]),
    ({"instruction": "a", "input": "  ", "output": "b"}, [("input", "whitespace-only-input", "warning")]),
    ({"instruction": " a", "output": "b\n"}, [("instruction", "surrounding-whitespace", "warning"),
                                              ("output", "surrounding-whitespace", "warning")]),
    ({"instruction": "a", "output": "see ### Input: here"}, [("output", "template-marker", "warning")]),
    ({"instruction": "<|user|>\nhi", "output": "b"}, [("instruction", "template-marker", "warning")]),
    ({"instruction": "a", "output": "I am {{name}}."}, [("output", "placeholder", "warning")]),
    ({"instruction": "a", "output": "done###eos_token###"}, [("output", "placeholder", "warning")]),
    ({"instruction": "a\x07", "output": "b"}, [("instruction", "control-character", "warning")]),
    ({"instruction": "a", "input": "x\x85y", "output": "b"}, [("input", "control-character", "warning")]),
    # conversations
    ({"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]}, []),
    ({"conversations": [{"from": "human", "value": "a"}, {"from": "gpt", "value": "b"}], "id": 1}, []),
    ({"messages": [{"role": "user", "content": "a"}, {"role": "tool", "content": "b"}]},
     [("messages.1.role", "tool-turn", "error")]),
    ({"messages": [{"role": "narrator", "content": "a"}]}, [("messages.0.role", "unknown-role", "error")]),
    ({"messages": [{"role": "user", "content": "a", "name": "x"}]}, [("messages.0.name", "unsupported-key", "error")]),
    ({"messages": [{"role": "user", "content": 5}]}, [("messages.0.content", "wrong-type", "error")]),
    ({"messages": [{"role": "user", "content": "a"}, {"role": "system", "content": "s"}]},
     [("messages.1", "system-not-first", "error")]),
    ({"messages": [{"role": "assistant", "content": "a"}]}, [("messages.0", "not-starting-with-user", "error")]),
    ({"messages": [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]},
     [("messages.1", "consecutive-user", "error")]),
    ({"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"},
                   {"role": "assistant", "content": "c"}]}, [("messages.2", "consecutive-assistant", "error")]),
    ({"messages": []}, [("messages", "empty-conversation", "error")]),
    ({"conversations": [{"from": "human", "value": "a"}], "messages": "x"}, [("messages", "metadata-collision", "error")]),
    ({"conversations": [{"from": "human", "value": " "}, {"from": "gpt", "value": "b"}]},
     [("conversations.0.value", "empty-message", "error")]),
    ({"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "<|user|> {{x}}"}]},
     [("messages.1.content", "template-marker", "warning"), ("messages.1.content", "placeholder", "warning")]),
]


@pytest.mark.parametrize(("value", "expected"), CASES)
def test_each_check_on_its_own_example(value, expected, tmp_path):
    from_values = run([value])
    assert [(i.field, i.code, i.severity) for i in from_values.issues] == expected
    from_file = run(jsonl(tmp_path, [value, {"instruction": "next", "output": "line"}]))  # the JSON Lines path
    assert [(i.field, i.code, i.severity, i.line) for i in from_file.issues] == [e + (1,) for e in expected]
    assert from_file.ok == all(severity == "warning" for _, _, severity in expected)


def test_every_check_in_the_catalogue_has_an_example_here_or_below():
    covered = {code for _, expected in CASES for _, code, _ in expected}
    covered |= {"invalid-json", "unreadable", "too-large", "invalid-csv", "duplicate-key", "duplicate-record", "duplicate-prompt", "lossy-in-format", "empty-dataset",
                "duplicate-conversation"}
    # promptfmt tokenize's findings: tests/test_tokenize.py has an example of each
    covered |= {"special-token-text", "token-boundary", "prefix-mismatch", "too-many-tokens", "cut-to-max-length",
                "nothing-to-train", "not-encodable"}
    assert covered == set(CHECKS)


def test_messages_say_what_and_how_to_fix():
    report = run([
        {"instruction": None, "output": "b"},
        {"instruction": "a", "input": None, "output": "b"},
        {"instruction": "a", "output": 42},
        {"prompt": "a", "response": "b"},
        {"instruction": "", "input": "What is X?", "output": "b"},
        {"instruction": "a", "output": "b", "Instruction": "c"},
        {"instruction": "a", "output": "b", "model 1 response": "c"},
        {"instruction": " a", "output": "b"},
    ])
    messages = {(i.record, i.field): i.message for i in report.issues}
    assert "null" in messages[0, "instruction"] and "--null-as-empty" in messages[0, "instruction"]
    assert '""' in messages[1, "input"] and "leave the key out" in messages[1, "input"]
    assert 'quote it ("42")' in messages[2, "output"]
    assert "--map instruction=prompt" in messages[3, "instruction"]
    assert "--map output=response" in messages[3, "output"]
    assert "pass --swap-when-empty" in messages[4, "instruction"] and "--map" not in messages[4, "instruction"]
    assert "did you mean 'instruction'?" in messages[5, "Instruction"]
    assert "contains spaces" in messages[6, "model 1 response"]
    assert 'leading " "' in messages[7, "instruction"] and "never strips" in messages[7, "instruction"]


def test_conversations_are_checked_as_conversations_duplicates_and_format_verdicts_included():
    chat = {"messages": [{"role": "system", "content": "S"}, {"role": "user", "content": "Hi"},
                         {"role": "assistant", "content": " Yo"}]}
    report = run([chat, chat], format=builtin("llama3"), registry=(builtin("llama3"),))
    assert found(report) == [
        (0, "messages.2", "lossy-in-format", "warning"),
        (1, "$", "duplicate-conversation", "warning"), (1, "messages.2", "lossy-in-format", "warning")]
    assert report.issues[1].related == 0 and "trimmed-whitespace" in report.issues[0].message
    refused = run([chat], format=builtin("gemma"), registry=(builtin("gemma"),))
    assert found(refused) == [(0, "messages.0", "lossy-in-format", "warning")]
    assert "cannot render this conversation at all" in refused.issues[0].message


def test_layout_hints_for_other_dataset_shapes():
    report = run([{"id": "1", "conversations": "x"}, {"messages": {}}, {"instruction": "a", "instances": []}])
    hints = [i.message for i in report.issues if i.code == "missing-field"]
    assert "ShareGPT" in hints[0] and "OpenAI chat" in hints[2] and "self-instruct" in hints[4]


# -- locations -----------------------------------------------------------------------------------


def test_issues_carry_record_index_and_the_line_where_the_record_starts(tmp_path):
    path = tmp_path / "data.json"
    path.write_text(json.dumps([{"instruction": "a", "output": "b"}, {"instruction": "a", "output": ""}], indent=2))
    (issue,) = run(str(path)).issues
    assert (issue.record, issue.line, issue.field, issue.code) == (1, 6, "output", "empty-output")
    assert issue.format(str(path)) == f"{path}:6: record 1: output: empty-output: {issue.message}"


def test_invalid_json_lines_are_issues_with_line_and_column(tmp_path):
    path = tmp_path / "data.jsonl"
    path.write_text('{"instruction": "a", "output": "b"}\n{"instruction": "a", "output": }\n\n{"x": 1\n')
    report = run(str(path))
    assert [(i.record, i.line, i.column, i.code) for i in report.issues if i.code == "invalid-json"] == [
        (1, 2, 32, "invalid-json"), (2, 4, 8, "invalid-json")]
    assert (report.records, report.valid, report.invalid) == (3, 1, 2)


def test_a_truncated_gzip_file_is_an_unreadable_issue_after_the_records_it_holds(tmp_path):
    path = tmp_path / "data.jsonl.gz"
    rows = [{"instruction": f"task {n} " + "x" * 50, "output": "y" * 80} for n in range(4000)]
    path.write_bytes(gzip.compress("".join(json.dumps(r) + "\n" for r in rows).encode())[:-2000])
    report = run(str(path))
    assert report.counts.get("unreadable") == 1 and report.errors == 1
    (issue,) = report.issues
    assert issue.record == report.records - 1 and issue.line == issue.record + 1


def test_values_in_memory_have_no_line():
    (issue,) = run([{"instruction": "a", "output": ""}]).issues
    assert issue.line is None and issue.format("<items>") == "<items>: record 0: output: empty-output: " + issue.message


# -- duplicates ----------------------------------------------------------------------------------


def test_duplicates_name_the_earlier_record():
    rows = [
        {"instruction": "a", "output": "x"},
        {"instruction": "a", "output": "y"},  # same prompt, other output
        {"instruction": "a", "output": "y", "id": 9},  # same as 1 (metadata aside)
        {"instruction": "a", "input": "", "output": "x"},  # same as 0: missing input == ""
        {"instruction": "a", "input": "i", "output": "x"},  # another prompt
    ]
    report = run(rows, ignore=["unknown-field"])
    assert [(i.record, i.code, i.related) for i in report.issues] == [
        (1, "duplicate-prompt", 0), (2, "duplicate-record", 1), (3, "duplicate-record", 0)]
    assert "record 0" in report.issues[0].message
    assert run(rows, duplicates=False, ignore=["unknown-field"]).issues == []


# -- options -------------------------------------------------------------------------------------


def test_strict_turns_every_warning_into_an_error():
    rows = [{"instruction": "a ", "output": "b"}]
    assert run(rows).ok and run(rows).warnings == 1
    strict = run(rows, strict=True)
    assert not strict.ok and strict.errors == 1 and strict.issues[0].severity == "error"
    assert strict.summary() == [("surrounding-whitespace", "error", 1)]


def test_null_as_empty_is_opt_in():
    rows = [{"instruction": "a", "input": None, "output": "b"}, {"instruction": None, "output": "b"}]
    assert [i.code for i in run(rows).issues] == ["wrong-type", "wrong-type"]
    opted = run(rows, null_as_empty=True)
    assert [(i.record, i.code) for i in opted.issues] == [(1, "empty-instruction")]


def test_ignore_drops_a_check_but_not_the_structural_ones():
    rows = [{"instruction": "a", "output": "b", "id": 1}]
    assert run(rows, ignore=["unknown-field"]).issues == []
    with pytest.raises(ValidateUsageError, match="cannot be ignored"):
        run(rows, ignore=["missing-field"])
    with pytest.raises(ValidateUsageError, match="unknown check"):
        run(rows, ignore=["no-such-check"])


def test_max_issues_caps_the_list_but_counts_everything():
    report = run([{"instruction": "a", "output": ""}] * 5, max_issues=2, duplicates=False)
    assert len(report.issues) == 2 and report.issues_omitted == 3 and report.counts == {"empty-output": 5}


def test_on_issue_sees_every_issue_as_it_is_found():
    seen: list[Issue] = []
    run([{"instruction": "", "output": ""}] * 3, on_issue=seen.append, max_issues=0, duplicates=False)
    assert [(i.record, i.code) for i in seen] == [(n, code) for n in range(3) for code in ("empty-instruction", "empty-output")]


def test_an_empty_file_is_a_warning(tmp_path):
    path = tmp_path / "empty.jsonl"
    path.write_text("\n")
    report = run(str(path))
    assert report.records == 0 and report.ok
    assert [(i.code, i.record, i.line) for i in report.issues] == [("empty-dataset", None, None)]


# -- field mapping -------------------------------------------------------------------------------


def test_map_reads_fields_from_other_keys_and_issues_name_the_key_in_the_file():
    rows = [{"instruction": "a", "context": "", "response": ""}, {"instruction": "a", "context": " c", "response": "r"}]
    report = run(rows, profile="dolly")
    assert found(report) == [(0, "response", "empty-output", "error"), (1, "context", "surrounding-whitespace", "warning")]
    assert "'response' (output)" in report.issues[0].message
    assert report.mapping == {"input": "context", "output": "response"}
    assert run(rows, mapping=["input=context", "output=response"]).as_dict() == report.as_dict()


def test_a_key_named_like_a_mapped_field_is_reported_not_used():
    report = run([{"instruction": "a", "response": "r", "output": "o"}], mapping={"output": "response"})
    assert found(report) == [(0, "output", "unknown-field", "warning")]
    assert "read from 'response'" in report.issues[0].message


def test_a_missing_mapped_key_is_named():
    report = run([{"instruction": "a", "output": "o"}], mapping=["output=response"])
    assert [(i.field, i.code) for i in report.issues] == [("response", "missing-field"), ("output", "unknown-field")]
    issue = report.issues[0]
    assert "the key 'response' (mapped to output) is missing" in issue.message


def test_mapping_rules():
    assert FieldMapping.build("dolly", ["output=answer"]).sources == {"input": "context", "output": "answer"}
    assert FieldMapping.build(maps=["output=model 1 response"]).key("output") == "model 1 response"
    assert FieldMapping.build(maps=["instruction=input", "input=instruction"]).apply({"instruction": "", "input": "q"}) == (
        {"instruction": "q", "input": ""}, [])
    for bad, words in ((["output"], "FIELD=KEY"), (["answer=x"], "not a record field"),
                       (["instruction=x", "output=x"], "more than one field")):
        with pytest.raises(MappingError, match=words):
            FieldMapping.build(maps=bad)
    with pytest.raises(MappingError, match="unknown profile 'alpacca'"):
        FieldMapping.build("alpacca")
    assert {"alpaca", "dolly", "prompt-completion"} <= set(PROFILES)


# -- with a format -------------------------------------------------------------------------------


def test_lossy_in_format_gives_the_reason_from_the_format():
    rows = [{"instruction": "a", "output": "b"}, {"instruction": "x\n\n### Response:\ny", "output": "b"}]
    report = run(rows, format="alpaca")
    lossy = [i for i in report.issues if i.code == "lossy-in-format"]
    assert [(i.record, i.field, i.severity) for i in lossy] == [(1, "instruction", "warning")]
    assert "format alpaca cannot render this record losslessly" in lossy[0].message
    assert "marker-in-content" in lossy[0].message
    assert report.format == "alpaca"
    assert run(rows, format="alpaca", strict=True).invalid == 1


# -- the streaming API ---------------------------------------------------------------------------


def test_validator_checks_item_by_item_and_builds_records_on_demand():
    validator = Validator(registry=FORMATS)
    good = validator.check(Item(0, 1, {"instruction": "a", "input": "i", "output": "o", "id": 3}))
    bad = validator.check(Item(1, 2, {"instruction": "a"}))
    empty = validator.check(Item(2, 3, {"instruction": "a", "output": ""}))
    assert isinstance(good, Checked) and good.ok and good.fields == ("a", "i", "o") and good.metadata == {"id": 3}
    assert good.record == to_record({"instruction": "a", "input": "i", "output": "o", "id": 3})
    assert good.record.metadata == {"id": 3}
    assert not bad.ok and bad.record is None and [i.code for i in bad.issues] == ["missing-field"]
    assert not empty.ok and empty.record is not None  # an error, but a record all the same
    report = validator.end()
    assert (report.records, report.valid, report.invalid, report.clean) == (3, 1, 2, 0)
    assert report.counts == {"unknown-field": 1, "missing-field": 1, "empty-output": 1}


def test_check_block_agrees_with_check_line_by_line(tmp_path):
    rows = [{"instruction": "a", "output": "b"}, {"instruction": "a", "output": "b"}, {"instruction": "x ", "output": "y"},
            "not an object", {"instruction": "<|user|>", "output": "z"}]
    text = "".join(json.dumps(r) + "\n" for r in rows) + "{broken\n\n" + json.dumps(rows[0]) + "\n"
    path = tmp_path / "data.jsonl"
    path.write_text(text)
    one_by_one = Validator(registry=FORMATS, source=str(path))
    for item in read_items(path):
        one_by_one.check(item)
    assert validate(str(path), registry=FORMATS).as_dict() == one_by_one.end().as_dict()


def test_stdin_is_read_with_dash():
    data = b'{"instruction": "a", "output": ""}\n'
    report = validate("-", stdin=io.BytesIO(data), registry=FORMATS)
    assert report.source == "<stdin>" and report.counts == {"empty-output": 1}


def test_quarantine_gets_every_record_with_an_error_unchanged(tmp_path):
    rows = [{"instruction": "a", "output": "b"}, {"instruction": "a", "output": "", "id": [1]}, {"instruction": "c "}]
    # record 1 has an error: it is not a duplicate-prompt of record 0 (duplicates are among valid records)
    text = "".join(json.dumps(r) + "\n" for r in rows) + "{oops\n"
    source = tmp_path / "data.jsonl"
    source.write_text(text)
    bad = tmp_path / "bad.jsonl"
    report = validate(str(source), registry=FORMATS, quarantine=str(bad))
    entries = [json.loads(line) for line in bad.read_text().splitlines()]
    assert [e["record"] for e in entries] == [1, 2, 3] and report.invalid == 3
    assert entries[0]["item"] == rows[1]
    assert [i["code"] for i in entries[0]["issues"]] == ["unknown-field", "empty-output"]
    assert entries[2]["text"] == "{oops"
    with pytest.raises(UsageError, match="is the input file"):
        validate(str(source), registry=FORMATS, quarantine=str(source))


def test_report_invariants():
    report = run([{"instruction": "a", "output": "b"}, {"instruction": ""}, 5, {"instruction": "a", "output": "b "}])
    assert report.records == report.valid + report.invalid
    assert report.clean <= report.valid
    assert sum(report.counts.values()) == report.errors + report.warnings == len(report.issues)
    assert report.ok is (report.errors == 0)
