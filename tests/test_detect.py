"""Detection: `promptfmt.detect` and ``promptfmt detect`` name the format of rendered text, or say why not."""

from __future__ import annotations

import itertools
import json
import os
from importlib.metadata import EntryPoint

import pytest
from hypothesis import given

from promptfmt import (
    Conversation,
    FormatRegistry,
    LossReason,
    Query,
    Record,
    Template,
    TemplateFormat,
    build_registry,
    hookimpl,
)
from promptfmt.detect import Detection, Match, answer_for, detect_format, match_text, text_of
from promptfmt.formats import gemma, llama
from promptfmt.plugins import make_plugin_manager

from . import plugin_samples
from .helpers import COURSE, builtin, builtin_formats, builtin_registry
from .strategies import record_strategy

FORMATS = builtin_formats()
by_format = pytest.mark.parametrize("fmt", FORMATS, ids=[fmt.name for fmt in FORMATS])

PLAIN = [
    Record(instruction="Name a colour.", output="Blue."),
    Record(instruction="Translate to French.", input="Good morning", output="Bonjour"),
    Record(instruction="List two primes.", output="2\n3"),
]
NO_INPUT = [record for record in PLAIN if not record.input]
SAME_PROMPTS = ("llama2", "mistral", "mistral-v0.1")  # '<s>[INST] u [/INST]' in all three

QA = TemplateFormat(
    "qa-test",
    Template(prefix="Q: ", separator="\nC: ", prompt_suffix="\nA:", response_prefix=" ", end="\n"),
    description="A question/answer style for the detection tests.",
    reference="tests/test_detect.py",
)


def texts(fmt, records, part="text"):
    return [getattr(fmt.render(record), part) for record in records]


@pytest.fixture(scope="module")
def course_records(shared_data):
    data = json.loads((shared_data / COURSE).read_text("utf-8"))
    return [Record(**entry) for entry in data]


# -- every format is named on text it rendered ----------------------------------------------------


def named(fmt) -> str:
    """The format detection names on records ``fmt`` rendered: the one it extends, if any (same texts)."""
    return fmt.extends or fmt.name


@by_format
def test_each_format_is_named_on_its_own_texts(fmt):
    detection = detect_format(texts(fmt, PLAIN), builtin_registry())
    assert detection.name == named(fmt), detection.describe()
    assert detection.examined == len(PLAIN)
    assert fmt.name not in {rejection.format for rejection in detection.rejections}


@by_format
def test_each_format_is_named_on_all_course_records(fmt, course_records):
    detection = detect_format(texts(fmt, course_records), builtin_registry())
    assert (detection.name, detection.examined) == (named(fmt), 1100), detection.describe()


@by_format
def test_each_format_is_named_on_its_prompts_unless_another_renders_the_same_prompts(fmt, course_records):
    detection = detect_format(texts(fmt, course_records, "prompt"), builtin_registry())
    if fmt.name in SAME_PROMPTS:
        assert detection.name is None and detection.candidates == SAME_PROMPTS
    else:
        assert detection.name == named(fmt), detection.describe()


@given(record=record_strategy())
def test_a_format_that_extends_another_renders_every_record_as_it_does(record):
    extending = [fmt for fmt in builtin_formats() if fmt.extends]
    assert [fmt.name for fmt in extending] == ["gemma3"]
    for fmt in extending:
        assert fmt.render(record) == builtin(fmt.extends).render(record)


def test_the_format_another_extends_is_named_and_the_other_listed():
    """Gemma 3 texts are Gemma texts: even a system message leaves no mark (it opens the first user
    turn), so such a conversation reads back without it and is reported lossy."""
    gemma3 = builtin("gemma3")
    chat = Conversation.of([("system", "Be brief."), ("user", "Hi"), ("assistant", "Yo")])
    rendered = [*texts(gemma3, PLAIN), gemma3.render_conversation(chat).text]
    detection = detect_format(rendered, builtin_registry())
    assert detection.name == "gemma" and "gemma3" in detection.also_accepted and detection.extending == ("gemma3",)
    assert detection.describe() == "gemma renders all 4 texts exactly; gemma3 renders them alike, extending gemma"
    assert [(loss.field, loss.reason) for loss in gemma3.check_conversation(chat).losses] == [
        ("messages.0", LossReason.SYSTEM_UNMARKED)]


