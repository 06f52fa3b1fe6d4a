"""Alpaca prompt styles.

* ``alpaca``: Stanford Alpaca as published. The prompt is ``PROMPT_DICT`` of stanford_alpaca's
  train.py (two preambles, ending in ``### Response:``); the text is the ``text`` column of the
  published dataset, which adds ``"\\n"`` before the output. No EOS text: train.py appends the
  tokenizer's EOS token, which is not text.
* ``alpaca-llmfs``: the variant of "Build a Large Language Model (From Scratch)", chapter 7
  (``format_input``): one preamble always, the input block only for a non-empty input, and
  ``"\\n\\n### Response:\\n"`` opening the completion. The prompt is what ``format_input`` returns,
  which is what the course feeds the model at inference.
"""

from __future__ import annotations

from ..plugins.hooks import format_hooks
from ..templating.template import Template, TemplateFormat

PREAMBLE = "Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n"
PREAMBLE_WITH_INPUT = (
    "Below is an instruction that describes a task, paired with an input that provides further context. "
    "Write a response that appropriately completes the request.\n\n"
)

ALPACA = TemplateFormat(
    "alpaca",
    Template(
        prefix=PREAMBLE_WITH_INPUT + "### Instruction:\n",
        prefix_no_input=PREAMBLE + "### Instruction:\n",
        separator="\n\n### Input:\n",
        prompt_suffix="\n\n### Response:",
        response_prefix="\n",
    ),
    aliases=("stanford-alpaca",),
    description="Stanford Alpaca: two preambles, '### Response:' then a newline and the output; no EOS text.",
    reference="tatsu-lab/stanford_alpaca train.py PROMPT_DICT; the 'text' column of the published dataset",
    append_eos=True,  # train.py: f"{example['output']}{tokenizer.eos_token}"
)

ALPACA_LLMFS = TemplateFormat(
    "alpaca-llmfs",
    Template(
        prefix=PREAMBLE + "### Instruction:\n",
        separator="\n\n### Input:\n",
        response_prefix="\n\n### Response:\n",
    ),
    aliases=("alpaca-course",),
    description="Alpaca as in LLMs-from-scratch ch. 7: one preamble, input block only when non-empty.",
    reference="rasbt/LLMs-from-scratch ch07 format_input (01_main-chapter-code/ch07.ipynb)",
    append_eos=True,  # custom_collate_fn appends <|endoftext|> (50256)
)


FORMATS = (ALPACA, ALPACA_LLMFS)
promptfmt_register_formats, promptfmt_detect_format = format_hooks(*FORMATS)
