"""``promptfmt import-template``: every reference chat template, imported exactly or refused with the reason.

The templates are read at test time from ``../shared/data/chat_templates`` (SOURCE.md there says
where each comes from); chujiezheng's files are flattened first as their README says, except
``qwen2.5-instruct.jinja``, which must be used as is. Special tokens: the model's own where the
family is known (SOURCE.md), ``<s>``/``</s>`` otherwise (the token text does not decide whether a
template imports).

The expected table below was written from running the importer and reading each refused template:

* ollama 13 (CodeLlama-70B): every rendering ends with ``Source: assistant\\nDestination: user\\n\\n ``,
  also after the assistant message, so the prompt is not the start of the training text.
* ollama 27 (alfred): ``.strip()`` on the user and system messages but not on the assistant message.
* ollama 35 (SOLAR): nothing follows the output and the prompt ends right where the output starts, so
  a prompt alone could not be told from a text with an empty output.
* chujiezheng falcon-instruct: ``content.replace('\\r\\n', '\\n').replace('\\n\\n', '\\n')`` changes the
  content (caught by the verification on generated records).
"""

from __future__ import annotations

import json
from functools import cache

import pytest

from promptfmt import FormatDefinitionError, LossReason, Query, Record
from promptfmt.conversation import Conversation, ConversationRefused
from promptfmt.templating import ChatTurns
from promptfmt.templating.declarative import parse_format_text
from promptfmt.templating.importer import (
    ChatTemplate,
    MissingTokensError,
    TemplateImportError,
    import_chat_template,
    load_chat_template,
    verification_records,
)
from promptfmt.templating.verification import verification_conversations
from promptfmt.testing import (
    FormatConformance,
    prop_conversation_matches_chat_template,
    prop_conversation_round_trip,
    prop_matches_chat_template,
)

from .helpers import COURSE, builtin, shared_data_folder

EXACT = "exact"

# file (relative to chat_templates/) -> "exact" or a piece of the refusal reason
EXPECTED: dict[str, str] = {
    "trl_original/gemma.jinja": EXACT,
    "trl_original/llama3.jinja": EXACT,
    "trl_original/phi3.jinja": EXACT,
    "trl_original/phi3_5.jinja": EXACT,
    "trl_original/qwen2_5.jinja": EXACT,
    **{f"ollama/extracted/{name}.jinja": EXACT for name in (
        "00_chatml", "01_chatml", "02_zephyr", "03_chatml", "04_openchat", "05_chatml", "06_chatml", "07_chatml",
        "08_chatml", "09_zephyr", "10_mistral-instruct", "11_starcoder2-instruct", "12_llama2-chat",
        "14_mistral-instruct", "15_chatml", "16_chatml", "17_chatml", "18_chatml", "19_alpaca", "20_chatqa",
        "21_gemma-instruct", "22_gemma3-instruct", "23_llama3-instruct", "24_llama3-instruct", "25_granite-instruct",
        "26_magicoder", "28_llama2-chat", "29_phi-3", "30_phi-3", "31_phi-3", "32_chatqa", "33_falcon-instruct",
        "34_falcon-instruct", "35_solar-instruct", "36_command-r",
    )},
    "ollama/extracted/13_codellama-70b-instruct.jinja": "the prompt is not the start of the training text",
    "ollama/extracted/27_alfred.jinja": "strips whitespace around the user message but not around the output",
    **{f"chujiezheng/chat_templates/{name}.jinja": EXACT for name in (
        "alpaca", "amberchat", "chatml", "chatqa", "gemma-it", "granite-3.0-instruct", "llama-2-chat",
        "llama-3-instruct", "mistral-instruct", "openchat-3.5", "phi-3-small", "phi-3", "qwen2.5-instruct", "saiga",
        "solar-instruct", "vicuna", "zephyr",
    )},
    "chujiezheng/chat_templates/falcon-instruct.jinja": "verification failed: the template renders some records differently",
    "tokenizer_configs/torchtune_tokenizer_config_gemma.json": EXACT,
    # current/: templates of today's model families (their import is the subject of later work)
    "current/mistral-nemo-instruct-2407.jinja": EXACT,
    "current/phi-4.jinja": EXACT,
    "current/llama-3.2-3b-instruct.jinja": "the training text changes with the date",
    "current/qwen3-0.6b.jinja": "the template is content-dependent: content holding",
    "current/smollm3-3b.jinja": "verification failed: the template renders some records differently",
}

