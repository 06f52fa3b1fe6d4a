"""The format contract: a named prompt style that renders records, parses text back and judges losslessness."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

from .conversation import (
    Conversation,
    ConversationRefused,
    Message,
    RenderedConversation,
    Segment,
    conversation_verdict,
)
from .models import Query, Record, Rendered, Verdict


class Format(ABC):
    """A prompt style.

    Subclasses set the four class attributes (or instance attributes of the same names) and
    implement `render`, `parse` and `check`. The contract, proven for every registered format by
    the conformance kit in `promptfmt.testing`:

    * ``render(r).text == render(r).prompt + render(r).completion``; the prompt does not depend on
      the output.
    * ``parse(render(r).text) == r`` exactly when ``check(r).lossless``.
    * ``render(parse(t)).text == t`` for every text that ``parse`` accepts; other text raises
      `promptfmt.errors.ParseError` naming the offset and what was expected.
    * ``parse(render(r).prompt)`` gives a `Query` (no output) for inference.
    """

    name: str
    multi_turn: bool = False  # whether render_conversation takes several turns (and parse_conversation reads them)
    # the name of a format that renders every record exactly as this one does, this one rendering more
    # (Gemma 3 adds a system message to Gemma's turns): detection names that simpler one on a tie
    extends: str | None = None
    aliases: tuple[str, ...] = ()
    description: str = ""
    reference: str = ""
    # the BOS text every rendering starts with ("<|begin_of_text|>", "<bos>", "<s>"), "" for none: a
    # trainer whose tokenizer adds its own BOS to plain text would start with two
    bos: str = ""
    # whether the reference appends the tokenizer's EOS token after the text rather than an end text
    # (Stanford Alpaca's train.py, the course's collate function): tokenizing appends its id
    append_eos: bool = False

    @abstractmethod
    def render(self, record: Query) -> Rendered:
        """Render a record; a `Query` (no output) renders as a prompt with an empty completion."""

    @abstractmethod
    def parse(self, text: str) -> Query:
        """Give back the `Record` of a rendered text, or the `Query` of a prompt alone."""

    @abstractmethod
    def check(self, record: Query) -> Verdict:
        """Say whether `render` then `parse` gives this record back, and if not, why."""

    def render_fields(self, instruction: str, input: str, output: str) -> tuple[str, str]:
        """``(prompt, completion)`` of a record given as plain strings; formats may make it faster."""
        rendered = self.render(Record(instruction=instruction, input=input, output=output))
        return rendered.prompt, rendered.completion

    def render_text_fields(self, instruction: str, input: str, output: str) -> str:
        """The text (``prompt + completion``) of a record given as plain strings."""
        prompt, completion = self.render_fields(instruction, input, output)
        return prompt + completion

    def check_fields(self, instruction: str, input: str = "", output: str | None = None) -> Verdict:
        """`check` on plain strings (``output=None`` for a prompt alone); formats may make it faster."""
        if output is None:
            return self.check(Query(instruction=instruction, input=input))
        return self.check(Record(instruction=instruction, input=input, output=output))

    @property
    def markers(self) -> tuple[str, ...]:
        """Substrings that betray text already rendered in this format (used by validation)."""
        return ()

    def detect(self, text: str) -> bool:
        """Whether ``text`` is a full text or a prompt that this format produced."""
        try:
            self.parse(text)
        except ValueError:
            return False
        return True

    def render_conversation(self, conversation: Conversation) -> RenderedConversation:
        """The segments of ``conversation``; `ConversationRefused` names what the format cannot render.

        This default serves formats of one turn: one user message (the instruction) and one answer,
        no system message. Chat formats render any number of turns (`promptfmt.templating.turns`).
        """
        if conversation.system is not None:
            raise ConversationRefused("system-not-supported", 0,
                                      f"{self.name} renders records, which have no place for a system message")
        turns = conversation.turns
        if len(turns) > 2:
            raise ConversationRefused("multi-turn-not-supported", len(conversation.messages) - len(turns) + 2,
                                      f"{self.name} renders one user message and its answer, not several turns")
        user = turns[0].content
        if len(turns) == 1:
            return _split(self.render(Query(instruction=user)).prompt, user, 0)
        rendered = self.render(Record(instruction=user, output=turns[1].content))
        answer = len(conversation.messages) - 1
        segments = _split(rendered.prompt, user, answer - 1).segments
        return RenderedConversation((*segments, Segment(rendered.completion, answer, True)))

    def parse_conversation(self, text: str) -> Conversation:
        """The conversation a rendered text holds. This default serves formats of one turn: the
        record's instruction (and input, after a newline) is the user message, its output the answer."""
        parsed = self.parse(text)
        user = parsed.instruction + "\n" + parsed.input if parsed.input else parsed.instruction
        messages = [Message(role="user", content=user)]
        if isinstance(parsed, Record):
            messages.append(Message(role="assistant", content=parsed.output))
        return Conversation.model_construct(messages=messages)

    def check_conversation(self, conversation: Conversation, rendered: RenderedConversation | None = None) -> Verdict:
        """Whether `parse_conversation` gives the messages of the rendering back, and if not, which
        message comes back otherwise and why; `ConversationRefused` as `render_conversation`.
        ``rendered``: the conversation's rendering, when the caller has it already."""
        rendered = rendered or self.render_conversation(conversation)
        try:
            back: list[Message] | None = self.parse_conversation(rendered.text).messages
        except ValueError:
            back = None
        return self._conversation_verdict(conversation, back)

    def _conversation_verdict(self, conversation: Conversation, back: list[Message] | None) -> Verdict:
        """The verdict of a round trip that gave ``back``; formats that know why a message changes
        (trimming, a default system text) name the reason."""
        return conversation_verdict(conversation, back, self.name)

    def without_bos(self, text: str) -> str:
        """``text`` without the leading `bos` (asked for explicitly: ``--strip-bos``, ``strip_bos=True``)."""
        bos = self.bos
        return text[len(bos):] if bos and text.startswith(bos) else text

    def render_text(self, record: Record) -> str:
        return self.render(record).text

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"


