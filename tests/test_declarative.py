"""Declarative (TOML) formats: the file format, its schema and messages, loading through the plugin system, the CLI.

References: the Dolly v2 golden strings are the constants of databrickslabs/dolly training/consts.py
(INTRO_BLURB, INSTRUCTION_KEY "### Instruction:", INPUT_KEY "Input:", RESPONSE_KEY "### Response:",
END_KEY "### End", and the three PROMPT_* formats built from them), the input block appearing when
``context`` is truthy (trainer.py ``_add_text``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest
from hypothesis import given
from pydantic import ValidationError

from promptfmt import Conversation, FormatDefinitionError, Query, Record, TemplateFormat, load_registry, schemas
from promptfmt.templating.declarative import (
    SCHEMA_VERSION,
    FormatFile,
    load_format_file,
    parse_format_document,
    parse_format_text,
)
from promptfmt.templating.writing import dumps_format, format_document
from promptfmt.testing import conformance_suite

from .helpers import builtin, builtin_formats
from .strategies import format_documents

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "formats"
DOLLY = EXAMPLES / "dolly-v2.toml"
HOUSE = EXAMPLES / "house-qa.toml"

# databrickslabs/dolly training/consts.py
INTRO = "Below is an instruction that describes a task. Write a response that appropriately completes the request."
DOLLY_NO_INPUT = INTRO + "\n\n### Instruction:\n{instruction}\n\n### Response:\n{response}\n\n### End"
DOLLY_WITH_INPUT = INTRO + "\n\n### Instruction:\n{instruction}\n\nInput:\n{input}\n\n### Response:\n{response}\n\n### End"
DOLLY_FOR_GENERATION = INTRO + "\n\n### Instruction:\n{instruction}\n\n### Response:\n"

DOLLY_GOLDEN = [
    (
        Record(instruction="When did Virgin Australia start operating?", input="Virgin Australia commenced services on 31 August 2000.",
               output="31 August 2000."),
        DOLLY_WITH_INPUT.format(instruction="When did Virgin Australia start operating?",
                                input="Virgin Australia commenced services on 31 August 2000.", response="31 August 2000."),
    ),
    (
        Record(instruction="Which is a species of fish? Tope or Rope", output="Tope"),
        DOLLY_NO_INPUT.format(instruction="Which is a species of fish? Tope or Rope", response="Tope"),
    ),
]
DOLLY_PROMPTS = [(Query(instruction="Name a primary colour."), DOLLY_FOR_GENERATION.format(instruction="Name a primary colour."))]

# The conformance kit, exactly as a user runs it on their own TOML file: one line each.
TestDollyV2 = conformance_suite(DOLLY, golden=DOLLY_GOLDEN, golden_prompts=DOLLY_PROMPTS)
TestHouseQa = conformance_suite(HOUSE)

MINIMAL = """\
name = "mini"
description = "A minimal format."
reference = "tests/test_declarative.py"

