"""Conversations: an optional system message, then user and assistant messages alternating.

`Conversation` is the source of truth for ``schemas/conversation.schema.json`` (regenerate with
``promptfmt schema --write``). The schema says what a document looks like (roles, string contents,
no other keys in a message); the order of the roles is a rule JSON Schema cannot state, checked by
`order_problems` with a named reason for every refusal (docs/architecture.md, "Semantics"):

* ``tool-turn``: a tool, function or ipython message (tool calls are not conversations of text);
* ``unknown-role``: any other role;
* ``system-not-first``: a system message after the first message;
* ``not-starting-with-user``: the first message after the optional system one is not a user one;
* ``consecutive-user`` / ``consecutive-assistant``: two messages of one role in a row;
* ``empty-conversation``: no user message at all.

A conversation ending with an assistant message is training data; one ending with a user message
is a prompt. A `Record` is the one-turn conversation: the user message is the instruction, then the
format's separator and the input when it is not empty; the assistant message is the output.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, model_validator

from .errors import PromptfmtError
from .models import Loss, LossReason, Record, Verdict

Role = Literal["system", "user", "assistant"]
ROLES: tuple[str, ...] = ("system", "user", "assistant")
TOOL_ROLES = frozenset({"tool", "function", "ipython"})
DEFAULT_SEPARATOR = "\n"


class Message(BaseModel):
    """One message: a role and its text."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True, title="Message")

    role: Role = Field(description="system (only first), user or assistant.")
    content: str = Field(description="The text of the message.")


class Conversation(BaseModel):
    """A chat: an optional system message first, then user and assistant messages alternating,
    starting with user. Keys besides ``messages`` are metadata: kept, carried through unchanged."""

    model_config = ConfigDict(
        strict=True,
        extra="allow",
        title="Conversation",
        json_schema_extra={
            "description": (
                "One promptfmt conversation (OpenAI messages). The roles must come in this order: an optional "
                "system message, then user and assistant alternating, starting with user (checked by promptfmt "
                "with a named reason; JSON Schema cannot state it). Other keys are metadata."
            )
        },
    )

    messages: list[Message] = Field(min_length=1, description="The messages, in order.")

    @model_validator(mode="before")
    @classmethod
    def _roles_in_order(cls, data: Any) -> Any:
        """Refuse a role sequence with its reason before the messages are validated one by one."""
        messages = data.get("messages") if isinstance(data, dict) else None
        if isinstance(messages, list) and messages:
            roles = [m.role if isinstance(m, Message) else m.get("role") if isinstance(m, dict) else None
                     for m in messages]
            if all(isinstance(role, str) for role in roles):
                problems = order_problems(roles)  # type: ignore[arg-type]
                if problems:
                    first = problems[0]
                    raise ValueError(f"{first.code}: messages.{first.index}: {first.message}")
        return data

    @property
    def metadata(self) -> dict[str, Any]:
        """Keys of the item besides ``messages``, in their original order."""
        return dict(self.model_extra or {})

    @property
    def system(self) -> str | None:
        """The system message's text, if the conversation has one."""
        first = self.messages[0]
        return first.content if first.role == "system" else None

    @property
    def turns(self) -> list[Message]:
        """The user and assistant messages (the system message aside)."""
        return self.messages[1:] if self.messages[0].role == "system" else list(self.messages)

    @property
    def is_prompt(self) -> bool:
        """Whether it ends with a user message (a prompt for inference) rather than an answer."""
        return self.messages[-1].role == "user"

    @classmethod
    def of(cls, messages: list[tuple[str, str]], **metadata: Any) -> Conversation:
        """A conversation from ``(role, content)`` pairs (a shorthand for tests and examples)."""
        return cls.model_validate({"messages": [{"role": r, "content": c} for r, c in messages], **metadata})

    @classmethod
    def from_record(cls, record: Record, separator: str = DEFAULT_SEPARATOR) -> Conversation:
        """The one-turn conversation of ``record``; its metadata stays metadata."""
        user = record.instruction + separator + record.input if record.input != "" else record.instruction
        messages = [Message(role="user", content=user), Message(role="assistant", content=record.output)]
        return with_metadata(messages, record.metadata)


_MESSAGES: TypeAdapter[list[Message]] = TypeAdapter(list[Message])


def messages_of(pairs: Iterable[tuple[str, str]]) -> list[Message]:
    """`Message` objects of ``(role, content)`` pairs, validated in one call of pydantic's core (three
    times as fast as building them one by one: this is on the path of every converted conversation)."""
    return _MESSAGES.validate_python([{"role": role, "content": content} for role, content in pairs])


def with_metadata(messages: list[Message], metadata: dict[str, Any]) -> Conversation:
    """A conversation of messages already checked, with its metadata; `ValueError` when the metadata
    has a key ``messages``, which is the conversation's own (it would be lost)."""
    if "messages" in metadata:
        raise ValueError("the item has a metadata key 'messages', which a conversation uses itself; rename the key")
    return Conversation.model_construct(messages=messages, **metadata)


