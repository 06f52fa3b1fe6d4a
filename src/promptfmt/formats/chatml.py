"""ChatML prompt styles: ``<|im_start|>role\\n…<|im_end|>\\n`` turns, one user turn and one assistant turn.

* ``chatml``: plain ChatML, no system turn (ollama's template index, entry 06: the common ChatML
  chat_template). The completion ends with the assistant turn's ``<|im_end|>\\n``.
* ``qwen2``: the Qwen2 / Qwen1.5 chat template (ollama entry 07): ChatML that inserts the default
  system turn "You are a helpful assistant." when the messages have no system message.
* ``qwen2.5``: the Qwen2.5 chat template (trl's "Original Qwen2.5 chat template"): the default system
  turn is "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.".

* ``qwen3``: the Qwen3 chat template with ``enable_thinking=false`` (how Qwen3 is fine-tuned without
  reasoning): ChatML without a default system turn, and before the last answer only an empty think
  block ``<think>\n\n</think>\n\n``, which a prompt ends with too. The template strips leading
  newlines of the last answer (``content.lstrip('\n')``: such answers are lossy, trimmed-whitespace)
  and splits an answer at ``</think>`` into reasoning and answer: an answer holding ``</think>``
  renders otherwise there, and is reported lossy (``content-dependent``).

* ``smollm3``: the SmolLM3 chat template with ``enable_thinking=false``: a system turn of metadata
  ("Reasoning Mode: /no_think") and custom instructions (the system message with its end stripped,
  or the template's own default), then ChatML turns, every answer after an empty think block
  ``<think>\n\n</think>\n`` with its leading newlines stripped. A system message holding
  ``/think`` or ``/no_think`` switches the template's mode and is rewritten: reported lossy.

Apart from that, none of these templates trims content, so every record without ChatML markers in it is lossless.
The default system turn is literal text at the start of the prompt. Instruction and input share the
user message, joined by ``"\\n"``.
"""

from __future__ import annotations

from dataclasses import replace

from ..plugins.hooks import format_hooks
from ..templating.template import ChatTurns, TemplateFormat

USER_TURN = "<|im_start|>user\n"
END_OF_TURN = "<|im_end|>\n"
MARKERS = ("<|im_start|>", "<|im_end|>")
QWEN2_SYSTEM = "You are a helpful assistant."
QWEN2_5_SYSTEM = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."
QWEN3_EMPTY_THINK = "<think>\n\n</think>\n\n"
SMOLLM3_METADATA = ("<|im_start|>system\n## Metadata\n\nKnowledge Cutoff Date: June 2025\nReasoning Mode: /no_think\n\n"
                    "## Custom Instructions\n\n")
SMOLLM3_SYSTEM = "You are a helpful AI assistant named SmolLM, trained by Hugging Face."


def _chatml(default_system: str | None) -> ChatTurns:
    """ChatML turns; a system message is a turn of its own (``default_system`` when there is none)."""
    return ChatTurns(
        user_prefix=USER_TURN,
        user_suffix=END_OF_TURN,
        generation_prompt="<|im_start|>assistant\n",
        turn_end=END_OF_TURN,
        system_prefix="<|im_start|>system\n",
        system_suffix=END_OF_TURN,
        default_system=default_system,
        extra_markers=MARKERS,
    )


CHATML = TemplateFormat.from_turns(
    "chatml",
    _chatml(None),
    aliases=("chatml-plain",),
    description="Plain ChatML: <|im_start|>user/assistant turns closed by <|im_end|>\\n; no system turn.",
    reference="ChatML chat_template as in ollama template/index.json entry 06 (chat_templates/ollama/extracted/06_chatml.jinja)",
)

QWEN2 = TemplateFormat.from_turns(
    "qwen2",
    _chatml(QWEN2_SYSTEM),
    aliases=("qwen1.5", "chatml-qwen2"),
    description="Qwen2/Qwen1.5 ChatML with the default system turn 'You are a helpful assistant.'.",
    reference="Qwen2-Instruct chat_template as in ollama template/index.json entry 07 (chat_templates/ollama/extracted/07_chatml.jinja)",
)

QWEN2_5 = TemplateFormat.from_turns(
    "qwen2.5",
    _chatml(QWEN2_5_SYSTEM),
    aliases=("qwen2_5",),
    description="Qwen2.5 ChatML with the default system turn 'You are Qwen, created by Alibaba Cloud. ...'.",
    reference="Qwen2.5-Instruct chat_template (huggingface/trl chat_templates/qwen2_5.jinja, 'Original Qwen2.5 chat template')",
)

QWEN3 = TemplateFormat.from_turns(
    "qwen3",
    replace(_chatml(None), last_answer_prefix=QWEN3_EMPTY_THINK, last_answer_lstrip="\n",
            content_dependent=("</think>",), extra_markers=(*MARKERS, "<think>", "</think>")),
    aliases=("qwen3-nothink",),
    description="Qwen3 with thinking off: ChatML, an empty <think></think> block before the last answer.",
    reference=(
        "Qwen/Qwen3-0.6B chat_template (chat_templates/current/qwen3-0.6b.jinja) with enable_thinking=false, no tools"
    ),
)

SMOLLM3 = TemplateFormat.from_turns(
    "smollm3",
    replace(
        _chatml(SMOLLM3_SYSTEM), generation_prompt="<|im_start|>assistant\n<think>\n\n</think>\n",
        system_prefix=SMOLLM3_METADATA, system_suffix="\n\n<|im_end|>\n", answer_lstrip="\n", system_rstrip=True,
        system_content_dependent=("/think", "/no_think"), extra_markers=(*MARKERS, "<think>", "</think>"),
    ),
    aliases=("smollm3-nothink",),
    description="SmolLM3 with thinking off: ChatML after a metadata system turn, an empty think block before every answer.",
    reference="HuggingFaceTB/SmolLM3-3B chat_template (chat_templates/current/smollm3-3b.jinja) with enable_thinking=false",
)

FORMATS = (CHATML, QWEN2, QWEN2_5, QWEN3, SMOLLM3)
promptfmt_register_formats, promptfmt_detect_format = format_hooks(*FORMATS)