[template]
prefix = "Q: "
separator = "\\nC: "
prompt_suffix = "\\nA:"
response_prefix = " "
end = "\\n"
"""


def write(tmp_path: Path, text: str, name: str = "fmt.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# -- the file format -------------------------------------------------------------------------------


def test_example_files_render_what_they_say():
    dolly = load_format_file(DOLLY)
    assert (dolly.name, dolly.aliases) == ("dolly-v2", ("dolly",))
    house = load_format_file(HOUSE)
    record = Record(instruction="Where is my order?", input="Order 42", output="It ships today.")
    assert house.render(record).text == (
        "You are the support assistant of Example Corp. Answer briefly.\n\n"
        "Question: Where is my order?\nContext: Order 42\nAnswer: It ships today.\n<|end|>"
    )
    assert house.render(record).prompt.endswith("\nAnswer:")
    assert house.parse(house.render(record).text) == record


def test_preamble_is_prepended_to_both_prefixes():
    fmt = parse_format_text(MINIMAL.replace('prefix = "Q: "', 'preamble = "SYS\\n"\nprefix = "Q: "\nprefix_no_input = "Q (alone): "'))
    assert fmt.template.prefix == "SYS\nQ: "
    assert fmt.template.prefix_no_input == "SYS\nQ (alone): "
    assert fmt.render(Record(instruction="a", output="b")).text == "SYS\nQ (alone): a\nA: b\n"
    assert fmt.render(Record(instruction="a", input="c", output="b")).text == "SYS\nQ: a\nC: c\nA: b\n"


def test_content_is_never_evaluated():
    """Declarative formats execute nothing: template syntax in the file or in records is literal text."""
    text = MINIMAL.replace('prefix = "Q: "', 'prefix = "{{ 7 * 7 }} ${HOME} %(x)s {0} "')
    fmt = parse_format_text(text)
    record = Record(instruction="{% raw %}{{ secret }}", output="{0}")
    assert fmt.render(record).text == "{{ 7 * 7 }} ${HOME} %(x)s {0} {% raw %}{{ secret }}\nA: {0}\n"
    assert fmt.parse(fmt.render(record).text) == record


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (('separator = "\\nC: "', 'separator = ""'), "fmt.toml: template.separator: must not be empty"),
        (('separator = "\\nC: "', 'seperator = "\\nC: "'), "fmt.toml: template.seperator: unknown key; did you mean 'separator'?"),
        (('separator = "\\nC: "', ""), "fmt.toml: template.separator: is missing (a required key)"),
        (('name = "mini"', 'name = "my format"'), "fmt.toml: name: may contain only letters, digits and the characters . _ + -"),
        (('name = "mini"', "name = 3"), "fmt.toml: name: must be a string, not an integer"),
        (('description = "A minimal format."', 'description = "two\\nlines"'), "fmt.toml: description: must be one line"),
        (('reference = "tests/test_declarative.py"', ""), "fmt.toml: reference: is missing (a required key)"),
        (('end = "\\n"', 'end = "\\n"\nchat = "yes"'), "fmt.toml: template.chat: must be true or false, not a string"),
        (('end = "\\n"', 'end = "\\n"\ninput_block = "sometimes"'),
         "fmt.toml: template.input_block: must be one of 'non-empty', 'always', not 'sometimes'"),
        (('end = "\\n"', 'end = "\\n"\nextra_markers = "x"'), "fmt.toml: template.extra_markers: must be a list, not a string"),
        (('[template]', 'colour = "blue"\n[template]'), "fmt.toml: colour: unknown key; the keys here are: aliases, description"),
        (('prompt_suffix = "\\nA:"\nresponse_prefix = " "', ""),
         "fmt.toml: template: prompt_suffix and response_prefix are both empty: nothing would mark where the prompt ends"),
        (('prefix = "Q: "', 'prefix = "Q: \nbroken'), "fmt.toml:6:14: invalid TOML: Illegal character"),
    ],
)
def test_errors_name_the_file_the_key_and_what_is_wrong(tmp_path, change, message):
    old, new = change
    assert old in MINIMAL
    path = write(tmp_path, MINIMAL.replace(old, new))
    with pytest.raises(FormatDefinitionError) as caught:
        load_format_file(path)
    assert message.replace("fmt.toml", str(path)) in str(caught.value)


def test_every_schema_problem_is_reported_at_once(tmp_path):
    path = write(tmp_path, 'name = ""\ndescriptio = "x"\n[template]\nchat = 1\n')
    with pytest.raises(FormatDefinitionError) as caught:
        load_format_file(path)
    lines = str(caught.value).splitlines()
    assert [line.split(": ", 2)[1] for line in lines] == [
        "descriptio", "description", "name", "reference", "template.chat", "template.separator",
    ]
    assert all(line.startswith(f"{path}: ") for line in lines)


def test_unreadable_files_are_named(tmp_path):
    with pytest.raises(FormatDefinitionError, match=r"nope\.toml: cannot read the format file"):
        load_format_file(tmp_path / "nope.toml")
    latin = tmp_path / "latin.toml"
    latin.write_bytes(MINIMAL.replace("minimal", "minimal caf\xe9").encode("latin-1"))
    with pytest.raises(FormatDefinitionError, match=r"latin\.toml: not UTF-8 text \(byte \d+\)"):
        load_format_file(latin)


def test_every_template_format_can_be_written_as_toml_and_read_back():
    """Every built-in Template is expressible as a declarative file: the format is the same description."""
    registry, _ = load_registry(entry_points=False, formats_dir="")
    written = 0
    for fmt in registry:
        if not isinstance(fmt, TemplateFormat):
            continue
        back = parse_format_text(dumps_format(fmt), source=fmt.name)
        assert back.template == fmt.template, fmt.name
        assert (back.name, back.aliases, back.description, back.reference) == (fmt.name, fmt.aliases, fmt.description, fmt.reference)
        written += 1
    assert written >= 4


def test_format_document_leaves_defaults_out_and_splits_the_preamble():
    fmt = load_format_file(HOUSE)
    document = format_document(fmt, preamble="You are the support assistant of Example Corp. Answer briefly.\n\n")
    assert document["template"] == {
        "preamble": "You are the support assistant of Example Corp. Answer briefly.\n\n",
        "prefix": "Question: ", "separator": "\nContext: ", "prompt_suffix": "\nAnswer:", "response_prefix": " ", "end": "\n<|end|>",
    }
    with pytest.raises(FormatDefinitionError, match="does not start both prefixes"):
        format_document(fmt, preamble="Nope")


# -- the schema: checked in, generated from the model, in agreement with it ------------------------


FORMAT_SCHEMA = json.loads((schemas.source_dir() / "format.schema.json").read_text("utf-8"))
VALIDATOR = jsonschema.Draft202012Validator(FORMAT_SCHEMA)


def test_checked_in_format_schema_is_generated_from_the_model():
    assert "format.schema.json" in schemas.GENERATED
    assert schemas.load("format.schema.json") == schemas.generate("format.schema.json") == FORMAT_SCHEMA
    jsonschema.Draft202012Validator.check_schema(FORMAT_SCHEMA)


@given(document=format_documents)
def test_jsonschema_and_pydantic_accept_the_same_format_documents(document):
    """docs/architecture.md, "Properties", property 7, for the declarative format schema."""
    try:
        FormatFile.model_validate(document)
        model_accepts = True
    except ValidationError:
        model_accepts = False
    assert VALIDATOR.is_valid(document) == model_accepts, document


def test_schema_command_prints_the_format_schema(cli):
    result = cli("schema", "format")
    assert result.exit_code == 0, result
    assert json.loads(result.stdout)["title"] == "promptfmt declarative format"
    unknown = cli("schema", "nope")
    assert unknown.exit_code == 2 and "unknown schema 'nope'" in unknown.stderr


# -- loading through the plugin system -------------------------------------------------------------


def test_format_files_are_plugins_named_after_the_file(tmp_path):
    path = write(tmp_path, MINIMAL)
    registry, failures = load_registry(entry_points=False, format_files=[str(path)])
    assert failures == []
    entry = registry.entry("mini")
    assert entry.plugin == f"file:{path}"
    assert registry.origin(entry.plugin) == "declarative format file"
    assert registry.entry("alpaca").plugin == "promptfmt.formats.alpaca"


def test_formats_dir_env_loads_every_toml_file(tmp_path, monkeypatch):
    write(tmp_path, MINIMAL, "a.toml")
    write(tmp_path, MINIMAL.replace('"mini"', '"mini2"'), "b.toml")
    write(tmp_path, "not toml at all", "notes.txt")
    monkeypatch.setenv("PROMPTFMT_FORMATS_DIR", str(tmp_path))
    registry, failures = load_registry(entry_points=False)
    assert failures == []
    assert registry.entry("mini").plugin == f"file:{tmp_path / 'a.toml'}"
    assert registry.entry("mini2").plugin == f"file:{tmp_path / 'b.toml'}"
    # the same file named again on the command line is loaded once, not reported as a duplicate
    registry, failures = load_registry(entry_points=False, format_files=[str(tmp_path / "a.toml")])
    assert failures == [] and "mini" in registry


def test_a_broken_file_is_reported_by_name_and_the_others_load(tmp_path, monkeypatch):
    write(tmp_path, MINIMAL, "good.toml")
    write(tmp_path, MINIMAL.replace('separator = "\\nC: "', 'separator = ""'), "broken.toml")
    write(tmp_path, MINIMAL.replace('"mini"', '"alpaca"'), "taken.toml")
    monkeypatch.setenv("PROMPTFMT_FORMATS_DIR", str(tmp_path))
    registry, failures = load_registry(entry_points=False)
    assert sorted(f.plugin for f in failures) == [f"file:{tmp_path / 'broken.toml'}", f"file:{tmp_path / 'taken.toml'}"]
    messages = {f.plugin: str(f) for f in failures}
    assert "template.separator: must not be empty" in messages[f"file:{tmp_path / 'broken.toml'}"]
    assert "already registered by plugin 'promptfmt.formats.alpaca'" in messages[f"file:{tmp_path / 'taken.toml'}"]
    assert "mini" in registry and registry.entry("alpaca").plugin == "promptfmt.formats.alpaca"


def test_a_missing_formats_dir_is_reported(tmp_path, monkeypatch):
    monkeypatch.setenv("PROMPTFMT_FORMATS_DIR", str(tmp_path / "nowhere"))
    registry, failures = load_registry(entry_points=False)
    assert [f.plugin for f in failures] == [f"dir:{tmp_path / 'nowhere'}"]
    assert "names a folder that does not exist" in str(failures[0])
    assert "alpaca" in registry


def test_format_file_plugins_can_be_blocked(tmp_path, monkeypatch):
    path = write(tmp_path, MINIMAL)
    monkeypatch.setenv("PROMPTFMT_BLOCK_PLUGINS", f"file:{path}")
    registry, failures = load_registry(entry_points=False, format_files=[str(path)])
    assert failures == [] and "mini" not in registry


# -- the command line ------------------------------------------------------------------------------


def test_formats_lists_a_format_file_with_where_it_came_from(cli):
    result = cli("formats", "--json", "--format-file", str(HOUSE))
    assert result.exit_code == 0, result
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert rows["house-qa"]["plugin"] == f"file:{HOUSE}"
    assert rows["house-qa"]["origin"] == "declarative format file"
    assert rows["alpaca"]["origin"] == "built-in"
    human = cli("formats", "--format-file", str(HOUSE))
    assert f"plugin: file:{HOUSE} (declarative format file)" in human.stdout


def test_formats_exits_3_for_a_broken_file_and_still_lists_the_rest(cli, tmp_path):
    broken = write(tmp_path, MINIMAL.replace('[template]', '[templat]'))
    result = cli("formats", "--json", "--format-file", str(broken), "--format-file", str(HOUSE))
    assert result.exit_code == 3
    assert f"plugin 'file:{broken}' failed to load" in result.stderr
    assert f"{broken}: templat: unknown key; did you mean 'template'?" in result.stderr
    assert {"house-qa", "alpaca"} <= {row["name"] for row in json.loads(result.stdout)}
    assert "Traceback" not in result.stderr


def test_render_and_detect_with_a_format_file(cli, tmp_path):
    records = tmp_path / "records.jsonl"
    records.write_text("".join(json.dumps(r.fields()) + "\n" for r, _ in DOLLY_GOLDEN), encoding="utf-8")
    rendered = cli("render", str(records), "--format", "dolly", "--format-file", str(DOLLY), "--json")
    assert rendered.exit_code == 0, rendered
    assert [json.loads(line)["text"] for line in rendered.stdout.splitlines()] == [text for _, text in DOLLY_GOLDEN]
    texts = tmp_path / "texts.jsonl"
    texts.write_text("".join(json.dumps({"text": text}) + "\n" for _, text in DOLLY_GOLDEN), encoding="utf-8")
    detected = cli("detect", str(texts), "--format-file", str(DOLLY))
    assert detected.exit_code == 0, detected
    assert detected.stdout.strip() == "dolly-v2"


def test_convert_to_a_format_file_and_back(cli, tmp_path):
    records = tmp_path / "records.jsonl"
    records.write_text("".join(json.dumps({**r.fields(), "id": i}) + "\n" for i, (r, _) in enumerate(DOLLY_GOLDEN)), encoding="utf-8")
    texts, back = tmp_path / "dolly.jsonl", tmp_path / "back.jsonl"
    there = cli("convert", str(records), "--to", "dolly-v2", "--format-file", str(DOLLY), "-o", str(texts))
    assert there.exit_code == 0, there
    assert [json.loads(line)["text"] for line in texts.read_text("utf-8").splitlines()] == [t for _, t in DOLLY_GOLDEN]
    again = cli("convert", str(texts), "--from", "dolly", "--layout", "alpaca", "--format-file", str(DOLLY), "-o", str(back))
    assert again.exit_code == 0, again
    rows = [json.loads(line) for line in back.read_text("utf-8").splitlines()]
    assert [Record.model_validate(row).fields() for row in rows] == [r.fields() for r, _ in DOLLY_GOLDEN]
    assert [row["id"] for row in rows] == [0, 1]


def test_formats_dir_reaches_every_command(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("PROMPTFMT_FORMATS_DIR", str(EXAMPLES))
    records = tmp_path / "records.jsonl"
    records.write_text(json.dumps({"instruction": "Where is my order?", "output": "It ships today."}) + "\n", encoding="utf-8")
    result = cli("render", str(records), "-f", "support-qa")
    assert result.exit_code == 0, result
    assert "Question: Where is my order?\nAnswer: It ships today.\n<|end|>" in result.stdout


def test_unknown_format_blames_the_broken_file(cli, tmp_path):
    broken = write(tmp_path, MINIMAL.replace('separator = "\\nC: "', 'separator = ""'))
    records = write(tmp_path, json.dumps({"instruction": "a", "output": "b"}) + "\n", "records.jsonl")
    result = cli("render", str(records), "-f", "mini", "--format-file", str(broken))
    assert result.exit_code == 3
    assert "template.separator: must not be empty" in result.stderr


def test_parse_format_document_accepts_a_parsed_document():
    fmt = parse_format_document({"name": "x", "description": "d", "reference": "r",
                                 "template": {"separator": "\n", "response_prefix": "\n### Answer:\n"}})
    assert fmt.render(Record(instruction="a", output="b")).text == "a\n### Answer:\nb"


# -- [turns]: a chat format turn by turn ------------------------------------------------------------

CHATML_TURNS = """\
schema_version = 2
name = "my-chatml"
description = "ChatML described turn by turn in a format file."
reference = "tests/test_declarative.py"