class ConversationRefused(PromptfmtError, ValueError):
    """A conversation a format cannot render: a reason code (``system-not-supported``,
    ``multi-turn-not-supported`` …), the index of the message concerned, and what to do."""

    def __init__(self, code: str, index: int | None, message: str) -> None:
        self.code = code
        self.index = index
        self.reason = message
        where = "" if index is None else f"message {index}: "
        super().__init__(f"{where}{code}: {message}")


@dataclass(frozen=True, slots=True)
class RoleProblem:
    """Why the roles of a conversation are refused: a reason code, the message index, a sentence."""

    code: str
    index: int
    message: str


def order_problems(roles: list[str]) -> list[RoleProblem]:
    """Every way the role sequence ``roles`` breaks the conversation rules (see the module docstring)."""
    problems: list[RoleProblem] = []
    previous: str | None = None
    seen_user = False
    for index, role in enumerate(roles):
        if role in TOOL_ROLES:
            problems.append(RoleProblem("tool-turn", index, f"a {role} message: tool calls and results are not "
                                        "conversations of text; drop the tool turns or keep them out of training"))
        elif role not in ROLES:
            problems.append(RoleProblem("unknown-role", index, f"the role {role!r} is none of system, user, assistant"))
        elif role == "system":
            if index:
                problems.append(RoleProblem("system-not-first", index,
                                            "a system message may only come first; merge it into the first one"))
        elif previous in (None, "system") and role != "user":
            problems.append(RoleProblem("not-starting-with-user", index,
                                        f"the conversation starts with {role}, not user"))
        elif role == previous:
            problems.append(RoleProblem(f"consecutive-{role}", index,
                                        f"two {role} messages in a row (messages {index - 1} and {index}); "
                                        "merge them or drop one"))
        seen_user = seen_user or role == "user"
        previous = role
    if not seen_user and not problems:
        problems.append(RoleProblem("empty-conversation", len(roles), "the conversation has no user message"))
    return problems


def conversation_verdict(
    conversation: Conversation, back: list[Message] | None, format_name: str, *,
    trimmed_roles: frozenset[str] = frozenset(), default_system: str | None = None, unmarked_system: bool = False,
) -> Verdict:
    """Lossless when ``back`` (what parsing the rendering gave, None when it did not parse) is the
    conversation's messages; otherwise a loss naming the first message that did not come back:
    ``trimmed-whitespace`` (its role's content is trimmed by the template), ``default-system`` (the
    template's default system text reads back as none), ``system-unmarked`` (``unmarked_system``:
    nothing in the format marks where a system message ends), else ``marker-in-content``."""
    messages = conversation.messages
    if back == messages:
        return Verdict()
    given = back or []
    index = next((i for i, (a, b) in enumerate(zip(messages, given)) if a != b), min(len(messages), len(given)))
    index = min(index, len(messages) - 1)
    message = messages[index]
    if message.role in trimmed_roles and message.content != message.content.strip():
        reason, why = LossReason.TRIMMED_WHITESPACE, "the template trims its surrounding whitespace"
    elif message.role == "system" and default_system is not None and message.content == default_system:
        reason, why = LossReason.DEFAULT_SYSTEM, "it is the template's default system text, which reads back as none"
    elif message.role == "system" and unmarked_system:
        reason, why = LossReason.SYSTEM_UNMARKED, f"nothing in {format_name} marks where a system message ends"
    elif message.role == "assistant" and message.content == "":
        reason, why = LossReason.EMPTY_OUTPUT, f"{format_name} writes nothing after an answer, so an empty one reads back as none"
    else:
        reason, why = LossReason.MARKER_IN_CONTENT, f"it holds text that {format_name} uses as markup"
    return Verdict((Loss(reason, f"messages.{index}", f"message {index} ({message.role}) does not read back: {why}"),))


class Segment(NamedTuple):
    """One piece of a rendered conversation: its text, the index of the message it belongs to (None
    for template markup), and whether a model is trained on it (an assistant message's content with
    the end-of-turn text the template emits after it). A named tuple: every rendering makes one per
    message and per markup run, and a tuple is built four times as fast as a frozen dataclass."""

    text: str
    message: int | None = None
    trainable: bool = False


@dataclass(frozen=True, slots=True)
class RenderedConversation:
    """The segments of a rendered conversation, in order; ``text`` is their join."""

    segments: tuple[Segment, ...]
    text: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "text", "".join([segment.text for segment in self.segments]))

    @property
    def prompt(self) -> str:
        """Everything before the last assistant message: the whole text of a conversation that ends
        with a user message (a prompt)."""
        last = self._last_answer()
        return self.text if last is None else "".join(s.text for s in self.segments[:last])

    @property
    def completion(self) -> str:
        """The last assistant message's segment and what follows it; empty for a prompt."""
        last = self._last_answer()
        return "" if last is None else "".join(s.text for s in self.segments[last:])

    def as_dict(self) -> dict[str, str]:
        """``prompt``, ``completion`` and ``text``, as `Rendered.as_dict` gives them for a record."""
        return {"prompt": self.prompt, "completion": self.completion, "text": self.text}

    def _last_answer(self) -> int | None:
        """The index of the last message's segment when that message is an answer (trainable)."""
        for index in range(len(self.segments) - 1, -1, -1):
            segment = self.segments[index]
            if segment.message is not None:
                return index if segment.trainable else None
        return None
