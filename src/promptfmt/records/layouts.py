"""Dataset layouts: how a file stores its items, and how items map to records and back.

Input layouts, told apart by the keys of an item (`detect_layout`):

* ``alpaca``: records ``{"instruction", "input", "output", ...}``;
* ``text``: rendered texts ``{"text", ...}``;
* ``prompt-completion``: rendered records split where the format splits them ``{"prompt", "completion", ...}``;
* ``messages``: OpenAI chat ``{"messages": [{"role", "content"}, ...], ...}``;
* ``sharegpt``: ``{"conversations": [{"from", "value"}, ...], ...}`` (``human`` is the user, ``gpt`` the
  assistant, ``system`` the system).

Output layouts are the same five (`OUTPUT_LAYOUTS`) and ``segments`` (the rendering of each item in
pieces: text, message, role, trainable); ``text``, ``prompt-completion`` and ``segments`` need a format.
Keys of an item other than the ones its layout defines are *metadata*, carried over unchanged.

Conversations map to records this way (the way the built-in chat formats join a user message):

* exactly one user message then one assistant message, after an optional system message; anything
  else (several turns, a tool turn, a message with keys besides role and content) is refused with a
  reason, never cut down;
* the user message is ``instruction`` when it holds no ``"\\n"``; otherwise ``instruction`` is the text
  before the first ``"\\n"`` and ``input`` the text after it (when that is empty, the whole message is
  the instruction). Written back, the user message is ``instruction + "\\n" + input`` (just the
  instruction when the input is empty). A record whose instruction holds a ``"\\n"`` therefore does
  not survive the trip (`conversation_losses`);
* the system message becomes the metadata key ``system``, and a string ``system`` metadata key becomes
  the system message again.

Everything here works on plain dicts and strings: no pydantic per item.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from ..conversation import TOOL_ROLES, Conversation, Message, messages_of, order_problems, with_metadata
from ..errors import ParseError
from ..format import Format
from ..models import Record
from .fields import Problem, kind

ALPACA = "alpaca"
TEXT = "text"
PROMPT_COMPLETION = "prompt-completion"
MESSAGES = "messages"
SHAREGPT = "sharegpt"

INPUT_LAYOUTS = (ALPACA, TEXT, PROMPT_COMPLETION, MESSAGES, SHAREGPT)
SEGMENTS = "segments"
OUTPUT_LAYOUTS = (TEXT, PROMPT_COMPLETION, SEGMENTS, ALPACA, MESSAGES, SHAREGPT)
TOKENS = "tokens"  # written by promptfmt tokenize only: input_ids, labels, attention_mask
RENDERED_LAYOUTS = (TEXT, PROMPT_COMPLETION)  # readable: parsed with --from
CONVERSATION_LAYOUTS = (MESSAGES, SHAREGPT)

MESSAGE_SEPARATOR = "\n"
SYSTEM_KEY = "system"
SHAREGPT_ROLES = {"human": "user", "gpt": "assistant", "system": "system", "user": "user", "assistant": "assistant"}
_SHAREGPT_NAMES = {"user": "human", "assistant": "gpt", "system": "system"}

# The keys each layout defines; any other key of an item is metadata.
LAYOUT_KEYS: dict[str, frozenset[str]] = {
    ALPACA: frozenset(("instruction", "input", "output")),
    TEXT: frozenset(("text",)),
    PROMPT_COMPLETION: frozenset(("prompt", "completion")),
    SEGMENTS: frozenset(("segments",)),
    TOKENS: frozenset(("input_ids", "labels", "attention_mask")),
    MESSAGES: frozenset(("messages",)),
    SHAREGPT: frozenset(("conversations",)),
}

LAYOUT_KEY = {MESSAGES: "messages", SHAREGPT: "conversations"}  # where a conversation layout keeps its turns


def message_field(layout: str, index: int | None) -> str:
    """Where an item of the input ``layout`` keeps its message ``index``: ``messages.3``, or ``text`` for
    a conversation read back from rendered text."""
    key = LAYOUT_KEY.get(layout)
    if key is None:
        return "text"
    return key if index is None else f"{key}.{index}"


def detect_layout(value: Any) -> str:
    """The input layout of one item, from its keys (``alpaca`` when nothing else fits)."""
    if isinstance(value, dict):
        if "conversations" in value:
            return SHAREGPT
        if "messages" in value:
            return MESSAGES
        if "instruction" in value or "output" in value:
            return ALPACA
        if "prompt" in value and "completion" in value:
            return PROMPT_COMPLETION
        if "text" in value:
            return TEXT
    return ALPACA


def needs_format(layout: str) -> bool:
    """Whether items of ``layout`` are rendered text (a format is needed to read or write them)."""
    return layout in RENDERED_LAYOUTS or layout in (SEGMENTS, TOKENS)


# -- items to records ----------------------------------------------------------------------------

Reader = Callable[[Any], "dict[str, Any] | list[Problem] | Conversation"]


def reader(layout: str, parser: Format | None = None, *, one_turn_records: bool = True) -> Reader:
    """A function from one item of ``layout`` to a record-shaped dict (fields and metadata) or problems.

    ``parser`` is the format of rendered layouts (``text``, ``prompt-completion``). Alpaca items are
    returned as they are: checking them is validation's job. A one-turn conversation is read as a
    record (the fast path) unless ``one_turn_records`` is off: rendered in a chat format, it is judged
    as the conversation it is, its losses named at its messages.
    """
    if layout in CONVERSATION_LAYOUTS and not one_turn_records:
        return lambda value: conversation_of(value, layout)
    if layout == ALPACA:
        return _same
    if layout in RENDERED_LAYOUTS:
        if parser is None:
            raise ValueError(f"reading the {layout} layout needs the format the texts were rendered in")
        return (lambda value: _from_text(value, parser)) if layout == TEXT else (lambda value: _from_prompt_completion(value, parser))
    if layout == MESSAGES:
        return _from_messages
    if layout == SHAREGPT:
        return _from_sharegpt
    raise ValueError(f"unknown layout {layout!r}; choose one of {', '.join(INPUT_LAYOUTS)}")


def _same(value: Any) -> Any:
    return value


def _not_an_object(layout: str, value: Any) -> list[Problem]:
    return [Problem("not-an-object", "$", f"expected a JSON object of the {layout} layout, got {type(value).__name__}")]


def _string_field(value: dict[str, Any], key: str, layout: str) -> str | Problem:
    got = value.get(key)
    if isinstance(got, str):
        return got
    if key not in value:
        return Problem("missing-field", key, f"the {layout} layout needs the field {key!r}")
    return Problem("wrong-type", key, f"{key} must be a string, got {kind(got)}")


def _from_text(value: Any, fmt: Format) -> dict[str, Any] | list[Problem] | Conversation:
    if not isinstance(value, dict):
        return _not_an_object(TEXT, value)
    text = _string_field(value, "text", TEXT)
    if isinstance(text, Problem):
        return [text]
    return _parsed(fmt, text, "text", value, TEXT)


def _from_prompt_completion(value: Any, fmt: Format) -> dict[str, Any] | list[Problem] | Conversation:
    if not isinstance(value, dict):
        return _not_an_object(PROMPT_COMPLETION, value)
    prompt = _string_field(value, "prompt", PROMPT_COMPLETION)
    completion = _string_field(value, "completion", PROMPT_COMPLETION)
    if isinstance(prompt, Problem) or isinstance(completion, Problem):
        return [p for p in (prompt, completion) if isinstance(p, Problem)]
    record = _parsed(fmt, prompt + completion, "prompt", value, PROMPT_COMPLETION)
    if isinstance(record, dict):
        expected = fmt.render(Record.model_validate(_fields(record))).prompt
        if expected != prompt:
            return [Problem(
                "prompt-split", "prompt",
                f"the prompt does not end where {fmt.name} ends it: {fmt.name} puts {_tail(expected)} at the end of "
                f"the prompt, this item {_tail(prompt)}. Join prompt and completion into 'text' to convert it anyway.",
            )]
    return record


def _parsed(
    fmt: Format, text: str, field: str, value: dict[str, Any], layout: str,
) -> dict[str, Any] | list[Problem] | Conversation:
    if layout == TEXT and fmt.multi_turn:  # several turns, or a system message, read as the conversation
        conversation = _conversation_in(fmt, text, value)
        if conversation is not None and not conversation.is_prompt and \
                [m.role for m in conversation.messages] != ["user", "assistant"]:
            return conversation
    try:
        parsed = fmt.parse(text)
    except ValueError as exc:  # ParseError, or a plugin's own
        if isinstance(exc, ParseError):
            return [Problem("parse-error", field, f"{exc}. Is it {fmt.name} text? Pass the right --from, or --from auto.")]
        return [Problem("parse-error", field, f"not {fmt.name} text: {exc}")]
    if not isinstance(parsed, Record):
        return [Problem("no-output", field, f"the text is a {fmt.name} prompt without a completion: there is no output to convert")]
    record: dict[str, Any] = {"instruction": parsed.instruction, "input": parsed.input, "output": parsed.output}
    return _with_metadata(record, value, layout)


def _conversation_in(fmt: Format, text: str, value: dict[str, Any]) -> Conversation | None:
    """The conversation ``text`` renders, with the item's other keys as metadata; None when it is none."""
    try:
        parsed = fmt.parse_conversation(text)
    except ValueError:
        return None
    metadata = {key: item for key, item in value.items() if key != "text"}
    conversation = _conversation(parsed.messages, metadata)
    return conversation if isinstance(conversation, Conversation) else None