[turns]
user_prefix = "<|im_start|>user\\n"
user_suffix = "<|im_end|>\\n"
generation_prompt = "<|im_start|>assistant\\n"
turn_end = "<|im_end|>\\n"
system_prefix = "<|im_start|>system\\n"
system_suffix = "<|im_end|>\\n"
default_system = "You are a helpful assistant."
extra_markers = ["<|im_start|>", "<|im_end|>"]
"""
MY_CHATML = parse_format_text(CHATML_TURNS, source="my-chatml.toml")
TestMyChatml = conformance_suite(MY_CHATML)  # the kit's conversation property included


def test_a_turns_file_renders_conversations_and_records_like_the_builtin_it_describes():
    qwen2 = builtin("qwen2")  # ChatML with the same default system turn
    conversation = Conversation.of([("system", "S"), ("user", "Hi"), ("assistant", "Yo"), ("user", "More")])
    assert MY_CHATML.multi_turn and MY_CHATML.render_conversation(conversation) == qwen2.render_conversation(conversation)
    record = Record(instruction="Translate.", input="Hallo", output="Hello")
    assert MY_CHATML.render(record) == qwen2.render(record)
    assert MY_CHATML.parse_conversation(qwen2.render_conversation(conversation).text).messages == conversation.messages


@pytest.mark.parametrize("name", [fmt.name for fmt in builtin_formats() if fmt.multi_turn])
def test_every_chat_format_writes_and_reads_back_as_a_turns_file(name):
    fmt = builtin(name)
    text = dumps_format(fmt)
    assert text.startswith("schema_version = 2\n")  # [turns] came with version 2
    again = parse_format_text(text, source=f"{name}.toml")
    assert again.turns == fmt.turns and again.template == fmt.template


def test_one_turn_files_are_written_without_a_schema_version_so_that_every_promptfmt_reads_them():
    text = dumps_format(builtin("alpaca"))
    assert "schema_version" not in text and parse_format_text(text).template == builtin("alpaca").template


@pytest.mark.parametrize(
    ("tables", "message"),
    [
        ("", "give either a [template] table (one turn) or a [turns] table"),
        ('[template]\nseparator = "\\n"\nprompt_suffix = "A:"\nresponse_prefix = " "\n[turns]\nuser_prefix = "U"\n',
         "give either a [template] table (one turn) or a [turns] table"),
        ('[turns]\nuser_prefix = "U: "\nsystem = "nowhere"\n', "turns.system: must be one of"),
        ('[turns]\nuser_prefix = "U: "\n', "my.toml: turns: prompt_suffix and response_prefix are both empty"),
        ('schema_version = 3\n[turns]\nuser_prefix = "U: "\nnew_key = 1\n',
         "my.toml: schema_version: the file is written for format-file schema version 3, and this promptfmt reads "
         "versions up to 2: upgrade promptfmt"),
        ('schema_version = 1\n[turns]\nuser_prefix = "U: "\ngeneration_prompt = "A: "\nturn_end = "\\n"\n',
         "a [turns] table needs schema_version 2 or later (the file says 1)"),
        ('schema_version = 0\n[template]\nseparator = "\\n"\nprompt_suffix = "A:"\nresponse_prefix = " "\n',
         "my.toml: schema_version:"),
    ],
)
def test_a_format_file_holds_one_description_and_says_what_is_wrong(tables, message):
    head = 'name = "my"\ndescription = "d"\nreference = "r"\n'
    if tables.startswith("schema_version"):  # a top-level key: before the others
        version, tables = tables.split("\n", 1)
        head = version + "\n" + head
    with pytest.raises(FormatDefinitionError, match=re.escape(message)):
        parse_format_text(head + tables, source="my.toml")


def test_the_schema_version_this_promptfmt_reads_is_in_the_schema():
    assert SCHEMA_VERSION == 2
    assert FormatFile.model_json_schema()["properties"]["schema_version"]["maximum"] == SCHEMA_VERSION
