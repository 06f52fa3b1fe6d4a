"""Render official chat templates the way Hugging Face ``apply_chat_template`` does.

A Jinja ``ImmutableSandboxedEnvironment`` with ``trim_blocks`` and ``lstrip_blocks``, ``raise_exception``
available, and the model's special tokens passed as variables. Used by the fidelity tests only:
promptfmt itself never renders Jinja per record.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from jinja2.exceptions import TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment


class TemplateRaised(Exception):
    """The template called raise_exception (for example: system role not supported)."""


def _raise(message: str) -> None:
    raise TemplateRaised(message)


@cache
def _compile(source: str):
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    env.globals["raise_exception"] = _raise
    return env.from_string(source)


def load_template(path: Path) -> str:
    """A ``.jinja`` file's text, or a tokenizer_config.json's ``chat_template``."""
    text = path.read_text(encoding="utf-8")
    return json.loads(text)["chat_template"] if path.suffix == ".json" else text


def render_chat(source: str, messages: list[dict[str, str]], *, add_generation_prompt: bool, **tokens: str) -> str:
    try:
        return _compile(source).render(messages=messages, add_generation_prompt=add_generation_prompt, **tokens)
    except TemplateError as exc:  # pragma: no cover - a broken reference is a test failure with context
        raise AssertionError(f"reference template failed to render: {exc}") from exc


def user_content(instruction: str, input: str, separator: str = "\n") -> str:
    """The user message as the course builds it: the instruction, then separator and input when non-empty."""
    return instruction + separator + input if input else instruction


def reference_pair(source: str, instruction: str, input: str, output: str, **tokens: str) -> tuple[str, str]:
    """(text, prompt) of the official template for one record, as docs/architecture.md, "Semantics" (exact fidelity) defines them."""
    user = {"role": "user", "content": user_content(instruction, input)}
    text = render_chat(source, [user, {"role": "assistant", "content": output}], add_generation_prompt=False, **tokens)
    prompt = render_chat(source, [user], add_generation_prompt=True, **tokens)
    return text, prompt
