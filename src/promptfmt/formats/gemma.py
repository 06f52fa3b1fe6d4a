"""Gemma: the google/gemma-*-it chat template (Gemma 1 and Gemma 2 ship the same one).

``<bos><start_of_turn>user\\n`` + user message + ``<end_of_turn>\\n<start_of_turn>model\\n`` + output
+ ``<end_of_turn>\\n``. The template ``| trim``-s every content, so records with surrounding
whitespace render like the template but are reported lossy (``trimmed-whitespace``). It raises on a
system message ("System role not supported"); promptfmt sends none. The Gemma 3 template renders a
conversation without a system message identically, hence the ``gemma3`` alias.
"""

from __future__ import annotations

from ..plugins.hooks import format_hooks
from ..templating.template import ChatTurns, TemplateFormat
from ..templating.turns import SYSTEM_REFUSED

GEMMA = TemplateFormat.from_turns(
    "gemma",
    ChatTurns(
        bos="<bos>",
        user_prefix="<start_of_turn>user\n",
        user_suffix="<end_of_turn>\n",
        generation_prompt="<start_of_turn>model\n",
        turn_end="<end_of_turn>\n",
        system=SYSTEM_REFUSED,  # "System role not supported"
        trim=True,
        extra_markers=("<start_of_turn>", "<end_of_turn>"),
    ),
    aliases=("gemma-it", "gemma2", "gemma3"),
    description="Gemma instruct: <start_of_turn>user/model turns, contents trimmed, closed by <end_of_turn>.",
    reference=(
        "google/gemma-it chat_template (huggingface/trl chat_templates/gemma.jinja == ollama entry 21 == "
        "torchtune's Gemma tokenizer_config); Gemma 3: ollama entry 22 (22_gemma3-instruct.jinja)"
    ),
)

FORMATS = (GEMMA,)
promptfmt_register_formats, promptfmt_detect_format = format_hooks(*FORMATS)
