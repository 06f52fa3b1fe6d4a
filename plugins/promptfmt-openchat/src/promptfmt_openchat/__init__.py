"""OpenChat-3.5 for promptfmt: a plugin package shaped exactly as a third-party author writes one.

``openchat`` renders what the OpenChat-3.5 chat template renders (``openchat/openchat_3.5``
tokenizer_config.json; the same template string is entry 04 of ollama's template/index.json, and
chujiezheng/chat_templates ``openchat-3.5.jinja`` agrees for a user/assistant conversation)::

    <s>GPT4 Correct User: {instruction}[\\n{input}]<|end_of_turn|>GPT4 Correct Assistant: {output}<|end_of_turn|>

* ``<s>`` is the template's ``bos_token`` as text (the tokenizer's BOS is ``<s>``).
* The prompt is the rendering with ``add_generation_prompt=True``: it ends with
  ``GPT4 Correct Assistant:`` without the space, which opens the completion.
* The template neither trims nor changes content. Instruction and input share the user message,
  joined by ``"\\n"``, like promptfmt's built-in chat formats.
* Conversations of any length render turn by turn; a system message is a ``GPT4 Correct System:``
  turn of its own, as the template renders every role.
"""

from __future__ import annotations

from collections.abc import Callable

from promptfmt import ChatTurns, Format, TemplateFormat, hookimpl

__version__ = "0.1.0"

OPENCHAT = TemplateFormat.from_turns(
    "openchat",
    ChatTurns(  # every message: 'GPT4 Correct ' + role.title() + ': ' + content + '<|end_of_turn|>'
        bos="<s>",
        user_prefix="GPT4 Correct User: ",
        user_suffix="<|end_of_turn|>",
        generation_prompt="GPT4 Correct Assistant:",
        response_prefix=" ",
        turn_end="<|end_of_turn|>",
        system_prefix="GPT4 Correct System: ",
        system_suffix="<|end_of_turn|>",
        extra_markers=("GPT4 Correct System:",),
    ),
    aliases=("openchat-3.5", "openchat_3.5"),
    description="OpenChat-3.5: 'GPT4 Correct User: …<|end_of_turn|>GPT4 Correct Assistant: …<|end_of_turn|>'.",
    reference="openchat/openchat_3.5 chat_template (== ollama template/index.json entry 04, 04_openchat.jinja)",
)


@hookimpl
def promptfmt_register_formats(register: Callable[[Format], None]) -> None:
    register(OPENCHAT)
