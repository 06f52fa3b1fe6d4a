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
import tomli_w
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from promptfmt import (
    ChatTurns,
    Conversation,
    FormatDefinitionError,
    Query,
    Record,
    Template,
    TemplateFormat,
    load_registry,
    schemas,
)
from promptfmt.templating import pieces as pieces_module
from promptfmt.templating import turns as turns_module
from promptfmt.templating.declarative import (
    SCHEMA_VERSION,
    FormatFile,
    load_format_file,
    parse_format_document,
    parse_format_text,
)
from promptfmt.templating.writing import dumps_format, format_document
from promptfmt.testing import (
    conformance_suite,
    prop_conversation_round_trip,
    prop_lossless_round_trip,
    prop_lossy_verdict_is_right,
)

from .helpers import builtin, builtin_formats
from .strategies import (
    colliding_template_tables,
    colliding_turns_tables,
    conversation_strategy,
    format_documents,
    record_strategy,
)

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
         "fmt.toml: template.prompt_suffix, template.response_prefix: are both empty: nothing would mark where the prompt ends"),
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
        ('[turns]\nuser_prefix = "U: "\n', "my.toml: turns.user_suffix, turns.generation_prompt: are both empty"),
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


# -- pieces that collide: refused with the keys named, exactly when the format could not read back --------

COLLISIONS = [
    # (table, keys changed, the keys the message names, what it says)
    ("template", {"chat": True, "prefix_no_input": "Q (alone): "}, "template.prefix_no_input, template.chat",
     "a chat format has one preamble"),
    ("template", {"separator": "\nA: "}, "template.separator, template.prompt_suffix, template.response_prefix",
     "the separator '\\nA: ' equals prompt_suffix + response_prefix"),
    ("template", {"prompt_suffix": "", "response_prefix": ""}, "template.prompt_suffix, template.response_prefix",
     "are both empty: nothing would mark where the prompt ends"),
    ("turns", {"system_prefix": "<|user|>\n"}, "turns.system_prefix, turns.user_prefix",
     "user_prefix '<|user|>\\n' is also system_prefix, so a system turn cannot be told from the first user turn"),
    ("turns", {"system_prefix": "<|user|>\nsystem: "}, "turns.system_prefix, turns.user_prefix",
     "is also the start of system_prefix '<|user|>\\nsystem: '"),
    ("turns", {"user_prefix": "", "bos": "<|user|>\n"}, "turns.system_prefix, turns.user_prefix",
     "user_prefix is empty, so a system turn cannot be told from the first user turn"),
    ("turns", {"system": "first-user", "system_prefix": "<<SYS>>", "system_suffix": ""},
     "turns.system_suffix, turns.system_prefix", "nothing marks where a system message inside the first user message"),
    ("turns", {"system": "first-user", "system_prefix": " <<SYS>>", "trim": True}, "turns.system_prefix, turns.trim",
     "starts with whitespace, which trim strips from the first user message"),
    ("turns", {"user_suffix": "", "generation_prompt": "", "response_prefix": "<|assistant|>\n"},
     "turns.user_suffix, turns.generation_prompt", "nothing marks where a user message ends"),
    ("turns", {"user_prefix": "", "turn_end": "", "bos": "<|user|>\n", "system": "refused"},
     "turns.turn_end, turns.user_prefix", "nothing marks where an answer ends and the next user message starts"),
    ("turns", {"turn_end": "", "final": "</s><|user|>\n"}, "turns.turn_end, turns.user_prefix, turns.final",
     "the last answer would read as ending with '</s>'"),
    ("turns", {"last_answer_prefix": "<think>", "response_prefix": "<think></think>"},
     "turns.response_prefix, turns.last_answer_prefix", "every answer would read as the last one"),
    ("turns", {"separator": "<|end|>\n<|assistant|>\n"}, "turns.separator, turns.user_suffix, turns.generation_prompt",
     "a record's input could not be told apart"),
]
PHI3_LIKE = {"user_prefix": "<|user|>\n", "user_suffix": "<|end|>\n", "generation_prompt": "<|assistant|>\n",
             "turn_end": "<|end|>\n", "system_prefix": "<|system|>\n", "system_suffix": "<|end|>\n"}
HOUSE_LIKE = {"prefix": "Q: ", "separator": "\nC: ", "prompt_suffix": "\nA:", "response_prefix": " ", "end": "\n"}

