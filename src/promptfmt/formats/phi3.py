"""Phi-3 prompt styles.

* ``phi3``: the official Phi-3-mini chat template (trl's "Original Phi-3 chat template"): a
  ``<|user|>`` turn and an ``<|assistant|>`` turn, each closed by ``<|end|>\\n``, then the
  ``eos_token`` ``<|endoftext|>`` when no generation prompt is asked for. The template does not
  trim. Phi-3.5-mini's template (trl ``phi3_5.jinja``) renders the same for these records, hence
  the ``phi3.5`` alias. Instruction and input share the user message, joined by ``"\\n"``.
* ``phi3-llmfs``: the course's Phi-3 variant (LLMs-from-scratch ch. 7, exercise 7.1:
  ``format_input_phi``): ``<|user|>\\n…`` then ``\\n<|assistant|>:\\n`` (with a colon), no ``<|end|>``.
"""

from __future__ import annotations

from ..plugins.hooks import format_hooks
from ..templating.template import ChatTurns, Template, TemplateFormat

PHI3 = TemplateFormat.from_turns(
    "phi3",
    ChatTurns(
        user_prefix="<|user|>\n",
        user_suffix="<|end|>\n",
        generation_prompt="<|assistant|>\n",
        turn_end="<|end|>\n",
        final="<|endoftext|>",  # eos_token, after the last message of a training text
        system_prefix="<|system|>\n",
        system_suffix="<|end|>\n",
        extra_markers=("<|system|>",),
    ),
    aliases=("phi-3", "phi3-mini", "phi3.5", "phi-3.5"),
    description="Official Phi-3-mini chat template: <|user|>/<|assistant|> turns closed by <|end|>, then <|endoftext|>.",
    reference="microsoft/Phi-3-mini-4k-instruct chat_template (huggingface/trl chat_templates/phi3.jinja)",
)

PHI3_LLMFS = TemplateFormat(
    "phi3-llmfs",
    Template(
        prefix="<|user|>\n",
        separator="\n",
        response_prefix="\n<|assistant|>:\n",
        chat=True,
    ),
    aliases=("phi3-course",),
    description="Phi-3 variant of LLMs-from-scratch exercise 7.1: '<|assistant|>:' with a colon, no <|end|>.",
    reference="rasbt/LLMs-from-scratch ch07 exercise 7.1 format_input_phi (exercise-solutions.ipynb)",
    append_eos=True,  # the chapter's custom_collate_fn appends <|endoftext|> (50256)
)


FORMATS = (PHI3, PHI3_LLMFS)
promptfmt_register_formats, promptfmt_detect_format = format_hooks(*FORMATS)
