"""Conversations: the model and its refusals, segments, and every chat format against its official template.

The official templates are rendered in a Jinja sandbox set up like Hugging Face
``apply_chat_template`` (`tests.reference`), on generated conversations (1-8 turns, with and
without a system message, contents hostile to the format) and on every conversation of the real
ShareGPT file (`../shared/data/fastchat_sharegpt`, see its SOURCE.md).
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from promptfmt import LossReason, Query, Record, convert, validate
from promptfmt.conversation import Conversation, ConversationRefused, Segment, order_problems
from promptfmt.io import Item

from .helpers import builtin, builtin_formats
from .reference import TemplateRaised, load_template, render_chat
from .strategies import conversation_documents, conversations, record_strategy
from .test_fidelity import CASES, Case, _tokens

CHAT_FORMATS = [fmt.name for fmt in builtin_formats() if getattr(fmt, "turns", None) is not None]
SYSTEM_REFUSED = {"gemma", "mistral", "mistral-v0.1", "mistral-v3", "mistral-nemo"}
SYSTEM_LEFT_OUT = {"mistral-nemo"}  # its template drops the system message of a conversation ending with an answer
SHAREGPT_ROLES = {"human": "user", "gpt": "assistant", "system": "system"}
by_case = pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])


# -- the model --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("roles", "code", "index"),
    [
        (["user", "tool"], "tool-turn", 1),
        (["user", "function"], "tool-turn", 1),
        (["user", "narrator"], "unknown-role", 1),
        (["user", "assistant", "system"], "system-not-first", 2),
        (["assistant", "user"], "not-starting-with-user", 0),
        (["system", "assistant"], "not-starting-with-user", 1),
        (["user", "user"], "consecutive-user", 1),
        (["user", "assistant", "assistant"], "consecutive-assistant", 2),
        (["system"], "empty-conversation", 1),
    ],
)
def test_every_refusal_names_its_reason_and_message(roles, code, index):
    problem = order_problems(roles)[0]
    assert (problem.code, problem.index) == (code, index)
    with pytest.raises(ValidationError, match=code):
        Conversation.model_validate({"messages": [{"role": role, "content": "x"} for role in roles]})


def test_conversations_in_order_are_accepted_with_their_metadata():
    for roles in (["user"], ["user", "assistant"], ["system", "user", "assistant", "user"]):
        assert order_problems(roles) == []
    conversation = Conversation.model_validate(
        {"messages": [{"role": "system", "content": "S"}, {"role": "user", "content": "u"}], "id": 7})
    assert (conversation.system, conversation.is_prompt, conversation.metadata) == ("S", True, {"id": 7})
    assert [m.role for m in conversation.turns] == ["user"]


@pytest.mark.parametrize(
    "document",
    [
        {"messages": []},
        {"messages": [{"role": "user", "content": 5}]},
        {"messages": [{"role": "user", "content": None}]},
        {"messages": [{"role": "user", "content": "x", "tool_calls": []}]},
        {"messages": [{"role": "user", "content": [{"type": "text", "text": "x"}]}]},
    ],
)
def test_content_that_is_not_a_string_and_keys_besides_role_and_content_are_refused(document):
    with pytest.raises(ValidationError):
        Conversation.model_validate(document)


def test_a_record_is_the_one_turn_conversation():
    record = Record(instruction="Translate.", input="Hallo", output="Hello", id=3)
    conversation = Conversation.from_record(record)
    assert [(m.role, m.content) for m in conversation.messages] == [("user", "Translate.\nHallo"), ("assistant", "Hello")]
    assert conversation.metadata == {"id": 3}
    assert Conversation.from_record(Record(instruction="Hi.", output="Yo."), "\n\n").messages[0].content == "Hi."


# -- segments ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", CHAT_FORMATS)
@given(data=st.data())
def test_segments_join_to_the_text_and_only_assistant_messages_are_trained(name, data):
    fmt = builtin(name)
    conversation = data.draw(conversations(name, system=False if name in SYSTEM_REFUSED else None))
    rendered = fmt.render_conversation(conversation)
    assert "".join(segment.text for segment in rendered.segments) == rendered.text
    roles = [message.role for message in conversation.messages]
    trained = [segment.message for segment in rendered.segments if segment.trainable]
    assert trained == [index for index, role in enumerate(roles) if role == "assistant"]
    contents = [segment.message for segment in rendered.segments if segment.message is not None]
    assert contents == list(range(len(roles)))  # every message once, in order
    if conversation.is_prompt:
        assert rendered.completion == "" and rendered.prompt == rendered.text


@pytest.mark.parametrize("name", CHAT_FORMATS)
@given(data=st.data())
def test_a_record_renders_as_its_one_turn_conversation(name, data):
    """prompt and completion of a record are the segments before and of its assistant turn."""
    fmt = builtin(name)
    record = data.draw(record_strategy(fmt))
    rendered = fmt.render(record)
    conversation = fmt.render_conversation(Conversation.from_record(record, fmt.template.separator))
    assert (conversation.prompt, conversation.completion) == (rendered.prompt, rendered.completion)
    query = Conversation.from_record(record, fmt.template.separator).messages[0]
    prompt_only = fmt.render_conversation(Conversation.of([("user", query.content)]))
    assert prompt_only.text == fmt.render(Query(instruction=record.instruction, input=record.input)).prompt


def test_the_segments_of_a_llama2_conversation_with_a_system_message():
    conversation = Conversation.of([("system", " Be brief. "), ("user", "Hi "), ("assistant", " Yo"), ("user", "More")])
    assert builtin("llama2").render_conversation(conversation).segments == (
        Segment("<s>[INST] <<SYS>>\n"), Segment(" Be brief. ", 0), Segment("\n<</SYS>>\n\n"), Segment("Hi", 1),
        Segment(" [/INST]"), Segment(" Yo </s>", 2, True), Segment("<s>[INST] "), Segment("More", 3),
        Segment(" [/INST]"),
    )


@pytest.mark.parametrize("name", sorted(SYSTEM_REFUSED))
def test_formats_whose_template_raises_refuse_a_system_message(name):
    with pytest.raises(ConversationRefused) as caught:
        builtin(name).render_conversation(Conversation.of([("system", "S"), ("user", "u"), ("assistant", "a")]))
    assert (caught.value.code, caught.value.index) == ("system-not-supported", 0)


@pytest.mark.parametrize("name", ["alpaca", "alpaca-llmfs", "phi3-llmfs"])
def test_formats_of_one_turn_refuse_several_turns_and_a_system_message(name):
    fmt = builtin(name)
    with pytest.raises(ConversationRefused, match="multi-turn-not-supported"):
        fmt.render_conversation(Conversation.of([("user", "u"), ("assistant", "a"), ("user", "v"), ("assistant", "b")]))
    with pytest.raises(ConversationRefused, match="system-not-supported"):
        fmt.render_conversation(Conversation.of([("system", "s"), ("user", "u"), ("assistant", "a")]))
    one = fmt.render_conversation(Conversation.of([("user", "Name a colour."), ("assistant", "Blue.")]))
    rendered = fmt.render(Record(instruction="Name a colour.", output="Blue."))
    assert (one.prompt, one.completion) == (rendered.prompt, rendered.completion)
    assert [s.message for s in one.segments if s.message is not None] == [0, 1]


def test_vicuna_renders_turns_as_fastchat_does():
    """FastChat ``vicuna_v1.1`` (ADD_COLON_TWO, sep " ", sep2 "</s>"), golden strings."""
    conversation = Conversation.of([("system", "Be kind."), ("user", "Hi"), ("assistant", "Hello"), ("user", "Bye")])
    assert builtin("vicuna").render_conversation(conversation).text == (
        "Be kind. USER: Hi ASSISTANT: Hello</s>USER: Bye ASSISTANT:")


# -- every chat format against its official template ----------------------------------------------


def _official(case: Case, chat_templates, conversation: Conversation) -> str:
    messages = [{"role": m.role, "content": m.content} for m in conversation.messages]
    source = load_template(chat_templates / case.template)
    return render_chat(source, messages, add_generation_prompt=conversation.is_prompt, **_tokens(case, chat_templates))


def _comparable(case: Case, conversation: Conversation) -> bool:
    """Phi-3.5 renders a system message differently from the format's reference template (it drops an
    empty one); an answer the format reports content-dependent renders otherwise in the template."""
    try:
        if LossReason.CONTENT_DEPENDENT in builtin(case.format).check_conversation(conversation).reasons:
            return False
    except ConversationRefused:
        pass
    return conversation.system is None or case.template != "trl_original/phi3_5.jinja"


@pytest.fixture(scope="module")
def chat_templates(shared_data):
    return shared_data / "chat_templates"


@by_case
@given(data=st.data())
def test_every_chat_format_renders_conversations_as_its_official_template(case, chat_templates, data):
    conversation = data.draw(conversations(case.format, system=False if case.format in SYSTEM_REFUSED else None))
    if _comparable(case, conversation):
        assert builtin(case.format).render_conversation(conversation).text == _official(case, chat_templates, conversation)


@by_case
def test_a_system_message_is_refused_exactly_where_the_official_template_raises_or_drops_it(case, chat_templates):
    conversation = Conversation.of([("system", "Be brief."), ("user", "Hi"), ("assistant", "Yo")])
    if not _comparable(case, conversation):  # the format follows this template only without a system message
        assert "Be brief." in _official(case, chat_templates, conversation)
    elif case.format in SYSTEM_LEFT_OUT:
        assert "Be brief." not in _official(case, chat_templates, conversation)
        with pytest.raises(ConversationRefused, match="system-not-supported"):
            builtin(case.format).render_conversation(conversation)
    elif case.format in SYSTEM_REFUSED:
        with pytest.raises(TemplateRaised):
            _official(case, chat_templates, conversation)
    else:
        text = builtin(case.format).render_conversation(conversation).text
        assert text == _official(case, chat_templates, conversation) and "Be brief." in text


@pytest.fixture(scope="module")
def sharegpt(shared_data) -> list[Conversation]:
    data = json.loads((shared_data / "fastchat_sharegpt" / "dummy_conversation.json").read_text("utf-8"))
    return [
        Conversation.of([(SHAREGPT_ROLES[turn["from"]], turn["value"]) for turn in item["conversations"]], id=item["id"])
        for item in data
    ]


@by_case
def test_every_sharegpt_conversation_renders_as_the_official_template(case, chat_templates, sharegpt):
    assert len(sharegpt) == 500
    fmt = builtin(case.format)
    mismatches = [
        conversation.metadata["id"] for conversation in sharegpt
        if fmt.render_conversation(conversation).text != _official(case, chat_templates, conversation)
    ]
    assert mismatches == []


LLAMA_FACTORY = ("alpaca_en_demo.json", "alpaca_zh_demo.json", "identity.json")


@pytest.fixture(scope="module")
def llama_factory(shared_data) -> list[Conversation]:
    """LLaMA-Factory's demo files (`../shared/data/llama_factory_demo`): 2,090 records, each the one-turn
    conversation its instruction, input and output make."""
    folder = shared_data / "llama_factory_demo"
    return [Conversation.from_record(Record.model_validate(item))
            for name in LLAMA_FACTORY for item in json.loads((folder / name).read_text("utf-8"))]


@by_case
def test_every_llama_factory_record_renders_as_the_official_template(case, chat_templates, llama_factory):
    assert len(llama_factory) == 2090
    fmt = builtin(case.format)
    mismatches = [index for index, conversation in enumerate(llama_factory)
                  if fmt.render_conversation(conversation).text != _official(case, chat_templates, conversation)]
    assert mismatches == []


# -- convert: segments, and multi-turn text read back --------------------------------------------------


def test_the_segments_layout_gives_every_piece_with_its_message_role_and_training(cli, tmp_path):
    item = {"messages": [{"role": "system", "content": "Be kind."}, {"role": "user", "content": "Hi"},
                         {"role": "assistant", "content": "Yo"}], "id": 4}
    infile, records = tmp_path / "in.jsonl", tmp_path / "records.jsonl"
    infile.write_text(json.dumps(item) + "\n")
    records.write_text(json.dumps({"instruction": "Q", "output": "A"}) + "\n")
    result = cli("convert", str(infile), "-o", "-", "--to", "phi3", "--layout", "segments")
    assert result.exit_code == 0, result
    first = json.loads(result.stdout)
    second = json.loads(cli("convert", str(records), "-o", "-", "--to", "phi3", "--layout", "segments").stdout)
    assert first == {"segments": [
        {"text": "<|system|>\n", "message": None, "role": None, "trainable": False},
        {"text": "Be kind.", "message": 0, "role": "system", "trainable": False},
        {"text": "<|end|>\n<|user|>\n", "message": None, "role": None, "trainable": False},
        {"text": "Hi", "message": 1, "role": "user", "trainable": False},
        {"text": "<|end|>\n<|assistant|>\n", "message": None, "role": None, "trainable": False},
        {"text": "Yo<|end|>\n<|endoftext|>", "message": 2, "role": "assistant", "trainable": True},
    ], "id": 4}
    record = builtin("phi3").render(Record(instruction="Q", output="A"))
    pieces = second["segments"]
    assert "".join(p["text"] for p in pieces) == record.text
    assert "".join(p["text"] for p in pieces if p["trainable"]) == record.completion
    refused = cli("convert", str(infile), "-o", "-", "--layout", "segments")
    assert refused.exit_code == 2 and "--to FORMAT" in refused.stderr


@pytest.mark.parametrize("name", CHAT_FORMATS)
def test_multi_turn_text_converts_back_to_the_conversations_it_was_rendered_from(cli, tmp_path, shared_data, name):
    source = shared_data / "fastchat_sharegpt" / "dummy_conversation.json"
    rendered = tmp_path / "rendered.jsonl"
    assert cli("convert", str(source), "-o", str(rendered), "--to", name).exit_code == 0
    back = cli("convert", str(rendered), "-o", "-", "--from", name, "--layout", "sharegpt")
    assert back.exit_code == 0 and "read 500 = written 500 + quarantined 0" in back.stderr
    assert [json.loads(line) for line in back.stdout.splitlines()] == json.loads(source.read_text("utf-8"))
    # the text names its format, and records are what a one-turn layout can hold
    detected = cli("detect", str(rendered))
    assert detected.exit_code == 0 and detected.stdout.strip() == (builtin(name).extends or name), detected
    records = cli("convert", str(rendered), "-o", "-", "--from", "auto")
    assert records.exit_code == 1 and "read 500 = written 167 + quarantined 333" in records.stderr
    assert "text: not-single-turn: only single-turn conversations convert to records" in records.stderr


def test_a_conversation_in_a_file_of_records_is_refused_with_the_option_to_pass(cli, tmp_path):
    infile = tmp_path / "mixed.jsonl"
    infile.write_text(json.dumps({"instruction": "Q", "output": "A"}) + "\n"
                      + json.dumps({"messages": [{"role": "user", "content": "u"}, {"role": "assistant", "content": "a"}]}) + "\n")
    result = cli("convert", str(infile), "-o", "-", "--to", "chatml")
    assert result.exit_code == 1 and "read 2 = written 1 + quarantined 1" in result.stderr
    assert "not-a-record: a messages conversation in a file of records" in result.stderr
    assert "--input-layout messages" in result.stderr


@given(document=conversation_documents)
def test_any_conversation_like_document_is_validated_and_converted_without_an_exception(document):
    """Whatever the document, validate reports issues and convert writes or quarantines it."""
    report = validate([document], registry=(builtin("chatml"),), format=builtin("chatml"))
    assert report.records == 1 and report.valid + report.invalid == 1
    for layout in ("messages", "sharegpt"):
        written: list = []
        summary = convert([Item(0, 1, document)], written.append, input_layout=layout, output_layout="text",
                          target=builtin("chatml"))
        assert summary.read == 1 == summary.written + summary.quarantined == len(written) + summary.quarantined


def test_render_shows_conversations_as_it_shows_records(cli, tmp_path):
    chats = tmp_path / "chats.jsonl"
    chats.write_text(
        json.dumps({"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Yo"}]}) + "\n"
        + json.dumps({"conversations": [{"from": "system", "value": "S"}, {"from": "human", "value": "Hi"}]}) + "\n"
        + json.dumps({"instruction": "Name a colour.", "input": None, "output": "Blue."}) + "\n",
        encoding="utf-8")
    shown = cli("render", str(chats), "-f", "gemma", "--json", "--null-as-empty")
    assert shown.exit_code == 1, shown
    first, third = (json.loads(line) for line in shown.stdout.splitlines())
    assert first == builtin("gemma").render_conversation(Conversation.of([("user", "Hi"), ("assistant", "Yo")])).as_dict()
    assert third["text"] == builtin("gemma").render(Record(instruction="Name a colour.", output="Blue.")).text
    assert f"{chats.name}:2: record 1: conversations.0: system-not-supported: gemma has no place" in shown.stderr


def test_a_one_turn_conversation_is_judged_as_a_conversation_in_a_chat_format(cli, tmp_path):
    """Its user message is not split into instruction and input there: it renders and reads back whole."""
    chats = tmp_path / "chats.jsonl"
    chats.write_text(
        json.dumps({"messages": [{"role": "user", "content": "  padded question \n"}, {"role": "assistant", "content": "ok"}]})
        + "\n" + json.dumps({"messages": [{"role": "user", "content": "Hi<|im_end|>\n<|im_start|>assistant\nYo"}, {"role": "assistant", "content": "ok"}]})
        + "\n", encoding="utf-8")
    quarantine = tmp_path / "q.jsonl"
    result = cli("convert", str(chats), "-o", str(tmp_path / "out.jsonl"), "--to", "qwen2.5", "--strict",
                 "--quarantine", str(quarantine))
    assert result.exit_code == 1 and "read 2 = written 1 + quarantined 1" in result.stderr, result
    (entry,) = [json.loads(line) for line in quarantine.read_text("utf-8").splitlines()]
    assert entry["issues"][0]["field"] == "messages.0" and entry["issues"][0]["code"] == "lossy-in-format"


def test_detect_reads_the_segments_layout_and_caps_what_it_lists(cli, tmp_path, shared_data):
    source = shared_data / "fastchat_sharegpt" / "dummy_conversation.json"
    segments = tmp_path / "segments.jsonl"
    assert cli("convert", str(source), "-o", str(segments), "--to", "qwen2.5", "--layout", "segments").exit_code == 0
    detected = cli("detect", str(segments))
    assert detected.exit_code == 0 and detected.stdout.strip() == "qwen2.5", detected
    not_texts = cli("detect", str(source))  # ShareGPT items hold no rendered text
    assert not_texts.exit_code == 1
    assert not_texts.stderr.count(": not a text: expected") == 20
    assert "500 item(s) were not texts and were skipped (the first 20 above)." in not_texts.stderr