NEUTRAL_RECORDS = (Record(instruction="a", output="b"), Record(instruction="a", input="c", output="b"))
NEUTRAL_CONVERSATIONS = tuple(Conversation.of(messages) for messages in (
    [("user", "a")], [("user", "a"), ("assistant", "b")], [("system", "s"), ("user", "a")],
    [("system", "s"), ("user", "a"), ("assistant", "b")], [("user", "a"), ("assistant", "b"), ("user", "c")],
    [("system", "s"), ("user", "a"), ("assistant", "b"), ("user", "c"), ("assistant", "d")],
))


def neutral_failures(fmt: TemplateFormat) -> list[object]:
    """The records and conversations, their contents sharing nothing with the pieces, that are lossy or do
    not read back: what the rules refuse. Left out: a prompt without input where the separator occurs in
    the prompt suffix (lossy, and said so: imported Vicuna-style templates are such), an empty input
    where the input block always appears (content), and a system message opening the first user
    message without a marker (Gemma 3: ``system-unmarked``)."""
    failures: list[object] = []
    for record in NEUTRAL_RECORDS:
        if fmt.template.input_block == "always" and not record.input:
            continue
        subjects = [record] + ([Query(instruction=record.instruction, input=record.input)] if record.input else [])
        for subject in subjects:
            rendered = fmt.render(subject)
            try:
                back = fmt.parse(rendered.text if isinstance(subject, Record) else rendered.prompt)
            except ValueError:
                back = None
            if not fmt.check(subject).lossless or back != subject:
                failures.append(subject)
    unmarked = fmt.turns is not None and fmt.turns.system == "first-user" and not fmt.turns.system_prefix
    for conversation in NEUTRAL_CONVERSATIONS if fmt.turns is not None else ():
        if conversation.system is not None and (unmarked or fmt.turns.system == "refused"):
            continue
        try:
            back = fmt.parse_conversation(fmt.render_conversation(conversation).text).messages
        except ValueError:
            back = None
        if not fmt.check_conversation(conversation).lossless or back != conversation.messages:
            failures.append(conversation)
    return failures


