"""Vicuna v1.1: FastChat's ``vicuna_v1.1`` conversation template (Vicuna ships no Jinja chat template).

FastChat renders ``system + " " + "USER: " + u + " " + "ASSISTANT: " + a + "</s>"`` (separator style
``ADD_COLON_TWO``, ``sep=" "``, ``sep2="</s>"``) with the standard system prompt; the prompt ends in
``" ASSISTANT:"`` and the completion is ``" " + output + "</s>"``. Nothing is trimmed. The system
prompt is literal text at the start of the prompt.

One documented difference: FastChat writes a message that is empty (``""``, like ``None``) as a bare
``"ROLE:"``, without its separator. promptfmt renders an empty output as ``" </s>"`` (so the end of
the answer is still trained) and an empty user message as ``"USER:  ASSISTANT:"``.
"""

from __future__ import annotations

from ..plugins.hooks import format_hooks
from ..templating.template import Template, TemplateFormat

SYSTEM = (
    "A chat between a curious user and an artificial intelligence assistant. "
    "The assistant gives helpful, detailed, and polite answers to the user's questions."
)

VICUNA = TemplateFormat(
    "vicuna",
    Template(
        prefix=SYSTEM + " USER: ",
        separator="\n",
        prompt_suffix=" ASSISTANT:",
        response_prefix=" ",
        end="</s>",
        chat=True,
    ),
    aliases=("vicuna-v1.1", "vicuna_v1.1"),
    description="Vicuna v1.1 (FastChat): system prompt, ' USER: ' question ' ASSISTANT: ' answer '</s>'.",
    reference=(
        "lm-sys/FastChat fastchat/conversation.py, template 'vicuna_v1.1' (SeparatorStyle.ADD_COLON_TWO, "
        "sep ' ', sep2 '</s>'); checked by golden strings"
    ),
)

FORMATS = (VICUNA,)
promptfmt_register_formats, promptfmt_detect_format = format_hooks(*FORMATS)