# How each exact import renders conversations: its system placement ("turn" unless listed), the
# placement "refused" with a piece of the reason, or "one turn" with a piece of the reason.
SYSTEM_RAISES = "refused: the template raises for a system message"
SYSTEM_LEFT_OUT = "refused: the template leaves a system message out"
TURNS: dict[str, str] = {
    "chujiezheng/chat_templates/gemma-it.jinja": "first-user",
    "chujiezheng/chat_templates/llama-2-chat.jinja": "first-user",
    "ollama/extracted/12_llama2-chat.jinja": "first-user",
    "ollama/extracted/28_llama2-chat.jinja": "first-user",
    **dict.fromkeys((
        "ollama/extracted/10_mistral-instruct.jinja", "ollama/extracted/11_starcoder2-instruct.jinja",
        "ollama/extracted/14_mistral-instruct.jinja", "ollama/extracted/21_gemma-instruct.jinja",
        "ollama/extracted/26_magicoder.jinja", "tokenizer_configs/torchtune_tokenizer_config_gemma.json",
        "trl_original/gemma.jinja"), SYSTEM_RAISES),
    # Mistral-Nemo puts the system message into the last user message only when it ends the conversation
    **dict.fromkeys((
        "current/mistral-nemo-instruct-2407.jinja", "ollama/extracted/09_zephyr.jinja",
        "ollama/extracted/29_phi-3.jinja", "ollama/extracted/30_phi-3.jinja", "ollama/extracted/32_chatqa.jinja"),
        SYSTEM_LEFT_OUT),
    # Gemma 3 strips the user message but not the system text before it (first_user_trim = "content")
    "ollama/extracted/22_gemma3-instruct.jinja": "first-user",
    # Phi-3.5 and SOLAR drop an empty system message
    "trl_original/phi3_5.jinja": "refused: no placement promptfmt can describe reproduces it",
    "ollama/extracted/35_solar-instruct.jinja": "refused: no placement promptfmt can describe reproduces it",
    # a newline between turns but none after the last answer
    "ollama/extracted/34_falcon-instruct.jinja": "one turn: the text between two turns ('\\nUser: ')",
}

