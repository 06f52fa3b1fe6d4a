"""Phi-4 chat styles.

* ``phi4``: microsoft/phi-4's template: ``<|im_start|>role<|im_sep|>content<|im_end|>``, and every
  user turn already ends with the assistant header ``<|im_start|>assistant<|im_sep|>`` (the template
  has no generation prompt of its own: a prompt ends with that header). Nothing is trimmed; a system
  message is a turn of its own.
* ``phi4-mini``: microsoft/Phi-4-mini-instruct's template: ``<|role|>content<|end|>``, no newlines,
  the generation prompt ``<|assistant|>``, and the ``eos_token`` ``<|endoftext|>`` after the last
  message of a training text (a system message with ``tools`` is a tool declaration: not a
  conversation of text, promptfmt sends none).
"""

from __future__ import annotations

from ..plugins.hooks import format_hooks
from ..templating.template import ChatTurns, TemplateFormat

PHI4 = TemplateFormat.from_turns(
    "phi4",
    ChatTurns(
        user_prefix="<|im_start|>user<|im_sep|>",
        user_suffix="<|im_end|><|im_start|>assistant<|im_sep|>",
        turn_end="<|im_end|>",
        system_prefix="<|im_start|>system<|im_sep|>",
        system_suffix="<|im_end|>",
        extra_markers=("<|im_start|>", "<|im_sep|>", "<|im_end|>"),
    ),
    aliases=("phi-4",),
    description="Phi-4: <|im_start|>role<|im_sep|>content<|im_end|>, the assistant header closing every user turn.",
    reference="microsoft/phi-4 chat_template (chat_templates/current/phi-4.jinja, from llama.cpp's chat-template tests)",
)

PHI4_MINI = TemplateFormat.from_turns(
    "phi4-mini",
    ChatTurns(
        user_prefix="<|user|>",
        user_suffix="<|end|>",
        generation_prompt="<|assistant|>",
        turn_end="<|end|>",
        final="<|endoftext|>",  # eos_token, after the last message of a training text
        system_prefix="<|system|>",
        system_suffix="<|end|>",
        extra_markers=("<|system|>", "<|user|>", "<|assistant|>", "<|end|>"),
    ),
    aliases=("phi-4-mini", "phi4-mini-instruct"),
    description="Phi-4-mini-instruct: <|role|>content<|end|> without newlines, then <|endoftext|>.",
    reference=(
        "microsoft/Phi-4-mini-instruct tokenizer_config.json chat_template "
        "(chat_templates/current/phi-4-mini.tokenizer_config.json, bos and eos <|endoftext|>)"
    ),
)

FORMATS = (PHI4, PHI4_MINI)
promptfmt_register_formats, promptfmt_detect_format = format_hooks(*FORMATS)
