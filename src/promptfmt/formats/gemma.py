"""Gemma: the google/gemma-*-it chat template (Gemma 1 and Gemma 2 ship the same one).

``<bos><start_of_turn>user\\n`` + user message + ``<end_of_turn>\\n<start_of_turn>model\\n`` + output
+ ``<end_of_turn>\\n``. The template ``| trim``-s every content, so records with surrounding
whitespace render like the template but are reported lossy (``trimmed-whitespace``). It raises on a
system message ("System role not supported"); promptfmt sends none.

``gemma3``: the Gemma 3 template renders the same turns, and puts a system message, untrimmed and
followed by a blank line, at the start of the first user message, whose own text it trims. A
system message cannot be read back from such a text (nothing marks where it ends): such
conversations render exactly but are reported lossy.
"""

from __future__ import annotations

from dataclasses import replace

from ..plugins.hooks import format_hooks
from ..templating.template import ChatTurns, TemplateFormat
from ..templating.turns import SYSTEM_IN_FIRST_USER, SYSTEM_REFUSED

TURNS = ChatTurns(
    bos="<bos>",
    user_prefix="<start_of_turn>user\n",
    user_suffix="<end_of_turn>\n",
    generation_prompt="<start_of_turn>model\n",
    turn_end="<end_of_turn>\n",
    system=SYSTEM_REFUSED,  # "System role not supported"
    trim=True,
    extra_markers=("<start_of_turn>", "<end_of_turn>"),
)

GEMMA = TemplateFormat.from_turns(
    "gemma",
    TURNS,
    aliases=("gemma-it", "gemma2"),
    description="Gemma instruct: <start_of_turn>user/model turns, contents trimmed, closed by <end_of_turn>.",
    reference=(
        "google/gemma-it chat_template (huggingface/trl chat_templates/gemma.jinja == ollama entry 21 == "
        "torchtune's Gemma tokenizer_config)"
    ),
)

GEMMA3 = TemplateFormat.from_turns(
    "gemma3",
    replace(TURNS, system=SYSTEM_IN_FIRST_USER, system_suffix="\n\n", trim_system=False, first_user_trim="content"),
    aliases=("gemma-3", "gemma3-it"),
    extends="gemma",  # the same text for every record: detection names gemma unless a text holds a system message
    description="Gemma 3 instruct: as gemma, a system message (untrimmed, then a blank line) opening the first user turn.",
    reference="google/gemma-3 chat_template as in ollama template/index.json entry 22 (22_gemma3-instruct.jinja)",
)

FORMATS = (GEMMA, GEMMA3)
promptfmt_register_formats, promptfmt_detect_format = format_hooks(*FORMATS)