# Special-token texts of the known families (SOURCE.md); others get <s> and </s>.
TOKENS: dict[str, dict[str, str]] = {
    "llama3": {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>"},
    "gemma": {"bos_token": "<bos>", "eos_token": "<eos>"},
    "phi3": {"bos_token": "<s>", "eos_token": "<|endoftext|>"},
}
FAMILY = {
    "trl_original/llama3.jinja": "llama3", "ollama/extracted/23_llama3-instruct.jinja": "llama3",
    "ollama/extracted/24_llama3-instruct.jinja": "llama3", "trl_original/gemma.jinja": "gemma",
    "ollama/extracted/21_gemma-instruct.jinja": "gemma", "ollama/extracted/22_gemma3-instruct.jinja": "gemma",
    "trl_original/phi3.jinja": "phi3", "trl_original/phi3_5.jinja": "phi3",
}

# Imported templates that are also built-in formats: the two must render every record alike.
SAME_AS_BUILTIN = {
    "trl_original/phi3.jinja": "phi3",
    "ollama/extracted/06_chatml.jinja": "chatml",
    "ollama/extracted/07_chatml.jinja": "qwen2",
    "trl_original/qwen2_5.jinja": "qwen2.5",
    "ollama/extracted/12_llama2-chat.jinja": "llama2",
    "ollama/extracted/28_llama2-chat.jinja": "llama2",
    "trl_original/llama3.jinja": "llama3",
    "ollama/extracted/24_llama3-instruct.jinja": "llama3.1",
    "ollama/extracted/10_mistral-instruct.jinja": "mistral",
    "ollama/extracted/14_mistral-instruct.jinja": "mistral-v0.1",
    "ollama/extracted/02_zephyr.jinja": "zephyr",
    "trl_original/gemma.jinja": "gemma",
    "tokenizer_configs/torchtune_tokenizer_config_gemma.json": "gemma",
    "ollama/extracted/22_gemma3-instruct.jinja": "gemma3",
    "current/phi-4.jinja": "phi4",
    "current/mistral-nemo-instruct-2407.jinja": "mistral-nemo",
}


def chat_template(relative: str) -> ChatTemplate:
    """The shared template ``relative`` (to chat_templates/), read as the test of its import reads it.

    The shared data comes through the one helper of the suite (skip locally, fail under CI when it
    is missing); a file missing from it is an error, as in `test_the_table_covers_every_shared_template`.
    """
    path = shared_data_folder() / "chat_templates" / relative
    if relative.endswith(".json"):
        return load_chat_template(path)
    source = path.read_text("utf-8")
    if relative.startswith("chujiezheng/") and "qwen2.5" not in relative:
        source = source.replace("    ", "").replace("\n", "")  # as the chujiezheng README says
    tokens = TOKENS.get(FAMILY.get(relative, ""), {"bos_token": "<s>", "eos_token": "</s>"})
    return ChatTemplate(source, tokens, path.name)


def test_the_table_covers_every_shared_template(shared_data):
    found = {
        str(path.relative_to(shared_data / "chat_templates"))
        for pattern in ("*/*.jinja", "*/*/*.jinja", "tokenizer_configs/*.json")
        for path in (shared_data / "chat_templates").glob(pattern)
    }
    assert found == set(EXPECTED)
    assert sum(1 for outcome in EXPECTED.values() if outcome == EXACT) == 60
    assert len(EXPECTED) == 66


@pytest.mark.parametrize("relative", sorted(EXPECTED))
def test_import_is_exact_or_refused_with_the_reason(relative, shared_data):
    template = chat_template(relative)
    expected = EXPECTED[relative]
    if expected != EXACT:
        with pytest.raises(TemplateImportError) as caught:
            import_chat_template(template, name="imported")
        assert expected in caught.value.reason
        assert str(caught.value).startswith(f"cannot import {template.origin} as a declarative format: ")
        return
    result = import_chat_template(template, name="imported")
    assert result.records_checked == 64
    # the TOML the command writes describes the very same format
    fmt = parse_format_text(result.toml(), source=relative)
    assert fmt.template == result.format.template and fmt.turns == result.format.turns
    for record in verification_records(fmt, 16, seed=1):
        prop_matches_chat_template(fmt, template, record)
    outcome, _, reason = TURNS.get(relative, "turn").partition(": ")
    if outcome == "one turn":
        assert fmt.turns is None and result.conversations_checked == 0
        assert any(note.startswith("one turn only: " + reason) for note in result.notes), result.notes
    else:
        assert fmt.turns is not None and fmt.turns.system == outcome and result.conversations_checked == 48
        assert not reason or any(reason in note for note in result.notes), result.notes
    for conversation in verification_conversations(24, seed=1, markup=fmt.markers):
        prop_conversation_matches_chat_template(fmt, template, conversation)
        prop_conversation_round_trip(fmt, conversation)


ALPACA_CLEANED = ("gpteacher_roleplay-simple-deduped-roleplay-dataset.json", "gpteacher_toolformer-dedupe-only-dataset.json",
                  "gsm_8k_train.json")


@cache
def real_records() -> tuple[Record, ...]:
    """The 1,100 course records and the first 200 of each alpaca_data_cleaned file (see their SOURCE.md)."""
    folder = shared_data_folder()
    course = json.loads((folder / COURSE).read_text("utf-8"))
    cleaned = [item for name in ALPACA_CLEANED
               for item in json.loads((folder / "alpaca_data_cleaned" / name).read_text("utf-8"))[:200]]
    return tuple(Record(instruction=e["instruction"], input=e["input"], output=e["output"]) for e in course + cleaned)


@pytest.mark.parametrize("relative", sorted(name for name, outcome in EXPECTED.items() if outcome == EXACT))
def test_every_exact_import_renders_the_real_records_as_the_template(relative, shared_data):
    template = chat_template(relative)
    fmt = import_chat_template(template, name="imported").format
    records = real_records()
    assert len(records) == 1700
    for record in records:
        prop_matches_chat_template(fmt, template, record)


@pytest.mark.parametrize("relative", sorted(SAME_AS_BUILTIN))
def test_imported_templates_agree_with_the_builtin_formats(relative, shared_data):
    """Two independent derivations of the same template: the importer's and the built-in format's."""
    imported = import_chat_template(chat_template(relative), name="imported").format
    expected = builtin(SAME_AS_BUILTIN[relative])
    for record in verification_records(imported, 64, seed=2):
        assert imported.render(record) == expected.render(record), record
    for conversation in verification_conversations(48, seed=2, markup=expected.markers):
        assert _rendered(imported, conversation) == _rendered(expected, conversation), conversation


def _rendered(fmt, conversation):
    """The segments of ``conversation``, or the refusal's code."""
    try:
        return fmt.render_conversation(conversation).segments
    except ConversationRefused as refused:
        return refused.code


def test_pieces_of_a_template_with_a_default_system_prompt(shared_data):
    result = import_chat_template(chat_template("trl_original/qwen2_5.jinja"), name="qwen")
    t, turns = result.format.template, result.format.turns
    default = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."
    assert t.prefix == f"<|im_start|>system\n{default}<|im_end|>\n<|im_start|>user\n"
    assert (t.separator, t.prompt_suffix, t.response_prefix, t.end) == ("\n", "<|im_end|>\n<|im_start|>assistant\n", "", "<|im_end|>\n")
    assert (t.chat, t.trim, t.trim_output) == (True, False, False)
    assert turns == ChatTurns(
        user_prefix="<|im_start|>user\n", user_suffix="<|im_end|>\n", generation_prompt="<|im_start|>assistant\n",
        turn_end="<|im_end|>\n", system_prefix="<|im_start|>system\n", system_suffix="<|im_end|>\n",
        default_system=default,
    )
    assert f'default_system = "{default}"' in result.toml()


def test_the_pieces_between_turns_are_cut_where_the_template_writes_them(shared_data):
    """Several cuts of ``<|end|>\\n<|user|>\\n`` render alike; the one outside a tag is taken, and an
    end-of-text the template writes after the last message only is the final text."""
    turns = import_chat_template(chat_template("trl_original/phi3.jinja"), name="phi").format.turns
    assert (turns.user_prefix, turns.user_suffix, turns.generation_prompt) == ("<|user|>\n", "<|end|>\n", "<|assistant|>\n")
    assert (turns.turn_end, turns.final, turns.system_prefix) == ("<|end|>\n", "<|endoftext|>", "<|system|>\n")
    llama3 = import_chat_template(chat_template("trl_original/llama3.jinja"), name="l3").format.turns
    assert (llama3.bos, llama3.turn_end) == ("<|begin_of_text|>", "<|eot_id|>")


def test_a_system_text_the_template_strips_on_its_own(shared_data):
    """OpenChat 3.5 strips the system message and nothing else; Command-R strips every message but it."""
    openchat = import_chat_template(chat_template("chujiezheng/chat_templates/openchat-3.5.jinja"), name="o").format
    command_r = import_chat_template(chat_template("ollama/extracted/36_command-r.jinja"), name="c").format
    assert (openchat.turns.trim, openchat.turns.trim_system) == (False, True)
    assert (command_r.turns.trim, command_r.turns.trim_system) == (True, False)
    padded = Conversation.of([("system", " Be brief. "), ("user", "Hi"), ("assistant", "Hello")])
    assert "<s> Be brief. " not in openchat.render_conversation(padded).text
    assert openchat.check_conversation(padded).losses[0].field == "messages.0"
    assert "<|SYSTEM_TOKEN|> Be brief. <|END_OF_TURN_TOKEN|>" in command_r.render_conversation(padded).text
    assert command_r.check_conversation(padded).lossless


def test_trimming_templates_import_with_trim_and_a_note(shared_data):
    result = import_chat_template(chat_template("ollama/extracted/28_llama2-chat.jinja"), name="l2")
    t = result.format.template
    assert (t.prefix, t.prompt_suffix, t.response_prefix, t.end, t.trim) == ("<s>[INST] ", " [/INST]", " ", " </s>", True)
    assert any("strips surrounding whitespace" in note for note in result.notes)


# -- refusals that no shared template triggers, on small templates written here ---------------------

USER_ASSISTANT = "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}<|end|>{% endfor %}{% if add_generation_prompt %}<|assistant|>{% endif %}"


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        (
            "{% if messages[0]['role'] != 'system' %}{{ raise_exception('A system message is required') }}{% endif %}" + USER_ASSISTANT,
            "the template refuses the conversation user/assistant: it raised 'A system message is required'",
        ),
        (USER_ASSISTANT.replace("m['content']", "m['content'] | upper"), "the user message is not rendered verbatim"),
        (USER_ASSISTANT.replace("m['content']", "m['content'].replace('\\n', ' ')"), "the user message is changed around the separator '\\n'"),
        (USER_ASSISTANT.replace("m['content']", "m['content'] + m['content']"), "the user message appears 2 times"),
        ("{{ strftime_now('%d %b %Y') }}" + USER_ASSISTANT, "changes with the date (the template calls strftime_now)"),
        ("{{ ''.__class__.__mro__[1].__subclasses__() }}" + USER_ASSISTANT, "the sandbox blocked an unsafe operation"),
        ("{% for m in messages %}{{ m['content'] }}", "not a valid Jinja template: line 1:"),
        ("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}" + USER_ASSISTANT, "the template failed to render: RecursionError"),
        (USER_ASSISTANT.replace("m['content']", "m['content'] | trim", 1).replace(
            "<|{{ m['role'] }}|>{{ m['content'] | trim }}", "<|{{ m['role'] }}|>{{ m['content'] | trim if m['role'] == 'user' else m['content'] }}"),
         "strips whitespace around the user message but not around the output"),
        ("{% for m in messages %}{{ m['content'] }}{% endfor %}", "its literal pieces do not make a usable format"),
        (USER_ASSISTANT.replace("{% endfor %}", "{% if '##' in m['content'] %}(hash){% endif %}{% endfor %}"),
         "verification failed: the template renders some records differently from its literal pieces (the template "
         "is content-dependent: content holding '##' renders otherwise"),
    ],
)
def test_templates_that_cannot_be_expressed_are_refused_with_the_reason(source, reason):
    with pytest.raises(TemplateImportError) as caught:
        import_chat_template(ChatTemplate(source, {}, "t.jinja"), name="t")
    assert reason in caught.value.reason, caught.value.reason