def _fields(record: dict[str, Any]) -> dict[str, Any]:
    return {key: record[key] for key in ("instruction", "input", "output")}


def _tail(text: str) -> str:
    return repr(text[-24:]) if text else "nothing"


def _with_metadata(record: dict[str, Any], value: dict[str, Any], layout: str) -> dict[str, Any] | list[Problem]:
    own = LAYOUT_KEYS[layout]
    problems = []
    for key, item in value.items():
        if key in own:
            continue
        if key in record:
            problems.append(Problem(
                "metadata-collision", key,
                f"the {layout} item has a key {key!r}, which the record it converts to defines itself; rename the key",
            ))
        record[key] = item
    return problems or record


@dataclass(frozen=True)
class _Conversation:
    """How a conversation layout spells its turns: the list key, the two keys of a turn, the roles."""

    layout: str
    key: str
    role_key: str
    content_key: str
    roles: dict[str, str]  # the role as written -> system, user or assistant

    def turns(self, value: Any) -> list[tuple[str, str]] | list[Problem]:
        """``(role, content)`` of every turn of ``value``, or the problem with the first bad one."""
        if not isinstance(value, dict):
            return _not_an_object(self.layout, value)
        role_key, content_key = self.role_key, self.content_key
        turns = value.get(self.key)
        if not isinstance(turns, list):
            return [Problem("wrong-type", self.key,
                            f"{self.key} must be an array of {{{role_key}, {content_key}}} objects, got {kind(turns)}")]
        found: list[tuple[str, str]] = []
        for number, turn in enumerate(turns):
            where = f"{self.key}.{number}"
            if not isinstance(turn, dict):
                return [Problem("wrong-type", where, f"a turn must be an object with {role_key} and {content_key}, got {kind(turn)}")]
            extra = [] if len(turn) == 2 and role_key in turn and content_key in turn else \
                sorted(set(turn) - {role_key, content_key})
            if extra:
                return [Problem("unsupported-key", f"{where}.{extra[0]}",
                                f"a turn with keys besides {role_key} and {content_key} ({', '.join(extra)}) "
                                "cannot be converted without losing them")]
            written, content = turn.get(role_key), turn.get(content_key)
            role = self.roles.get(written) if isinstance(written, str) else None
            if role is None:
                if written in TOOL_ROLES:
                    return [Problem("tool-turn", f"{where}.{role_key}",
                                    f"a {written} turn: tool calls and results are not conversations of text; drop the "
                                    "tool turns or keep such items out of training")]
                return [Problem("unknown-role", f"{where}.{role_key}",
                                f"{role_key} {written!r} is not a role of a conversation: only {', '.join(self.roles)}")]
            if not isinstance(content, str):
                return [Problem("wrong-type", f"{where}.{content_key}", f"{content_key} must be a string, got {kind(content)}")]
            found.append((role, content))
        return found

    def read(self, value: Any) -> dict[str, Any] | list[Problem] | Conversation:
        turns = self.turns(value)
        if turns and isinstance(turns[0], Problem):
            return turns
        return _from_turns(cast("list[tuple[str, str]]", turns), value, self.layout, self.key)


