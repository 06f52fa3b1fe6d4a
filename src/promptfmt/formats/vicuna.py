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
from ..templating.template import ChatTurns, TemplateFormat

SYSTEM = (
    "A chat between a curious user and an artificial intelligence assistant. "
    "The assistant gives helpful, detailed, and polite answers to the user's questions."
)

VICUNA = TemplateFormat.from_turns(
    "vicuna",
    ChatTurns(  # FastChat: system + sep, then "ROLE: " + message + (sep, sep2 alternately)
        user_prefix="USER: ",
        user_suffix=" ",
        generation_prompt="ASSISTANT:",
        response_prefix=" ",
        turn_end="</s>",
        system_suffix=" ",
        default_system=SYSTEM,
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