SYSTEM_TURN = "{% if messages[0]['role'] == 'system' %}<|system|>{{ messages[0]['content'] }}<|end|>{% endif %}"
TURN = "<|{{ m['role'] }}|>{{ m['content'] }}<|end|>"
LOOP = "{% for m in messages %}{% if m['role'] != 'system' %}" + TURN + "{% endif %}{% endfor %}"
PROMPT = "{% if add_generation_prompt %}<|assistant|>{% endif %}"


@pytest.mark.parametrize(
    ("source", "system", "note"),
    [
        (SYSTEM_TURN + LOOP + PROMPT, "turn", "conversations of any length: a system message goes its own turn"),
        ("{% if messages[0]['role'] != 'system' %}<|system|>Be kind.<|end|>{% endif %}" + USER_ASSISTANT.replace(
            "{% for m in messages %}", "{% for m in messages %}{% if m['role'] == 'system' %}<|system|>{{ m['content'] }}<|end|>{% continue %}{% endif %}"),
         "turn", "the template's default system text 'Be kind.' is rendered when a conversation has none"),
        (LOOP + PROMPT, "refused", "system messages are refused (system-not-supported): the template leaves a system message out"),
        ("{% if messages[0]['role'] == 'system' %}{{ raise_exception('no system') }}{% endif %}" + LOOP + PROMPT,
         "refused", "the template raises for a system message (the template refuses the conversation system/user/assistant: it raised 'no system')"),
        (SYSTEM_TURN.replace("messages[0]['content']", "messages[0]['content'] | upper") + LOOP + PROMPT,
         "refused", "the template leaves a system message out, or changes its text"),
        (SYSTEM_TURN.replace("<|end|>", "<|end|>{% if messages|length > 3 %}!{% endif %}", 1) + LOOP + PROMPT,
         "refused", "no placement promptfmt can describe reproduces it"),
        ("{% for m in messages %}{% if m['role'] != 'system' %}{% if m['role'] == 'user' and not loop.first %}{{ '\\n' }}{% endif %}" + TURN
         + "{% endif %}{% endfor %}" + PROMPT, None, "one turn only: the text between two turns ('<|end|>\\n<|user|>')"),
        ("{% for m in messages %}{% if loop.index0 < 2 %}" + TURN + "{% else %}[" + TURN + "]{% endif %}{% endfor %}" + PROMPT,
         None, "one turn only: the second turn does not render like the first"),
    ],
    ids=["system-turn", "default-system", "system-left-out", "system-raises", "system-changed", "system-varies",
         "between-turns",
         "second-turn"],
)
def test_turns_are_derived_or_the_note_says_why_not(source, system, note):
    result = import_chat_template(ChatTemplate(source, {}, "t.jinja"), name="t")
    assert any(note in n for n in result.notes), result.notes
    turns = result.format.turns
    assert (turns.system if turns else None) == system
    pairs = [("system", "S"), ("user", "U"), ("assistant", "A"), ("user", "V"), ("assistant", "B")]
    for conversation in (Conversation.of(pairs), Conversation.of(pairs[1:]), Conversation.of(pairs[:4])):
        prop_conversation_matches_chat_template(result.format, ChatTemplate(source, {}, "t.jinja"), conversation)