@dataclass(frozen=True, slots=True)
class Match:
    """One format's answer about one text.

    ``structure`` counts the characters of the text that are the format's own literal pieces rather
    than record content (``len(text)`` minus the lengths of the parsed fields); ``reason`` says why a
    rejected text is not the format's, and ``offset`` where in the text the format gave up.
    """

    format: str
    accepted: bool
    structure: int = 0
    reason: str = ""
    offset: int = 0


def match_text(fmt: Format, text: str) -> Match:
    """Whether ``fmt`` produced ``text``: it parses (as a record, or for a chat format as a
    conversation), and the result renders back to the same text. Of a record and a conversation that
    both fit, the one that explains more of the text as markup is the answer."""
    chat = _match_conversation(fmt, text) if fmt.multi_turn else None
    try:
        parsed = fmt.parse(text)
    except ValueError as exc:  # ParseError, or a plugin's own ValueError
        return chat or Match(fmt.name, False, reason=str(exc), offset=getattr(exc, "offset", 0))
    if fmt.render(parsed).text != text:
        return chat or Match(fmt.name, False, reason="the text parses, but the record renders back to different text")
    record = Match(fmt.name, True, structure=len(text) - sum(len(value) for value in parsed.fields().values()))
    return chat if chat is not None and chat.structure > record.structure else record


def _match_conversation(fmt: Format, text: str) -> Match | None:
    """The match of a text that holds a conversation ``fmt`` renders exactly, else None."""
    try:
        conversation = fmt.parse_conversation(text)
        rendered = fmt.render_conversation(conversation).text
    except ValueError:  # ParseError, ConversationRefused, a plugin's own ValueError
        return None
    if rendered != text:
        return None
    return Match(fmt.name, True, structure=len(text) - sum(len(m.content) for m in conversation.messages))


def _split(prompt: str, user: str, index: int) -> RenderedConversation:
    """A prompt as markup around the user message (the whole prompt is the message's when it does
    not hold the message exactly once)."""
    if not user or prompt.count(user) != 1:
        return RenderedConversation((Segment(prompt, index),))
    at = prompt.index(user)
    pieces = (Segment(prompt[:at]), Segment(user, index), Segment(prompt[at + len(user):]))
    return RenderedConversation(tuple(piece for piece in pieces if piece.text or piece.message is not None))