def unchecked_failures(table: str, pieces: dict[str, object]) -> list[object]:
    """`neutral_failures` of the pieces built without the rules: what a refused definition would do."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pieces_module, "check_template", lambda template: None)
        patch.setattr(turns_module, "check_turns", lambda turns: None)
        try:
            return neutral_failures(format_of(table, pieces))
        except Exception as exc:  # some such pieces break the engine outright (an empty literal)
            return [exc]


def format_of(table: str, pieces: dict[str, object]) -> TemplateFormat:
    if table == "turns":
        return TemplateFormat.from_turns("gen", ChatTurns(**pieces))  # type: ignore[arg-type]
    return TemplateFormat("gen", Template(**pieces))  # type: ignore[arg-type]


def document_of(table: str, pieces: dict[str, object]) -> dict[str, object]:
    head: dict[str, object] = {"schema_version": 2} if table == "turns" else {}
    return {**head, "name": "gen", "description": "d", "reference": "r", table: pieces}


@pytest.mark.parametrize(("table", "change", "keys", "detail"), COLLISIONS)
def test_colliding_pieces_are_refused_naming_the_file_and_the_keys(tmp_path, table, change, keys, detail):
    pieces = {**(PHI3_LIKE if table == "turns" else HOUSE_LIKE), **change}
    path = write(tmp_path, tomli_w.dumps(document_of(table, pieces)))
    with pytest.raises(FormatDefinitionError) as caught:
        load_format_file(path)
    assert str(caught.value).startswith(f"{path}: {keys}: "), caught.value
    assert detail in str(caught.value)
    assert unchecked_failures(table, pieces)  # accepted, the format would lose neutral records or conversations
    with pytest.raises(FormatDefinitionError, match=re.escape(keys.replace(f"{table}.", ""))):
        format_of(table, pieces)  # a Python-defined format meets the same rules


@pytest.mark.parametrize(("table", "change"), [
    ("template", {"prefix": "\nA:"}),  # the prefix is the prompt suffix
    ("template", {"end": "Q: "}),  # the end text is the prefix
    ("template", {"end": "\nA:\n"}),  # the prompt suffix starts the end text
    ("template", {"separator": "\nA"}),  # the separator starts the text after the prompt (the longer one wins)
    ("template", {"separator": "\nA: more", "input_block": "always"}),
    ("turns", {"user_suffix": "<|user|>\n"}),  # the user prefix is the user suffix
    ("turns", {"turn_end": "<|user|>\n"}),  # the end of a turn is the user prefix
    ("turns", {"turn_end": "<|end|>\n<|x|>"}),  # the user suffix starts the end of a turn
    ("turns", {"system_prefix": "<|user"}),  # a system prefix that starts the user prefix
    ("turns", {"turn_end": "", "final": "<|user|>\n</s>"}),  # the final text starts with the user prefix
])
def test_pieces_that_coincide_but_read_back_are_accepted(table, change):
    fmt = parse_format_document(document_of(table, {**(PHI3_LIKE if table == "turns" else HOUSE_LIKE), **change}))
    assert neutral_failures(fmt) == []
    record = Record(instruction="Name <|user|>\nQ: a colour.", output="Blue.")
    prop_lossless_round_trip(fmt, record)
    prop_lossy_verdict_is_right(fmt, record)


@given(data=st.data(), table=st.sampled_from(["template", "turns"]))
def test_pieces_are_refused_exactly_when_neutral_contents_would_not_read_back(data, table):
    """Generated pieces that collide often: a refusal names keys of the table and the format would
    indeed lose a neutral record or conversation; an accepted format keeps them all, and the kit's
    round-trip properties hold on generated content."""
    pieces = data.draw(colliding_template_tables if table == "template" else colliding_turns_tables)
    try:
        fmt = parse_format_document(document_of(table, pieces), source="gen.toml")
    except FormatDefinitionError as exc:
        assert re.match(rf"gen\.toml: {table}\.\w+", str(exc)), exc
        if "is meaningless" not in str(exc):  # a key that does nothing there is refused, though harmless
            assert unchecked_failures(table, pieces), exc
        return
    assert neutral_failures(fmt) == []
    prop_lossless_round_trip(fmt, data.draw(record_strategy(fmt)))
    prop_lossy_verdict_is_right(fmt, data.draw(record_strategy(fmt)))
    if fmt.turns is not None:
        prop_conversation_round_trip(fmt, data.draw(conversation_strategy(fmt)))


@pytest.mark.parametrize(("change", "message"), [
    (('name = "mini"', f'name = "{"n" * 102_400}"'), "fmt.toml: name: must be at most 64 characters long, not 102400"),
    (('name = "mini"', 'name = "mini"\naliases = ["m", "mini"]'), "fmt.toml: aliases.1: 'mini' is the format's name; remove it"),
    (('name = "mini"', 'name = "mini"\naliases = ["m", "q", "m"]'), "fmt.toml: aliases.2: 'm' is listed twice; remove it"),
    (('name = "mini"', f'name = "mini"\naliases = ["{"a" * 65}"]'), "fmt.toml: aliases.0: must be at most 64 characters"),
])
def test_names_are_bounded_and_aliases_distinct(tmp_path, change, message):
    path = write(tmp_path, MINIMAL.replace(*change))
    with pytest.raises(FormatDefinitionError) as caught:
        load_format_file(path)
    assert str(caught.value).startswith(message.replace("fmt.toml", str(path)))
    assert len(str(caught.value)) < 300  # the name is not echoed back
    assert load_format_file(write(tmp_path, MINIMAL.replace('"mini"', '"' + "n" * 64 + '"'), "max.toml")).name == "n" * 64


def test_a_colliding_format_file_stops_the_command_with_the_keys_named(cli, tmp_path):
    bad = write(tmp_path, tomli_w.dumps(document_of("turns", {**PHI3_LIKE, "system_prefix": "<|user|>\n"})), "bad.toml")
    for args in (("formats", "--format-file", str(bad)), ("render", str(bad), "-f", "gen", "--format-file", str(bad))):
        result = cli(*args)
        assert result.exit_code == 3, result  # a broken file the user named: a plugin that failed to load
        assert f"plugin 'file:{bad}' failed to load: FormatDefinitionError: {bad}: turns.system_prefix, " \
               "turns.user_prefix: user_prefix '<|user|>\\n' is also system_prefix" in result.stderr
        assert "Traceback" not in result.stderr


def test_import_template_refuses_a_name_too_long_with_exit_2(cli, tmp_path):
    template = write(tmp_path, "{% for m in messages %}<|{{ m.role }}|>{{ m.content }}<|end|>{% endfor %}"
                     "{% if add_generation_prompt %}<|assistant|>{% endif %}", "t.jinja")
    result = cli("import-template", str(template), "--name", "n" * 100_000)
    assert result.exit_code == 2, result
    assert "must be at most 64 characters long, not 100000" in result.stderr
    assert len(result.stderr) < 400 and "Traceback" not in result.stderr
