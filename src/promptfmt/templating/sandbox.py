"""Chat templates rendered in a Jinja sandbox, as Hugging Face ``apply_chat_template`` renders them.

``ImmutableSandboxedEnvironment`` with ``trim_blocks``/``lstrip_blocks``, ``raise_exception``,
``tojson``, ``strftime_now`` (at a fixed date) and the ``{% generation %}`` tag. A template is
untrusted code: whatever it raises becomes a `TemplateImportError`, never a crash. jinja2 is
imported on first use.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import PromptfmtError, UsageError

DATES = ((2001, 2, 3, 4, 5, 6), (2019, 11, 28, 23, 58, 59))
"""Two fixed moments for ``strftime_now``: a template whose text differs between them depends on the date."""


class TemplateImportError(PromptfmtError):
    """A chat template that cannot be imported as a declarative format; the message says why, and
    ``code`` names the reason for tools (``import-template --json``; docs/architecture.md lists them)."""

    def __init__(self, origin: str, reason: str, code: str = "unreadable") -> None:
        self.origin = origin
        self.reason = reason
        self.code = code
        super().__init__(f"cannot import {origin} as a declarative format: {reason}")

    def __reduce__(self) -> tuple[Any, ...]:
        # sent back from the import's own process (`limits.run_limited`), whatever the subclass's arguments
        return _restore, (type(self), self.args, self.__dict__)


def _restore(cls: type[TemplateImportError], args: tuple[Any, ...], state: dict[str, Any]) -> TemplateImportError:
    error = cls.__new__(cls)
    error.args = args
    error.__dict__.update(state)
    return error


class TemplateLimitError(TemplateImportError):
    """The import went past a limit; ``code`` is ``time-limit``, ``memory-limit`` or ``too-large``."""


class MissingTokensError(TemplateImportError, UsageError):
    """The template uses special tokens (``bos_token``, ``eos_token``, …) whose text was not given."""

    def __init__(self, origin: str, tokens: list[str]) -> None:
        self.tokens = tokens
        options = " ".join(token_option(name) for name in tokens)
        super().__init__(
            origin,
            f"the template uses {', '.join(tokens)} but no text was given for it. Pass {options} "
            "(the model's tokenizer_config.json has them; import that file instead to take them from it), "
            "or an empty text if the model has none.",
            "missing-tokens",
        )


def token_option(name: str) -> str:
    """The import-template option that gives the text of the special token ``name``."""
    return f"--{name.replace('_', '-')} TEXT" if name in ("bos_token", "eos_token") else f"--token {name}=TEXT"


# What `apply_chat_template` passes besides the messages, the special tokens and the caller's variables.
CONTEXT_NAMES = frozenset({"messages", "add_generation_prompt", "tools", "documents", "strftime_now", "raise_exception"})


class _TemplateRaised(Exception):
    """The template called ``raise_exception``."""


# -- rendering chat templates in a sandbox ----------------------------------------------------------


@dataclass(frozen=True)
class ChatTemplate:
    """A chat template and the special-token texts it is rendered with."""

    source: str
    tokens: Mapping[str, str] = field(default_factory=dict)
    origin: str = "<template>"
    variables: Mapping[str, Any] = field(default_factory=dict)
    """Template variables (``date_string``, ``enable_thinking`` …), passed as
    ``apply_chat_template(..., **kwargs)`` passes them."""
    additional_special_tokens: tuple[str, ...] = ()

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.source.encode("utf-8")).hexdigest()

    def render(
        self, messages: list[dict[str, str]], *, add_generation_prompt: bool, now: tuple[int, ...] = DATES[0]
    ) -> str:
        """What Hugging Face ``apply_chat_template(messages, tokenize=False)`` gives, in a sandbox.

        ``now`` is the date ``strftime_now`` reports (fixed, so that renderings are reproducible).
        Raises `TemplateImportError` when the template raises or cannot be rendered.
        """
        import datetime

        from jinja2.sandbox import SecurityError

        template = _compile(self.source, self.origin)
        year, month, day, hour, minute, second = now
        moment = datetime.datetime(year, month, day, hour, minute, second)
        try:
            # as transformers: no tools and no documents unless given, the special tokens, then the caller's
            # variables (which win over a token of the same name)
            extra = {"additional_special_tokens": list(self.additional_special_tokens)} if self.additional_special_tokens else {}
            return template.render({
                "tools": None, "documents": None, **extra, **self.tokens, **self.variables, "messages": messages,
                "add_generation_prompt": add_generation_prompt, "strftime_now": moment.strftime,
            })
        except _TemplateRaised as exc:
            roles = "/".join(m["role"] for m in messages)
            raise TemplateImportError(
                self.origin, f"the template refuses the conversation {roles}: it raised {str(exc)!r}", "template-raises",
            ) from None
        except MemoryError:  # the memory limit's to report (`limits.run_limited`), not the template's refusal
            raise
        except SecurityError as exc:
            raise TemplateImportError(self.origin, f"the sandbox blocked an unsafe operation of the template: {exc}",
                                      "sandbox-blocked") from None
        except Exception as exc:  # the template is untrusted code: whatever it raises is a refusal, never a crash
            raise TemplateImportError(self.origin, f"the template failed to render: {type(exc).__name__}: {exc}",
                                      "render-failed") from None

    def undeclared_variables(self) -> list[str]:
        """Variables the template reads that neither `apply_chat_template`'s context nor this template gives."""
        given = CONTEXT_NAMES | set(self.tokens) | set(self.variables) | {"additional_special_tokens"}
        return sorted(name for name in self._names() if name not in given)

    def literals(self) -> tuple[str, ...]:
        """The string constants of the template's code (``'</think>'`` in ``content.split('</think>')``):
        contents holding one of them may render differently, so the verification puts them in contents."""
        from jinja2 import nodes

        tree = _environment().parse(self.source)
        found = {node.value for node in tree.find_all(nodes.Const) if isinstance(node.value, str) and node.value.strip()}
        return tuple(sorted(found))

    def _names(self) -> set[str]:
        from jinja2 import meta

        _compile(self.source, self.origin)  # a syntax error is reported as such, first
        return set(meta.find_undeclared_variables(_environment().parse(self.source)))

    def undeclared_tokens(self) -> list[str]:
        """Special tokens (``*_token`` variables) the template uses but that have no text here."""
        return sorted(name for name in self._names() if name.endswith("_token") and name not in self.tokens)


