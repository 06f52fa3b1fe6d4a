"""Zephyr: the HuggingFaceH4/zephyr-7b-beta chat template.

One turn per line: ``<|user|>\\n`` + user message + ``</s>\\n``, then ``<|assistant|>\\n`` + output +
``</s>\\n``; the generation prompt is ``<|assistant|>\\n``. The template writes the ``eos_token``
``</s>`` after every turn, trims nothing and inserts no system turn. Instruction and input share
the user message, joined by ``"\\n"``.
"""

from __future__ import annotations

from ..plugins.hooks import format_hooks
from ..templating.template import ChatTurns, TemplateFormat

ZEPHYR = TemplateFormat.from_turns(
    "zephyr",
    ChatTurns(
        user_prefix="<|user|>\n",
        user_suffix="</s>\n",
        generation_prompt="<|assistant|>\n",
        turn_end="</s>\n",
        system_prefix="<|system|>\n",
        system_suffix="</s>\n",
        extra_markers=("<|system|>",),
    ),
    aliases=("zephyr-7b-beta",),
    description="Zephyr-7b-beta: <|user|>/<|assistant|> turns, each closed by </s> and a newline.",
    reference=(
        "HuggingFaceH4/zephyr-7b-beta chat_template as in ollama template/index.json entry 02 "
        "(chat_templates/ollama/extracted/02_zephyr.jinja)"
    ),
)

FORMATS = (ZEPHYR,)
promptfmt_register_formats, promptfmt_detect_format = format_hooks(*FORMATS)