# -- ambiguity and specificity ----------------------------------------------------------------------


def test_alpaca_variants_are_ambiguous_without_input_and_told_apart_with_it():
    for name in ("alpaca", "alpaca-llmfs"):
        without = detect_format(texts(builtin(name), NO_INPUT), builtin_registry())
        assert without.name is None and without.ambiguous
        assert without.candidates == ("alpaca", "alpaca-llmfs")
        assert "ambiguous: alpaca, alpaca-llmfs" in without.describe()
        assert detect_format(texts(builtin(name), PLAIN), builtin_registry()).name == name


def test_the_format_that_explains_more_markup_wins_and_the_other_is_listed():
    detection = detect_format(texts(builtin("llama2"), PLAIN), builtin_registry())
    assert detection.name == "llama2" and not detection.ambiguous
    assert "mistral" in detection.also_accepted  # mistral reads ' Blue. ' as the answer
    assert builtin("mistral").parse(texts(builtin("llama2"), PLAIN)[0]).output == " Blue. "
    assert "mistral, mistral-nemo also parse them" in detection.describe()


def test_one_text_that_only_one_format_accepts_decides():
    mixed = [*texts(builtin("alpaca"), NO_INPUT), *texts(builtin("alpaca"), PLAIN[1:2])]
    detection = detect_format(mixed, builtin_registry())
    assert detection.name == "alpaca"
    assert [(r.format, r.index) for r in detection.rejections][:1] == [("alpaca-llmfs", 2)]  # held out longest


def test_texts_of_two_formats_are_no_format():
    mixed = [builtin("llama3").render(PLAIN[0]).text, builtin("gemma").render(PLAIN[0]).text]
    detection = detect_format(mixed, builtin_registry())
    assert detection.name is None and not detection.ambiguous and detection.candidates == ()
    assert detection.rejections[0].index == 1  # llama3 held out until the second text
    assert detection.describe().startswith("no registered format renders every text. Closest: llama3, which rejects text 1")


def test_no_text_is_no_detection():
    detection = detect_format([], builtin_registry())
    assert detection == Detection((), 0)
    assert detection.describe() == "there is no text to examine"


def test_limit_and_early_stop_keep_detection_streaming():
    def endless_garbage():
        yield "not rendered by anything"
        yield from itertools.repeat("never read")
        raise AssertionError("read past the point where no format was left")  # pragma: no cover

    assert detect_format(endless_garbage(), builtin_registry()).examined == 1
    llama3 = itertools.cycle(texts(builtin("llama3"), PLAIN))
    detection = detect_format(llama3, builtin_registry(), limit=5)
    assert (detection.name, detection.examined) == ("llama3", 5)


# -- matching one text, and the hook -----------------------------------------------------------------


def test_match_counts_the_markup_of_a_full_text_and_of_a_prompt():
    fmt = builtin("llama3")
    record = PLAIN[1]
    content = len(record.instruction) + len(record.input) + len(record.output)
    assert match_text(fmt, fmt.render(record).text) == Match("llama3", True, len(fmt.render(record).text) - content)
    prompt = fmt.render(Query(instruction="Hi")).prompt
    assert match_text(fmt, prompt) == Match("llama3", True, len(prompt) - 2)
    refused = match_text(fmt, "hello")
    assert not refused.accepted and "not llama3 text: at offset 0" in refused.reason