# -- templates with nothing after the answer (ChatGLM-4, MiniCPM, SOLAR) -------------------------------

CHATGLM_LIKE = ("[gMASK]<sop>{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}{% endfor %}"
                "{% if add_generation_prompt %}<|assistant|>\n{% endif %}")


def test_a_template_with_nothing_after_the_answer_imports_and_reads_a_bare_prompt_as_a_prompt():
    """A prompt and a text with an empty answer coincide: parse reads such a text as the prompt (a
    `Query`), and a record with an empty output is reported lossy (`empty-output`); validate refuses
    empty outputs anyway. Answers of a conversation end where the next user turn starts."""
    result = import_chat_template(ChatTemplate(CHATGLM_LIKE, {}, "glm.jinja"), name="glm")
    fmt = result.format
    assert (fmt.template.response_prefix, fmt.template.end) == ("", "")
    assert fmt.turns.user_prefix == "<|user|>\n" and fmt.turns.turn_end == ""
    empty = Record(instruction="Hi", output="")
    text = fmt.render(empty).text
    assert text == fmt.render(empty).prompt == "[gMASK]<sop><|user|>\nHi<|assistant|>\n"
    assert isinstance(fmt.parse(text), Query) and not isinstance(fmt.parse(text), Record)
    assert [loss.reason for loss in fmt.check(empty).losses] == [LossReason.EMPTY_OUTPUT]
    chat = Conversation.of([("user", "Hi"), ("assistant", "Yo"), ("user", "More"), ("assistant", "Sure")])
    assert fmt.parse_conversation(fmt.render_conversation(chat).text).messages == chat.messages
    assert fmt.check_conversation(chat).lossless
    ending_empty = Conversation.of([("user", "Hi"), ("assistant", "")])
    assert [loss.reason for loss in fmt.check_conversation(ending_empty).losses] == [LossReason.EMPTY_OUTPUT]


@cache
def imported_chatglm_like() -> object:
    return parse_format_text(import_chat_template(ChatTemplate(CHATGLM_LIKE, {}, "glm.jinja"), name="glm-like").toml())


class TestImportedChatglmLike(FormatConformance):
    """The whole kit on a format with nothing after the answer, and the template it came from."""

    @property
    def format(self):
        return imported_chatglm_like()

    chat_template = ChatTemplate(CHATGLM_LIKE, {}, "glm.jinja")


# -- ../shared/data/import_cases: each imports or is refused as its SOURCE.md says ------------------


def test_a_template_with_a_tools_turn_imports_without_it_as_transformers_passes_no_tools(shared_data):
    result = import_chat_template(load_chat_template(shared_data / "import_cases" / "tools.jinja"), name="t")
    assert result.format.template.prefix == "<|user|>" and "You may call tools" not in result.toml()
    assert result.format.turns.system == "turn"


def test_a_content_dependent_template_is_refused_with_the_text_that_triggers_it(shared_data):
    with pytest.raises(TemplateImportError) as caught:
        import_chat_template(load_chat_template(shared_data / "import_cases" / "think.jinja"), name="t")
    assert "the template is content-dependent: content holding '</think>' renders otherwise" in caught.value.reason


def test_a_template_that_skips_empty_messages_imports_and_reports_the_empty_case(shared_data):
    """Verification uses records validate accepts; how the template renders the others is a note."""
    result = import_chat_template(load_chat_template(shared_data / "import_cases" / "skip.jinja"), name="t")
    assert result.records_checked == 64 and result.format.template.end == "<|end|>"
    assert any(note.startswith("a record with an empty output renders differently in the template") for note in result.notes)
    # an empty system message is skipped too: the import refuses system messages rather than guess
    assert result.format.turns.system == "refused"