def _raise_exception(message: str) -> None:
    raise _TemplateRaised(message)


def _tojson(value: Any, ensure_ascii: bool = False, indent: int | None = None,
            separators: Any = None, sort_keys: bool = False) -> str:
    return json.dumps(value, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


_ENVIRONMENT: Any = None


def _environment() -> Any:
    """The sandboxed Jinja environment (built on first use: jinja2 is imported only by the importer)."""
    global _ENVIRONMENT
    if _ENVIRONMENT is None:
        from jinja2.ext import Extension, loopcontrols
        from jinja2.sandbox import ImmutableSandboxedEnvironment

        class GenerationTag(Extension):
            """``{% generation %}…{% endgeneration %}`` (Hugging Face's assistant-mask tag): renders its body."""

            tags = {"generation"}

            def parse(self, parser: Any) -> Any:
                next(parser.stream)
                return parser.parse_statements(("name:endgeneration",), drop_needle=True)

        env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[GenerationTag, loopcontrols])
        env.filters["tojson"] = _tojson
        env.globals["raise_exception"] = _raise_exception
        _ENVIRONMENT = env
    return _ENVIRONMENT


_COMPILED: dict[str, Any] = {}


def _compile(source: str, origin: str) -> Any:
    from jinja2 import TemplateSyntaxError

    if source not in _COMPILED:
        try:
            _COMPILED[source] = _environment().from_string(source)
        except TemplateSyntaxError as exc:
            raise TemplateImportError(origin, f"not a valid Jinja template: line {exc.lineno}: {exc.message}",
                                      "invalid-template") from None
        except (RecursionError, SyntaxError):  # Jinja's parser recurses; Python caps nested blocks (20)
            raise TemplateImportError(origin, "the template nests blocks or expressions too deeply to be compiled",
                                      "invalid-template") from None
        except MemoryError:
            raise
        except Exception as exc:  # untrusted code: whatever its compilation raises is a refusal
            raise TemplateImportError(origin, f"the template cannot be compiled: {type(exc).__name__}: {exc}",
                                      "invalid-template") from None
    return _COMPILED[source]


def load_chat_template(
    path: str | Path, *, template_name: str | None = None, tokens: Mapping[str, str] | None = None,
    variables: Mapping[str, Any] | None = None, max_bytes: int | None = None,
) -> ChatTemplate:
    """A chat template from a ``.jinja`` file, or from a ``tokenizer_config.json`` with its special tokens.

    From a tokenizer config: ``chat_template`` (a string, or a list of named templates, of which
    ``template_name`` or else ``"default"`` is taken), every ``*_token`` entry (a string or an
    ``{"content": …}`` object) and ``additional_special_tokens``. ``tokens`` add to, or override,
    those texts; ``variables`` are passed to the template as they are. A file of more than
    ``max_bytes`` is refused (`TemplateLimitError`, ``too-large``) before it is read.
    """
    path = Path(path)
    origin = path.name
    text = _read_text(path, max_bytes)
    found: dict[str, str] = {}
    additional: tuple[str, ...] = ()
    if path.suffix == ".json":
        text, found, additional = _from_tokenizer_config(text, str(path), template_name)
    elif template_name is not None:
        raise TemplateImportError(str(path), "--template-name applies to a tokenizer_config.json only")
    return ChatTemplate(text, {**found, **(tokens or {})}, origin, dict(variables or {}), additional)