def test_builtin_plugins_answer_for_their_own_formats_only():
    text = builtin("llama3").render(PLAIN[0]).text
    assert llama.promptfmt_detect_format(text=text, format=builtin("llama3")) == match_text(builtin("llama3"), text)
    assert llama.promptfmt_detect_format(text=text, format=builtin("gemma")) is None
    assert gemma.promptfmt_detect_format(text=text, format=builtin("gemma")).accepted is False
    assert answer_for((), text, builtin("llama3")) is None


class VetoPlugin:
    """Registers QA and answers for it through the hook: refuses every text, whatever parsing says."""

    @hookimpl
    def promptfmt_register_formats(self, register):
        register(QA)

    @hookimpl
    def promptfmt_detect_format(self, text, format):
        return Match(format.name, False, reason="vetoed by its plugin") if format is QA else None


class SilentPlugin:
    """Registers QA and does not implement the detection hook."""

    @hookimpl
    def promptfmt_register_formats(self, register):
        register(QA)


def registry_with(plugin) -> FormatRegistry:
    registry, failures = build_registry(make_plugin_manager(entry_points=False, plugins=[("test-plugin", plugin)]))
    assert not failures
    return registry


def test_the_hook_answer_of_the_providing_plugin_wins():
    detection = detect_format([QA.render(PLAIN[1]).text], registry_with(VetoPlugin()))
    assert detection.name is None
    assert ("qa-test", "vetoed by its plugin") in {(r.format, r.reason) for r in detection.rejections}


def test_formats_no_plugin_answers_for_are_matched_by_parsing():
    assert detect_format([QA.render(PLAIN[1]).text], registry_with(SilentPlugin())).name == "qa-test"
    bare = FormatRegistry()  # no plugin manager at all
    bare.register(QA, plugin="by hand")
    assert detect_format([QA.render(PLAIN[0]).text], bare).name == "qa-test"


# -- a failing plugin costs its own formats only ----------------------------------------------------


def hostile_registry(*plugins):
    named = [(f"hostile-{number}", plugin) for number, plugin in enumerate(plugins)]
    registry, failures = build_registry(make_plugin_manager(entry_points=False, plugins=named))
    assert not failures
    return registry


@pytest.mark.parametrize("kind", ["RuntimeError", "BaseException", "sys.exit", "os._exit", "KeyboardInterrupt", "wrong-type"])
def test_a_format_whose_plugin_fails_is_skipped_with_a_note_and_the_others_detected(kind, monkeypatch):
    monkeypatch.setattr(os, "_exit", lambda status=0: pytest.fail("os._exit reached"))
    registry = hostile_registry(plugin_samples.BrokenFormatPlugin(plugin_samples.BrokenFormat("parse", kind)),
                                plugin_samples.HostileDetectPlugin(kind))
    detection = detect_format(texts(builtin("llama3"), PLAIN), registry)
    assert detection.name == "llama3"
    assert {(s.format, s.plugin, s.index) for s in detection.skipped} == {("broken", "hostile-0", 0),
                                                                          ("detected", "hostile-1", 0)}
    reasons = {s.format: s.reason for s in detection.skipped}
    if kind == "KeyboardInterrupt":  # let through by the format's guard (a Ctrl-C, per record), told apart here
        method = hook = "detection raised KeyboardInterrupt"
    else:
        method = "parse returned int" if kind == "wrong-type" else "parse raised"
        hook = "promptfmt_detect_format " + ("returned str, not a Match or None" if kind == "wrong-type" else "raised")
    assert reasons["broken"].startswith(f"format 'broken' of plugin 'hostile-0' failed: {method}")
    assert reasons["detected"].startswith(f"format 'detected' of plugin 'hostile-1' failed: {hook}")


def test_only_the_plugin_that_registered_a_format_is_asked_about_it():
    registry = hostile_registry(plugin_samples.HostileDetectPlugin("RuntimeError"))
    detection = detect_format([QA.render(PLAIN[1]).text, builtin("alpaca").render(PLAIN[1]).text], registry)
    assert detection.rejections and all(s.format == "detected" for s in detection.skipped)
    assert "alpaca" in {r.format for r in detection.rejections}  # asked, and not through the hostile hook


