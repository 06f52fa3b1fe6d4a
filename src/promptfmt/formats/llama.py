"""Llama chat styles: Llama-2-chat, Llama-3-Instruct and Llama-3.1-Instruct.

* ``llama2``: the Llama-2-chat template (``<s>[INST] u [/INST] a </s>``). It has no generation
  prompt: the prompt is the rendering of the user message alone, which ends in `` [/INST]``; the
  completion is ``" " + output + " </s>"``. The template strips the user message and the output
  (``.strip()`` in one revision, ``| trim`` in the other), so records with surrounding whitespace
  render like the template but are reported lossy (``trimmed-whitespace``). It would put a system
  message in ``<<SYS>>`` inside the first ``[INST]``; promptfmt sends none, and the template adds no
  default.
* ``llama3``: the Meta-Llama-3-Instruct template: ``<|begin_of_text|>`` then header-delimited
  turns, each content ``| trim``-ed and closed by ``<|eot_id|>``; no default system turn.
* ``llama3.1``: the Llama-3.1-Instruct template, which always emits a system turn with
  "Cutting Knowledge Date: December 2023" and "Today Date: 26 Jul 2024" (the template's default
  ``date_string``; passing another date to the template changes that line) before the user turn.
  Llama-3.2's and Llama-3.3's templates render the very same text when given that ``date_string``
  (without one, 3.2's writes today's date), hence the ``llama3.2`` and ``llama3.3`` aliases; for
  another date, import the template with ``--var date_string=…``.
"""

from __future__ import annotations

from ..plugins.hooks import format_hooks
from ..templating.template import ChatTurns, TemplateFormat
from ..templating.turns import SYSTEM_IN_FIRST_USER

LLAMA3_MARKERS = ("<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>")
LLAMA3_SYSTEM = "<|start_header_id|>system<|end_header_id|>\n\n"
LLAMA3_1_SYSTEM = LLAMA3_SYSTEM + "Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n"

LLAMA2 = TemplateFormat.from_turns(
    "llama2",
    ChatTurns(
        user_prefix="<s>[INST] ",  # the template writes bos_token before every user turn
        user_suffix=" [/INST]",
        response_prefix=" ",
        turn_end=" </s>",
        system=SYSTEM_IN_FIRST_USER,
        system_prefix="<<SYS>>\n",
        system_suffix="\n<</SYS>>\n\n",
        trim=True,
        extra_markers=("[INST]", "[/INST]", "<<SYS>>"),
    ),
    aliases=("llama-2", "llama2-chat"),
    description="Llama-2-chat: '<s>[INST] user [/INST] answer </s>', contents stripped, no generation prompt.",
    reference=(
        "Llama-2-chat chat_template as in ollama template/index.json entries 28 (.strip()) and 12 (| trim) "
        "(chat_templates/ollama/extracted/28_llama2-chat.jinja, 12_llama2-chat.jinja)"
    ),
)


def _llama3(system_prefix: str, default_system: str | None) -> ChatTurns:
    """Header-delimited turns, every content trimmed; the system message is a turn of its own."""
    return ChatTurns(
        bos="<|begin_of_text|>",
        user_prefix="<|start_header_id|>user<|end_header_id|>\n\n",
        user_suffix="<|eot_id|>",
        generation_prompt="<|start_header_id|>assistant<|end_header_id|>\n\n",
        turn_end="<|eot_id|>",
        system_prefix=system_prefix,
        system_suffix="<|eot_id|>",
        default_system=default_system,
        trim=True,
        extra_markers=LLAMA3_MARKERS,
    )


LLAMA3 = TemplateFormat.from_turns(
    "llama3",
    _llama3(LLAMA3_SYSTEM, None),
    aliases=("llama-3", "llama3-instruct"),
    description="Meta-Llama-3-Instruct: header-delimited user/assistant turns, contents trimmed, closed by <|eot_id|>.",
    reference="Meta-Llama-3-8B-Instruct chat_template (huggingface/trl chat_templates/llama3.jinja, 'Original Llama 3 chat template')",
)

LLAMA3_1 = TemplateFormat.from_turns(
    "llama3.1",
    _llama3(LLAMA3_1_SYSTEM, ""),  # the system turn is always there, empty without a system message
    aliases=("llama-3.1", "llama3.1-instruct", "llama3.2", "llama-3.2", "llama3.3", "llama-3.3"),
    description="Llama-3.1/3.2/3.3-Instruct: like llama3 after the template's own system turn (knowledge and 26 Jul 2024 dates).",
    reference=(
        "Llama-3.1-Instruct chat_template as in ollama template/index.json entry 24 "
        "(chat_templates/ollama/extracted/24_llama3-instruct.jinja), default date_string, no tools; "
        "Llama-3.2-Instruct's (chat_templates/current/llama-3.2-3b-instruct.jinja) renders the same with "
        "date_string '26 Jul 2024'"
    ),
)

FORMATS = (LLAMA2, LLAMA3, LLAMA3_1)
promptfmt_register_formats, promptfmt_detect_format = format_hooks(*FORMATS)