_MESSAGES = _Conversation(MESSAGES, "messages", "role", "content", {"system": "system", "user": "user", "assistant": "assistant"})
_SHAREGPT = _Conversation(SHAREGPT, "conversations", "from", "value", SHAREGPT_ROLES)
_from_messages = _MESSAGES.read
_from_sharegpt = _SHAREGPT.read


def _from_turns(
    turns: list[tuple[str, str]], value: dict[str, Any], layout: str, key: str,
) -> dict[str, Any] | list[Problem] | Conversation:
    """A record for one user message and its answer (the common case, no model built); otherwise the
    `Conversation`, or the problem that refuses it (its reason and the message it concerns)."""
    if len(turns) == 2 and turns[0][0] == "user" and turns[1][0] == "assistant":
        return _record(turns, None, value, layout, key)
    return _in_order(turns, value, key)


def conversation_of(value: Any, layout: str) -> Conversation | list[Problem]:
    """The item ``value`` of a conversation layout as a `Conversation` (one turn included), or its problems."""
    spelling = _MESSAGES if layout == MESSAGES else _SHAREGPT
    turns = spelling.turns(value)
    if turns and isinstance(turns[0], Problem):
        return turns  # problems, or turns only
    return _in_order(cast("list[tuple[str, str]]", turns), value, spelling.key)


