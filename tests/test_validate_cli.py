"""``promptfmt validate`` through the real entry point: output forms, exit codes, quarantine, usage errors."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from promptfmt import schemas

ROOT = Path(__file__).resolve().parents[1]
REPORT_SCHEMA = json.loads((ROOT / "schemas" / "report.schema.json").read_text("utf-8"))
LINE = re.compile(r"^(?P<file>.+?):(?P<line>\d+): record (?P<record>\d+): (?P<field>.+?): (?P<code>[a-z-]+): (?P<message>.+)$")

ROWS = [
    {"instruction": "Name a colour.", "output": "Blue."},
    {"instruction": "Name a colour.", "output": "Blue."},
    {"instruction": "", "output": "x"},
    {"instruction": "Greet.", "input": "  ", "output": "Hi {{name}}!", "source": "web"},
]


def plain(text: str) -> str:
    """Error text without the frame that typer draws around it, whitespace collapsed."""
    return " ".join(text.translate({ord(c): " " for c in "│╭╮╰╯─"}).split())


@pytest.fixture
def data(tmp_path) -> Path:
    path = tmp_path / "data.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in ROWS) + '{"instruction": "broken"\n')
    return path


@pytest.fixture
def clean(tmp_path) -> Path:
    path = tmp_path / "clean.json"
    path.write_text(json.dumps(ROWS[:1], indent=2))
    return path


def test_human_output_one_located_line_per_issue_then_the_summary(cli, data):
    result = cli("validate", str(data))
    assert result.exit_code == 1, result
    lines = result.stdout.splitlines()
    issues = [LINE.match(line).groupdict() for line in lines if LINE.match(line)]
    assert [(i["line"], i["record"], i["field"], i["code"]) for i in issues] == [
        ("2", "1", "$", "duplicate-record"),
        ("3", "2", "instruction", "empty-instruction"),
        ("4", "3", "source", "unknown-field"),
        ("4", "3", "input", "whitespace-only-input"),
        ("4", "3", "output", "placeholder"),
        ("5", "4", "$", "invalid-json"),
    ]
    assert all(i["file"] == str(data) for i in issues)
    assert "same instruction, input and output as record 0" in issues[0]["message"]
    table = result.stdout[result.stdout.index("code "):]
    assert re.search(r"empty-instruction\s+error\s+1", table) and re.search(r"unknown-field\s+warning\s+1", table)
    assert lines[-1] == (f"{data}: 5 record(s): 3 valid, 2 with errors, 1 without any issue; 2 error(s), "
                         "4 warning(s). FAILED.")
    assert result.stderr == ""  # no progress bar: stderr is not a terminal


def test_a_clean_file_exits_0(cli, clean):
    result = cli("validate", str(clean))
    assert result.exit_code == 0, result
    assert result.stdout == f"{clean}: 1 record(s), no issues.\n"


def test_warnings_alone_exit_0_and_strict_makes_them_fail(cli, tmp_path):
    path = tmp_path / "padded.jsonl"
    path.write_text(json.dumps({"instruction": "Hi ", "output": "Hello"}) + "\n")
    assert cli("validate", str(path)).exit_code == 0
    strict = cli("validate", str(path), "--strict")
    assert strict.exit_code == 1 and "surrounding-whitespace  error" in strict.stdout


def test_json_report_conforms_to_the_checked_in_schema(cli, data):
    result = cli("validate", str(data), "--json")
    assert result.exit_code == 1, result
    report = json.loads(result.stdout)
    jsonschema.Draft202012Validator(REPORT_SCHEMA).validate(report)
    assert report["records"] == 5 and report["errors"] == 2 and report["warnings"] == 4 and report["ok"] is False
    assert report["counts"] == {"duplicate-record": 1, "empty-instruction": 1, "unknown-field": 1,
                                "whitespace-only-input": 1, "placeholder": 1, "invalid-json": 1}
    assert len(report["issues"]) == 6 and report["issues_omitted"] == 0
    first = report["issues"][0]
    assert (first["record"], first["line"], first["field"], first["code"], first["severity"], first["related"]) == (
        1, 2, "$", "duplicate-record", "warning", 0)
    assert report["issues"][-1]["column"] == 25


def test_json_report_honours_max_issues_and_still_counts_all(cli, data):
    report = json.loads(cli("validate", str(data), "--json", "--max-issues", "2").stdout)
    jsonschema.Draft202012Validator(REPORT_SCHEMA).validate(report)
    assert len(report["issues"]) == 2 and report["issues_omitted"] == 4 and sum(report["counts"].values()) == 6


def test_the_report_schema_is_generated_from_the_model():
    assert schemas.generate("report.schema.json") == REPORT_SCHEMA
    assert "report.schema.json" in schemas.GENERATED


def test_max_issues_caps_the_lines_not_the_summary(cli, data):
    result = cli("validate", str(data), "--max-issues", "1")
    assert len([line for line in result.stdout.splitlines() if LINE.match(line)]) == 1
    assert "... 5 more issue(s) not listed" in result.stdout
    assert "2 error(s), 4 warning(s)" in result.stdout


def test_quarantine_file_holds_the_records_with_errors_unchanged(cli, data, tmp_path):
    bad = tmp_path / "bad.jsonl"
    result = cli("validate", str(data), "--quarantine", str(bad))
    assert result.exit_code == 1
    assert "2 record(s) with errors written to" in result.stderr
    entries = [json.loads(line) for line in bad.read_text().splitlines()]
    assert [(e["record"], e["line"]) for e in entries] == [(2, 3), (4, 5)]
    assert entries[0]["item"] == ROWS[2] and entries[0]["issues"][0]["code"] == "empty-instruction"
    assert entries[1]["text"] == '{"instruction": "broken"'


def test_map_profile_ignore_and_null_as_empty(cli, tmp_path):
    path = tmp_path / "dolly.jsonl"
    path.write_text(json.dumps({"instruction": "Sum.", "context": "1 2", "response": "3", "category": "qa"}) + "\n"
                    + json.dumps({"instruction": "Sum.", "context": None, "response": "3", "category": "qa"}) + "\n")
    plain = json.loads(cli("validate", str(path), "--json").stdout)
    assert plain["counts"]["missing-field"] == 2
    profiled = json.loads(cli("validate", str(path), "--json", "--profile", "dolly", "--ignore", "unknown-field").stdout)
    assert profiled["counts"] == {"wrong-type": 1} and profiled["mapping"] == {"input": "context", "output": "response"}
    assert profiled["issues"][0]["field"] == "context"
    mapped = json.loads(cli("validate", str(path), "--json", "--map", "input=context", "--map", "output=response",
                            "--ignore", "unknown-field", "--null-as-empty").stdout)
    assert mapped["counts"] == {} and mapped["ok"] is True


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--map", "output"], "FIELD=KEY"),
        (["--map", "answer=response"], "not a record field"),
        (["--profile", "dollly"], "unknown profile"),
        (["--ignore", "missing-field"], "cannot be ignored"),
        (["--ignore", "nope"], "unknown check"),
        (["--max-issues", "-1"], "greater than or equal to 0"),
    ],
)
def test_usage_errors_exit_2_with_a_message(cli, data, args, words):
    result = cli("validate", str(data), *args)
    assert result.exit_code == 2, result
    assert words in plain(result.stderr) and result.stdout == ""


def test_missing_file_folder_and_quarantine_over_the_input_exit_2(cli, data, tmp_path):
    missing = cli("validate", str(tmp_path / "nope.jsonl"))
    assert missing.exit_code == 2 and "nope.jsonl: no such file. Check the path." in plain(missing.stderr)
    assert cli("validate", str(tmp_path)).exit_code == 2
    same = cli("validate", str(data), "--quarantine", str(data))
    assert same.exit_code == 2 and "is the input file" in plain(same.stderr)
    assert json.loads(data.read_text().splitlines()[0]) == ROWS[0]  # never overwritten


def test_unknown_format_exits_2_and_lossy_in_format_is_reported(cli, tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps({"instruction": "a\n\n### Response:\nb", "output": "c"}) + "\n")
    unknown = cli("validate", str(path), "--format", "alpacca")
    assert unknown.exit_code == 2 and "Did you mean 'alpaca'" in plain(unknown.stderr)
    result = cli("validate", str(path), "--format", "alpaca", "--json")
    codes = [i["code"] for i in json.loads(result.stdout)["issues"]]
    assert codes == ["template-marker", "lossy-in-format"] and result.exit_code == 0


def test_stdin_with_dash(cli):
    result = cli("validate", "-", input='{"instruction": "a", "output": ""}\n')
    assert result.exit_code == 1
    assert result.stdout.startswith("<stdin>:1: record 0: output: empty-output:")


def test_help_lists_profiles_and_checks(cli):
    result = cli("validate", "--help")
    assert result.exit_code == 0
    text = " ".join(result.stdout.split())
    for word in ("dolly", "prompt-completion", "--strict", "--quarantine", "duplicate-prompt", "lossy-in-format"):
        assert word in text


def test_the_installed_command_runs_with_exit_codes(data, clean):
    exe = Path(sys.executable).with_name("promptfmt")
    ok = subprocess.run([str(exe), "validate", str(clean)], capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0 and ok.stderr == ""
    bad = subprocess.run([str(exe), "validate", str(data), "--json"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 1 and json.loads(bad.stdout)["invalid"] == 2
    assert "Traceback" not in bad.stderr


def test_workers_give_the_same_report_and_reject_nonsense(cli, tmp_path):
    path = tmp_path / "many.jsonl"
    rows = [{"instruction": f"task {n % 50}", "output": f"answer {n % 7}" + (" " if n % 11 == 0 else "")}
            for n in range(400)]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows) + "{broken\n")
    one = cli("validate", str(path), "--json", "--workers", "1")
    two = cli("validate", str(path), "--json", "--workers", "2", "--quarantine", str(tmp_path / "q.jsonl"))
    assert one.exit_code == two.exit_code == 1
    assert json.loads(one.stdout) == json.loads(two.stdout)
    assert json.loads(one.stdout)["counts"]["duplicate-record"] > 0
    bad = cli("validate", str(path), "--workers", "many")
    assert bad.exit_code == 2 and "--workers" in plain(bad.stderr)


README = (ROOT / "README.md").read_text("utf-8")
README_DATA = [
    '{"instruction": "Name a colour.", "output": "Blue."}',
    '{"instruction": "Name a colour.", "output": "Blue."}',
    '{"instruction": "", "input": "What is 2 + 2?", "output": "4"}',
    '{"instruction": "Greet the user.", "input": "  ", "output": "Hello!"}',
    '{"instruction": "Summarise.", "output": null}',
    '{"instruction": "Translate.", "input": "Hallo"',
]


def test_readme_example_output_is_what_the_command_prints(cli, tmp_path, monkeypatch):
    section = README.split("## Validating datasets", 1)[1].split("\n## ", 1)[0]
    expected = section.split("```text\n", 1)[1].split("```", 1)[0]
    monkeypatch.chdir(tmp_path)
    Path("data.jsonl").write_text("\n".join(README_DATA) + "\n")
    result = cli("validate", "data.jsonl")
    assert result.exit_code == 1
    assert result.stdout == expected


def test_readme_checks_table_lists_every_code_with_its_severity():
    from promptfmt.validation.issues import CHECKS

    section = README.split("## Validating datasets", 1)[1].split("\n## ", 1)[0]
    rows = dict(re.findall(r"^\| `([a-z-]+)` \| (error|warning) \|", section, flags=re.M))
    assert rows == {code: check.severity for code, check in CHECKS.items()}
    profiles = re.findall(r"^\| `([a-z-]+)` \| `", section, flags=re.M)
    from promptfmt.records.mapping import PROFILES

    assert profiles == list(PROFILES)