def test_the_sandbox_gives_the_context_of_apply_chat_template(tmp_path):
    """tools and documents none, every special token of a tokenizer config and its additional ones."""
    source = ("{% if tools is not none or documents is not none %}TOOLS{% endif %}{{ bos_token }}"
              "{{ additional_special_tokens[1] }}{% for m in messages %}{{ sep_token }}<|{{ m['role'] }}|>"
              "{{ m['content'] }}<|end|>{% endfor %}{% if add_generation_prompt %}{{ sep_token }}<|assistant|>{% endif %}")
    config = {"bos_token": "<B>", "sep_token": {"content": "<S>"}, "additional_special_tokens": ["<|gen|>", {"content": "<x>"}],
              "chat_template": source}
    path = tmp_path / "tokenizer_config.json"
    path.write_text(json.dumps(config), encoding="utf-8")
    template = load_chat_template(path)
    assert template.additional_special_tokens == ("<|gen|>", "<x>")
    t = import_chat_template(template, name="t").format.template
    assert (t.prefix, t.prompt_suffix, t.end) == ("<B><x><S><|user|>", "<|end|><S><|assistant|>", "<|end|>")


def test_a_missing_special_token_names_an_option_that_exists(cli, tmp_path):
    path = tmp_path / "t.jinja"
    path.write_text("{{ sep_token }}" + USER_ASSISTANT, encoding="utf-8")
    result = cli("import-template", str(path), "--name", "t")
    assert result.exit_code == 2 and "Pass --token sep_token=TEXT" in result.stderr, result
    given = cli("import-template", str(path), "--name", "t", "--token", "sep_token=<sep>")
    assert given.exit_code == 0 and 'bos = "<sep>"' in given.stdout, given


