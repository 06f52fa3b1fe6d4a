"""Mistral-Instruct styles: ``[INST] … [/INST]`` around the user message, ``</s>`` after the answer.

None of these templates has a generation prompt: the prompt is the rendering of the user message
alone. They reject a system message (the legacy ones raise; v0.3 folds it into the last user
message); promptfmt sends none. BOS ``<s>`` is template text.

* ``mistral``: the legacy HF chat_template of Mistral-7B-Instruct-v0.2 and Mixtral-8x7B-Instruct-v0.1
  (Mistral's "tokenizer V1" models): ``<s>[INST] u [/INST]a</s>`` -- no space between ``[/INST]``
  and the answer, nothing trimmed (ollama's template index, entry 10).
* ``mistral-v0.1``: the same with ``eos_token + ' '`` (ollama entry 14), the template of
  Mistral-7B-Instruct-v0.1: the completion ends with ``"</s> "``, trailing space included.
* ``mistral-nemo``: Mistral-Nemo-Instruct-2407's template (Tekken spacing): ``<s>[INST]u[/INST]a</s>``,
  no spaces, nothing trimmed. It puts a system message into the last user message only when that
  message ends the conversation: in training text it would vanish, so promptfmt refuses it.
* ``mistral-v3``: the v3 spacing of Mistral-7B-Instruct-v0.3 (and Mixtral-8x22B-Instruct, Codestral):
  ``<s>[INST] u[/INST] a</s>``. No verbatim copy of that chat_template is in the reference data; the
  format follows mistral-common's V3 rendering as published in Mistral's cookbook
  (concept-deep-dive/tokenization/templates.md) and the assistant branch of the v0.3 chat_template,
  ``" " + message["content"]|trim + eos_token``: the output is trimmed, the user message is not.
"""

from __future__ import annotations

from ..plugins.hooks import format_hooks
from ..templating.template import ChatTurns, TemplateFormat
from ..templating.turns import SYSTEM_REFUSED

MARKERS = ("[INST]", "[/INST]")


def _legacy(end: str) -> ChatTurns:
    """The tokenizer-V1 HF templates: bos once, '[INST] ' + user + ' [/INST]', then answer + ``end``;
    they raise on a system message."""
    return ChatTurns(bos="<s>", user_prefix="[INST] ", user_suffix=" [/INST]", turn_end=end, system=SYSTEM_REFUSED,
                     extra_markers=MARKERS)


MISTRAL = TemplateFormat.from_turns(
    "mistral",
    _legacy(end="</s>"),
    aliases=("mistral-instruct", "mistral-v0.2", "mixtral"),
    description="Mistral-Instruct v0.2 / Mixtral-8x7B legacy template: '<s>[INST] user [/INST]answer</s>'.",
    reference=(
        "Mistral-7B-Instruct-v0.2 / Mixtral-8x7B-Instruct-v0.1 chat_template with eos_token and no space, "
        "as in ollama template/index.json entry 10 (chat_templates/ollama/extracted/10_mistral-instruct.jinja)"
    ),
)

MISTRAL_V0_1 = TemplateFormat.from_turns(
    "mistral-v0.1",
    _legacy(end="</s> "),
    aliases=("mistral-7b-instruct-v0.1",),
    description="Mistral-7B-Instruct-v0.1 template: '<s>[INST] user [/INST]answer</s> ' (a space after </s>).",
    reference=(
        "Mistral-7B-Instruct-v0.1 chat_template with eos_token + ' ', as in ollama template/index.json entry 14 "
        "(chat_templates/ollama/extracted/14_mistral-instruct.jinja)"
    ),
)

MISTRAL_V3 = TemplateFormat.from_turns(
    "mistral-v3",
    ChatTurns(
        bos="<s>",
        user_prefix="[INST] ",
        user_suffix="[/INST]",
        response_prefix=" ",
        turn_end="</s>",
        # the v0.3 template folds a system message into the last user message only when the
        # conversation ends with it (a training text would lose it): refused until a verbatim
        # template is in the reference data
        system=SYSTEM_REFUSED,
        trim_output=True,
        extra_markers=MARKERS,
    ),
    aliases=("mistral-v0.3",),
    description="Mistral v3 spacing (Mistral-7B-Instruct-v0.3): '<s>[INST] user[/INST] answer</s>', answer trimmed.",
    reference=(
        "mistral-common V3 rendering as published in mistralai/cookbook concept-deep-dive/tokenization/templates.md, "
        "and the assistant branch of the Mistral-7B-Instruct-v0.3 chat_template; checked by golden strings "
        "(no verbatim template in the reference data)"
    ),
)

MISTRAL_NEMO = TemplateFormat.from_turns(
    "mistral-nemo",
    ChatTurns(bos="<s>", user_prefix="[INST]", user_suffix="[/INST]", turn_end="</s>", system=SYSTEM_REFUSED,
              extra_markers=MARKERS),
    aliases=("mistral-nemo-instruct",),
    description="Mistral-Nemo-Instruct-2407 (Tekken spacing): '<s>[INST]user[/INST]answer</s>', no spaces.",
    reference=(
        "mistralai/Mistral-Nemo-Instruct-2407 chat_template (chat_templates/current/mistral-nemo-instruct-2407.jinja); "
        "it keeps a system message only when a user message ends the conversation, so one is refused"
    ),
)

FORMATS = (MISTRAL, MISTRAL_V0_1, MISTRAL_V3, MISTRAL_NEMO)
promptfmt_register_formats, promptfmt_detect_format = format_hooks(*FORMATS)