def _read_text(path: Path, max_bytes: int | None) -> str:
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):  # a FIFO nobody writes to would wait forever
            raise TemplateImportError(str(path), "it is not a regular file (a FIFO, a device or a socket)")
        with path.open("rb") as file:
            data = file.read() if max_bytes is None else file.read(max_bytes + 1)
    except OSError as exc:
        raise TemplateImportError(str(path), f"cannot read it: {exc.strerror or exc}") from None
    if max_bytes is not None and len(data) > max_bytes:
        raise TemplateLimitError(str(path), f"it is larger than {max_bytes / 1024 / 1024:g} MB, the most a template file "
                                 "may have (--max-size to raise it)", "too-large")
    if not data:
        raise TemplateImportError(str(path), "it is empty")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise TemplateImportError(str(path), f"it is not UTF-8 text (byte {exc.start})") from None


def _from_tokenizer_config(
    text: str, origin: str, template_name: str | None
) -> tuple[str, dict[str, str], tuple[str, ...]]:
    config = _json_object(text, origin)
    if "chat_template" not in config:
        raise TemplateImportError(origin, "it has no chat_template key (is it a tokenizer_config.json of a chat model?)")
    chat_template = config["chat_template"]
    if isinstance(chat_template, list):
        chat_template = _named_template(_named_templates(chat_template, origin), template_name or "default", origin)
    elif template_name is not None:
        raise TemplateImportError(origin, "chat_template is a single template; leave out --template-name")
    if not isinstance(chat_template, str):
        raise TemplateImportError(origin, f"chat_template is {_kind(chat_template)}; {_SHAPE}")
    tokens = {}
    for key, value in config.items():
        if key.endswith("_token"):
            token = _token_text(value)
            if token is not None:
                tokens[key] = token
    extra = config.get("additional_special_tokens")
    additional = tuple(text for text in map(_token_text, extra) if text is not None) if isinstance(extra, list) else ()
    return chat_template, tokens, additional


_SHAPE = 'expected a string, or a list of {"name": …, "template": …} objects with string values (as Hugging Face allows)'


class _LargeNumber:
    """An integer of more digits than Python converts (``sys.get_int_max_str_digits``): no key the
    import reads is a number, so it is kept as an opaque value rather than refused."""

    def __init__(self, digits: str) -> None:
        self.digits = digits


def _parse_int(digits: str) -> int | _LargeNumber:
    return int(digits) if len(digits) <= 4000 else _LargeNumber(digits)


def _json_object(text: str, origin: str) -> dict[str, Any]:
    try:
        config = json.loads(text, parse_int=_parse_int)
    except json.JSONDecodeError as exc:
        raise TemplateImportError(origin, f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    except RecursionError:
        raise TemplateImportError(origin, "its JSON nests arrays or objects too deeply to be read") from None
    if not isinstance(config, dict):
        raise TemplateImportError(origin, f"it is {_kind(config)}, not a JSON object: a tokenizer_config.json is an "
                                  "object with a chat_template key")
    return config


def _named_templates(items: list[Any], origin: str) -> dict[str, str]:
    """``chat_template`` as a list: each item an object with a string ``name`` and ``template``."""
    if not items:
        raise TemplateImportError(origin, f"chat_template is an empty array; {_SHAPE}")
    named: dict[str, str] = {}
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise TemplateImportError(origin, f"chat_template[{index}] is {_kind(item)}; {_SHAPE}")
        for key in ("name", "template"):
            if not isinstance(item.get(key), str):
                found = "missing" if key not in item else _kind(item[key])
                raise TemplateImportError(origin, f"chat_template[{index}].{key} is {found}; {_SHAPE}")
        named[item["name"]] = item["template"]
    return named


def _named_template(named: dict[str, str], wanted: str, origin: str) -> str:
    if wanted not in named:
        choices = ", ".join(repr(n) for n in named)
        raise TemplateImportError(origin, f"chat_template has no template named {wanted!r}; pass --template-name, one of {choices}")
    return named[wanted]


def _kind(value: object) -> str:
    """What a JSON value is, in words."""
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float, _LargeNumber)):
        return "a number"
    return "a string"


def _token_text(value: object) -> str | None:
    """A special token's text: a string, or an ``{"content": …}`` (AddedToken) object."""
    token = value.get("content") if isinstance(value, dict) else value
    return token if isinstance(token, str) else None