def test_cli_detect_warns_about_the_skipped_format_and_names_the_detected_one(cli, tmp_path, monkeypatch):
    from promptfmt.plugins import manager

    eps = [EntryPoint("breaker", "tests.plugin_samples:failing_format", manager.ENTRY_POINT_GROUP)]
    monkeypatch.setattr(manager, "_entry_points", lambda group: eps)
    monkeypatch.delenv(manager.DISABLE_ENTRY_POINTS_ENV)
    path = write_jsonl(tmp_path / "gemma.jsonl", texts(builtin("gemma"), PLAIN))
    result = cli("detect", str(path))
    assert (result.exit_code, result.stdout) == (0, "gemma\n"), result
    assert "Warning: format broken skipped at text 0: format 'broken' of plugin 'breaker' failed: parse raised " \
           "RuntimeError: boom" in result.stderr
    verdict = json.loads(cli("detect", "--json", str(path)).stdout)
    assert [(s["format"], s["plugin"]) for s in verdict["skipped_formats"]] == [("broken", "breaker")]


# -- items of a text dataset ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("plain", "plain"),
        ({"text": "t", "prompt": "p", "completion": "c"}, "t"),
        ({"prompt": "p", "completion": "c", "id": 1}, "pc"),
        ({"prompt": "p"}, "p"),
        ({"prompt": "p", "completion": None}, None),
        ({"instruction": "i", "output": "o"}, None),
        (5, None),
        ([], None),
    ],
)
def test_text_of_dataset_items(value, text):
    assert text_of(value) == text


# -- the command ---------------------------------------------------------------------------------


def write_jsonl(path, values):
    path.write_text("".join(json.dumps(value) + "\n" for value in values), "utf-8")
    return path


def test_cli_names_the_format_on_stdout(cli, tmp_path):
    rendered = [builtin("gemma").render(record) for record in PLAIN]
    path = write_jsonl(tmp_path / "gemma.jsonl", [r.as_dict() for r in rendered[:2]] + [rendered[2].text])
    result = cli("detect", str(path))
    assert (result.exit_code, result.stdout) == (0, "gemma\n"), result
    assert "gemma renders all 3 texts exactly" in result.stderr


def test_cli_ambiguous_exits_1_naming_the_candidates(cli, tmp_path):
    path = tmp_path / "alpaca.json"
    path.write_text(json.dumps(texts(builtin("alpaca"), NO_INPUT)), "utf-8")
    result = cli("detect", str(path))
    assert (result.exit_code, result.stdout) == (1, ""), result
    assert "Error: " in result.stderr and "ambiguous: alpaca, alpaca-llmfs" in result.stderr


def test_cli_json_verdict_and_unreadable_items_are_reported(cli, tmp_path):
    path = tmp_path / "mixed.jsonl"
    lines = [json.dumps(builtin("zephyr").render(PLAIN[0]).text), "{oops", json.dumps({"instruction": "x"})]
    path.write_text("\n".join(lines) + "\n", "utf-8")
    result = cli("detect", "--json", str(path))
    assert result.exit_code == 0, result
    verdict = json.loads(result.stdout)
    assert (verdict["format"], verdict["ambiguous"], verdict["examined"], verdict["skipped"]) == ("zephyr", False, 1, 2)
    assert "phi3-llmfs" in verdict["also_accepted"]
    assert f"{path}:2: item 1: invalid-json" in result.stderr
    assert f"{path}:3: item 2: not a text" in result.stderr


def test_cli_unknown_text_exits_1_with_the_closest_format(cli):
    result = cli("detect", "-", input=json.dumps(["<|im_start|>user\nhi"]))
    assert result.exit_code == 1, result
    assert "no registered format renders every text. Closest: chatml" in result.stderr


def test_cli_usage_error_exits_2(cli, tmp_path):
    result = cli("detect", str(write_jsonl(tmp_path / "x.jsonl", ["a"])), "--limit", "0")
    assert result.exit_code == 2, result