def _in_order(turns: list[tuple[str, str]], value: dict[str, Any], key: str) -> Conversation | list[Problem]:
    """The conversation of ``turns`` (the item's other keys its metadata), or the first rule it breaks."""
    if not turns:
        return [Problem("empty-conversation", key, "the conversation has no messages")]
    problems = order_problems([role for role, _ in turns])
    if problems:
        first = problems[0]
        where = f"{key}.{first.index}" if first.index < len(turns) else key
        return [Problem(first.code, where, first.message)]
    metadata = {name: item for name, item in value.items() if name != key}
    return _conversation(messages_of(turns), metadata)


def _conversation(messages: list[Message], metadata: dict[str, Any]) -> Conversation | list[Problem]:
    try:
        return with_metadata(messages, metadata)
    except ValueError as exc:
        return [Problem("metadata-collision", "messages", str(exc))]


def conversation_layout(value: dict[str, Any]) -> str | None:
    """``messages`` or ``sharegpt`` for an item that is a conversation rather than a record, else None."""
    if "instruction" in value or "output" in value:
        return None
    if type(value.get("messages")) is list:
        return MESSAGES
    if type(value.get("conversations")) is list:
        return SHAREGPT
    return None


def record_of(conversation: Conversation, layout: str) -> dict[str, Any] | list[Problem]:
    """The record of a one-turn conversation (its system message becomes the metadata key ``system``),
    or why it has none."""
    key = message_field(layout, None)
    turns: list[tuple[str, str]] = [(message.role, message.content) for message in conversation.turns]
    if [role for role, _ in turns] != ["user", "assistant"]:
        return [Problem(
            "not-single-turn", key,
            "only single-turn conversations convert to records (an optional system message, one user message, "
            f"one assistant message); this one has {_describe_roles([role for role, _ in turns])}. Write it with "
            "--layout messages or sharegpt, or render it with --to FORMAT",
        )]
    return _record(turns, conversation.system, conversation.metadata, layout, key)


def _record(turns: list[tuple[str, str]], system: str | None, value: dict[str, Any], layout: str,
            key: str) -> dict[str, Any] | list[Problem]:
    instruction, input = split_user_message(turns[0][1])
    record: dict[str, Any] = {"instruction": instruction, "input": input, "output": turns[1][1]}
    result = _with_metadata(record, value, layout)
    if system is not None and isinstance(result, dict):
        if SYSTEM_KEY in value:
            return [Problem("metadata-collision", SYSTEM_KEY,
                            f"the item has both a system message and a key {SYSTEM_KEY!r}; rename the key")]
        result[SYSTEM_KEY] = system
    return result


def _describe_roles(roles: list[str]) -> str:
    if not roles:
        return "no user or assistant message"
    return "the messages " + ", ".join(roles)


def split_user_message(content: str) -> tuple[str, str]:
    """``(instruction, input)`` of a user message: split at the first ``"\\n"`` when text follows it."""
    instruction, separator, input = content.partition(MESSAGE_SEPARATOR)
    if not separator or not input:
        return content, ""
    return instruction, input


def join_user_message(instruction: str, input: str) -> str:
    """The user message of a record: the instruction, then ``"\\n"`` and the input when there is one."""
    return instruction + MESSAGE_SEPARATOR + input if input else instruction