def test_template_variables_are_passed_and_recorded(cli, tmp_path, shared_data):
    llama = shared_data / "chat_templates" / "current" / "llama-3.2-3b-instruct.jinja"
    tokens = ("--bos-token", "<|begin_of_text|>", "--eos-token", "<|eot_id|>")
    refused = cli("import-template", str(llama), "--name", "l", *tokens)
    assert refused.exit_code == 1 and 'fix the date the template renders with --var date_string="26 Jul 2024"' in refused.stderr
    out = tmp_path / "l.toml"
    taken = cli("import-template", str(llama), "--name", "llama3.2", *tokens, "--var", "date_string=26 Jul 2024")
    assert taken.exit_code == 2 and "--name 'llama3.2' is already an alias of the format 'llama3.1'" in taken.stderr
    result = cli("import-template", str(llama), "--name", "my-llama", *tokens, "--var", "date_string=26 Jul 2024", "-o", str(out))
    assert result.exit_code == 0, result
    text = out.read_text("utf-8")
    assert '# Template variable: date_string = "26 Jul 2024"' in text
    assert 'rendered with date_string=\\"26 Jul 2024\\"' in text or 'rendered with date_string=\"26 Jul 2024\"' in text
    assert "Today Date: 26 Jul 2024" in text
    fmt = parse_format_text(text)
    official = ChatTemplate(llama.read_text("utf-8"), {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>"},
                            llama.name, {"date_string": "26 Jul 2024"})
    for conversation in verification_conversations(24, seed=3, markup=fmt.markers):
        prop_conversation_matches_chat_template(fmt, official, conversation)
    # JSON values: false, numbers and quoted text; a malformed option is a usage error
    source = tmp_path / "think.jinja"
    source.write_text("{% if enable_thinking is false %}NT{% endif %}" + USER_ASSISTANT, encoding="utf-8")
    off = cli("import-template", str(source), "--name", "t", "--var", "enable_thinking=false")
    assert off.exit_code == 0 and 'bos = "NT"' in off.stdout, off
    bad = cli("import-template", str(source), "--name", "t", "--var", "enable thinking")
    assert bad.exit_code == 2 and "--var 'enable thinking': write NAME=VALUE" in bad.stderr


def test_the_json_report_says_what_was_derived_or_why_not(cli, shared_data):
    template = shared_data / "chat_templates" / "trl_original" / "qwen2_5.jinja"
    report = json.loads(cli("import-template", str(template), "--name", "q", "--json").stdout)
    assert report["imported"] is True and report["table"] == "turns" and report["system"] == "turn"
    assert report["pieces"]["default_system"] == "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."
    assert (report["records_verified"], report["conversations_verified"]) == (64, 48)
    assert report["template"]["origin"] == "qwen2_5.jinja" and len(report["template"]["sha256"]) == 64
    refused = cli("import-template", str(shared_data / "import_cases" / "think.jinja"), "--name", "t", "--json")
    assert refused.exit_code == 1
    assert json.loads(refused.stdout)["code"] == "content-dependent"
    dated = cli("import-template", str(shared_data / "chat_templates" / "current" / "llama-3.2-3b-instruct.jinja"),
                "--name", "l", "--json")
    assert dated.exit_code == 2 and json.loads(dated.stdout)["code"] == "missing-tokens"


def test_a_system_turn_without_a_prefix_of_its_own_reads_back():
    """Vicuna-like: the system text opens the conversation bare; the user turn's own start tells it apart."""
    source = ("{{ bos_token }}{% for m in messages %}{% if m.role == 'system' %}{{ m.content }}\n\n"
              "{% elif m.role == 'user' %}USER: {{ m.content }}\n{% else %}ASSISTANT: {{ m.content }}</s>\n{% endif %}"
              "{% endfor %}{% if add_generation_prompt %}ASSISTANT: {% endif %}")
    fmt = import_chat_template(ChatTemplate(source, {"bos_token": "<s>", "eos_token": "</s>"}, "t.jinja"), name="t").format
    chat = Conversation.of([("system", "Be brief."), ("user", "Hi"), ("assistant", "Yo")])
    assert fmt.turns.system_prefix == "" and fmt.check_conversation(chat).lossless
    assert fmt.parse_conversation(fmt.render_conversation(chat).text).messages == chat.messages


def test_a_system_message_written_as_a_user_turn_is_not_taken_for_a_system_turn():
    """Its own turn would start like a user turn (system_prefix == user_prefix): that placement is refused
    by the pieces' rules, so the system message lands where a lossy verdict says so, never dropped unsaid."""
    source = ("{% for m in messages %}{% if m.role == 'assistant' %}<|assistant|>{{ m.content }}<|end|>"
              "{% else %}<|user|>{{ m.content }}<|end|>{% endif %}{% endfor %}"
              "{% if add_generation_prompt %}<|assistant|>{% endif %}")
    fmt = import_chat_template(ChatTemplate(source, {}, "t.jinja"), name="t").format
    assert (fmt.turns.system, fmt.turns.system_prefix) == ("first-user", "")
    chat = Conversation.of([("system", "Be brief."), ("user", "Hi"), ("assistant", "Yo")])
    assert fmt.render_conversation(chat).text == "<|user|>Be brief.<|end|><|user|>Hi<|end|><|assistant|>Yo<|end|>"
    assert fmt.check_conversation(chat).reasons == {LossReason.SYSTEM_UNMARKED}


def test_a_template_that_needs_tokens_says_which():
    with pytest.raises(MissingTokensError) as caught:
        import_chat_template(ChatTemplate("{{ bos_token }}" + USER_ASSISTANT + "{{ eos_token }}", {}, "t.jinja"), name="t")
    assert caught.value.tokens == ["bos_token", "eos_token"]
    assert "--bos-token TEXT --eos-token TEXT" in caught.value.reason


def test_generation_tag_and_loop_controls_are_understood():
    source = (
        "{% for m in messages %}{% if m['role'] == 'system' %}{% continue %}{% endif %}<|{{ m['role'] }}|>"
        "{% if m['role'] == 'assistant' %}{% generation %}{{ m['content'] }}{% endgeneration %}{% else %}{{ m['content'] }}{% endif %}"
        "<|end|>{% endfor %}{% if add_generation_prompt %}<|assistant|>{% endif %}"
    )
    t = import_chat_template(ChatTemplate(source, {}, "t.jinja"), name="t").format.template
    assert (t.prefix, t.prompt_suffix, t.end) == ("<|user|>", "<|end|><|assistant|>", "<|end|>")


def test_tokenizer_config_with_named_templates_and_token_objects(tmp_path):
    config = {
        "bos_token": {"__type": "AddedToken", "content": "<B>"},
        "eos_token": "<E>",
        "chat_template": [
            {"name": "default", "template": "{{ bos_token }}" + USER_ASSISTANT.replace("{% endif %}", "{% else %}{{ eos_token }}{% endif %}")},
            {"name": "tool_use", "template": "{{ raise_exception('tools only') }}"},
        ],
    }
    path = tmp_path / "tokenizer_config.json"
    path.write_text(json.dumps(config), encoding="utf-8")
    t = import_chat_template(load_chat_template(path), name="t").format.template
    assert t.prefix == "<B><|user|>" and t.end == "<|end|><E>"
    with pytest.raises(TemplateImportError, match="it raised 'tools only'"):
        import_chat_template(load_chat_template(path, template_name="tool_use"), name="t")
    with pytest.raises(TemplateImportError, match="no template named 'other'; pass --template-name, one of 'default', 'tool_use'"):
        load_chat_template(path, template_name="other")
    path.write_text(json.dumps({"eos_token": "x"}), encoding="utf-8")
    with pytest.raises(TemplateImportError, match="no chat_template key"):
        load_chat_template(path)


def test_bad_names_and_separators_are_usage_errors():
    template = ChatTemplate(USER_ASSISTANT, {}, "t.jinja")
    with pytest.raises(FormatDefinitionError, match="format name 'a b': may contain only"):
        import_chat_template(template, name="a b")
    with pytest.raises(FormatDefinitionError, match="separator must not be empty"):
        import_chat_template(template, name="t", separator="")


# -- the command ------------------------------------------------------------------------------------


def test_cli_writes_a_verified_format_file_that_every_command_loads(cli, tmp_path, shared_data):
    out = tmp_path / "openchat.toml"
    template = shared_data / "chat_templates" / "ollama" / "extracted" / "04_openchat.jinja"
    result = cli("import-template", str(template), "--name", "openchat", "--bos-token", "<s>", "-o", str(out))
    assert result.exit_code == 0, result
    assert "exact on 64 generated records and 48 generated conversations" in result.stderr
    assert f"wrote {out}" in result.stderr and "Note: conversations of any length" in result.stderr
    text = out.read_text("utf-8")
    assert text.startswith("# Imported by 'promptfmt import-template' from 04_openchat.jinja (chat template sha256 ")
    assert '[turns]\nuser_prefix = "GPT4 Correct User: "\nuser_suffix = "<|end_of_turn|>"\n' in text
    assert 'system_prefix = "GPT4 Correct System: "' in text

    listed = cli("formats", "--json", "--format-file", str(out))
    assert {row["name"]: row["plugin"] for row in json.loads(listed.stdout)}["openchat"] == f"file:{out}"
    records = tmp_path / "records.jsonl"
    records.write_text(json.dumps({"instruction": "Hi", "input": "there", "output": "Hello"}) + "\n", encoding="utf-8")
    rendered = cli("render", str(records), "-f", "openchat", "--format-file", str(out), "--json")
    expected = "<s>GPT4 Correct User: Hi\nthere<|end_of_turn|>GPT4 Correct Assistant: Hello<|end_of_turn|>"
    assert json.loads(rendered.stdout)["text"] == expected
    texts = tmp_path / "texts.jsonl"
    texts.write_text(json.dumps({"text": expected}) + "\n", encoding="utf-8")
    detected = cli("detect", str(texts), "--format-file", str(out))
    assert detected.exit_code == 0 and detected.stdout.strip() == "openchat", detected

    converted, back = tmp_path / "converted.jsonl", tmp_path / "back.jsonl"
    assert cli("convert", str(records), "--to", "openchat", "--format-file", str(out), "-o", str(converted)).exit_code == 0
    assert json.loads(converted.read_text("utf-8"))["text"] == expected
    assert cli("convert", str(converted), "--from", "openchat", "--layout", "alpaca", "--format-file", str(out),
               "-o", str(back)).exit_code == 0
    assert Record.model_validate(json.loads(back.read_text("utf-8"))).fields() == {"instruction": "Hi", "input": "there", "output": "Hello"}

    chats, chat_texts = tmp_path / "chats.jsonl", tmp_path / "chat_texts.jsonl"
    chats.write_text(json.dumps({"messages": [
        {"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello"}, {"role": "user", "content": "Bye"},
        {"role": "assistant", "content": "Bye"}]}) + "\n", encoding="utf-8")
    assert cli("convert", str(chats), "--to", "openchat", "--format-file", str(out), "-o", str(chat_texts)).exit_code == 0
    assert json.loads(chat_texts.read_text("utf-8"))["text"] == (
        "<s>GPT4 Correct System: Be brief.<|end_of_turn|>GPT4 Correct User: Hi<|end_of_turn|>GPT4 Correct Assistant: "
        "Hello<|end_of_turn|>GPT4 Correct User: Bye<|end_of_turn|>GPT4 Correct Assistant: Bye<|end_of_turn|>")

    again = cli("import-template", str(template), "--name", "openchat", "--bos-token", "<s>", "-o", str(out))
    assert again.exit_code == 2 and "exists; pass --force" in again.stderr
    forced = cli("import-template", str(template), "--name", "openchat", "--bos-token", "<s>", "-o", str(out), "--force")
    assert forced.exit_code == 0, forced


def test_cli_prints_to_stdout_and_refuses_with_exit_1(cli, shared_data):
    printed = cli("import-template", str(shared_data / "chat_templates" / "trl_original" / "gemma.jinja"), "--name", "g",
                  "--bos-token", "<bos>")
    assert printed.exit_code == 0, printed
    assert 'name = "g"' in printed.stdout and "trim = true" in printed.stdout
    assert "Note: the template strips surrounding whitespace" in printed.stderr
    refused = cli("import-template", str(shared_data / "chat_templates" / "ollama" / "extracted" / "27_alfred.jinja"), "--name", "a")
    assert refused.exit_code == 1
    assert refused.stderr.startswith("Error: cannot import 27_alfred.jinja as a declarative format: the template strips")
    missing = cli("import-template", str(shared_data / "chat_templates" / "trl_original" / "llama3.jinja"), "--name", "l")
    assert missing.exit_code == 2 and "uses bos_token" in missing.stderr
    unwritable = cli("import-template", str(shared_data / "chat_templates" / "trl_original" / "gemma.jinja"), "--name", "g",
                     "--bos-token", "<bos>", "-o", "/nonexistent/folder/g.toml")
    assert unwritable.exit_code == 2 and "the folder '/nonexistent/folder' does not exist" in unwritable.stderr
    nowhere = cli("import-template", "/nonexistent/t.jinja", "--name", "x")
    assert nowhere.exit_code == 2 and "/nonexistent/t.jinja: no such file" in nowhere.stderr
    assert "Traceback" not in nowhere.stderr


# -- the conformance kit on an imported template (a style promptfmt has no built-in for) -----------


@cache
def imported_command_r() -> tuple[object, ChatTemplate]:
    template = chat_template("ollama/extracted/36_command-r.jinja")
    template = ChatTemplate(template.source, {"bos_token": "<BOS_TOKEN>", "eos_token": "<|END_OF_TURN_TOKEN|>"}, template.origin)
    result = import_chat_template(template, name="command-r")
    return parse_format_text(result.toml(), source="command-r.toml"), template  # as loaded from the written file


class TestImportedCommandR(FormatConformance):
    """Cohere Command-R (ollama entry 36): imported, written as TOML, read back; the whole kit, and the template."""

    @property
    def format(self):
        return imported_command_r()[0]

    @property
    def chat_template(self):
        return imported_command_r()[1]

    golden = [(
        Record(instruction="Hi", output="Hello"),
        "<BOS_TOKEN><|START_OF_TURN_TOKEN|><|USER_TOKEN|>Hi<|END_OF_TURN_TOKEN|>"
        "<|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>Hello<|END_OF_TURN_TOKEN|>",
    )]
