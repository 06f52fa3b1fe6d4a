"""Token ids and labels of renderings, from their segments (docs/tokens.md).

The whole text of a rendering is encoded once; labels come from the character spans of its trained
segments through the tokenizer's offsets of that whole text, so pieces tokenized apart can never
drift from it. What is trained (``train_on``):

* ``assistant``: every assistant message with the end-of-turn text after it (the default);
* ``last``: the last assistant message only;
* ``completion``: everything after the prompt (the last answer and what follows), as the course's
  exercise 7.2 masks the instruction;
* ``all``: every token (the course's main chapter): labels equal the ids.

A token holding characters of a trained span and of untrained text is trained, as in Hugging Face's
``return_assistant_tokens_mask``, and reported (``token-boundary``). Special-token text inside a
message is encoded as plain text, never as the control token, and reported (``special-token-text``).
With ``check_prefix``, the ids of the text before each trained span must begin the whole text's ids
(LLaMA-Factory's invariant), or the item is reported (``prefix-mismatch``).
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any, NamedTuple

from ..conversation import Message, RenderedConversation
from ..errors import UsageError
from .tokenizer import EncodeError, Encoding, Tokenizer, TokenizerError

IGNORE = -100
TRAIN_ON = ("assistant", "last", "completion", "all")
_START, _END = itemgetter(0), itemgetter(1)


class Finding(NamedTuple):
    """Something to report about one item: a check code, the field concerned, a sentence."""

    code: str
    field: str
    message: str


@dataclass(frozen=True, slots=True)
class Tokenized:
    """One item's ids and labels (``IGNORE`` where nothing is learned), and what was found."""

    input_ids: list[int]
    labels: list[int]
    findings: tuple[Finding, ...] = ()
    refused: Finding | None = None  # why the item cannot be tokenized at all (its ids are empty)

    @property
    def trained(self) -> bool:
        """Whether any token is learned."""
        return self.labels.count(IGNORE) < len(self.labels)

    def as_dict(self) -> dict[str, Any]:
        return {"input_ids": self.input_ids, "labels": self.labels, "attention_mask": [1] * len(self.input_ids)}


class Span(NamedTuple):
    start: int
    end: int
    message: int | None


class Labeler:
    """Tokenizes renderings for training with one tokenizer and one choice of what is trained."""

    def __init__(self, tokenizer: Tokenizer, *, train_on: str = "assistant", append_eos: bool = False,
                 check_prefix: bool = True) -> None:
        if train_on not in TRAIN_ON:
            raise UsageError(f"unknown --train-on {train_on!r}; choose one of {', '.join(TRAIN_ON)}")
        if append_eos and tokenizer.eos is None:
            raise TokenizerError(tokenizer.path, "the format appends the tokenizer's EOS token, and this tokenizer names "
                                                 "none: pass --eos-token TEXT")
        self.tokenizer, self.train_on, self.append_eos = tokenizer, train_on, append_eos
        self.check_prefix = check_prefix and train_on != "all"
        special = tokenizer.special
        self._special_ids = frozenset(special.values())
        # a message is searched for special-token text only when it holds one of their first two characters
        self._probe = re.compile("|".join(re.escape(text) for text in {text[:2] for text in special})).search
        self._special_text = re.compile("|".join(map(re.escape, sorted(special, key=len, reverse=True)))) if special else None

    def tokenize(self, renderings: Sequence[tuple[RenderedConversation, Sequence[Message]]]) -> list[Tokenized]:
        """Each rendering's `Tokenized`, in order (``renderings``: a rendering and its conversation's messages)."""
        texts = [rendering.text for rendering, _ in renderings]
        refused = {index: _surrogate(messages) for index, (text, (_, messages)) in enumerate(zip(texts, renderings))
                   if not _encodable(text)}
        encodings = self._encode([text if index not in refused else "" for index, text in enumerate(texts)], refused)
        results: list[Tokenized] = []
        prefixes: list[tuple[int, Span, int]] = []  # (item, span, tokens before it) whose prefix is checked
        for index, ((rendering, messages), encoding) in enumerate(zip(renderings, encodings)):
            if index in refused:
                results.append(Tokenized([], [], refused=refused[index]))
                continue
            findings: list[Finding] = []
            spans = self._spans(rendering)
            inside = self._special_in_content(rendering, messages, findings)
            if inside:
                try:
                    encoding = self._piecewise(rendering.text, encoding, inside)
                except EncodeError as exc:
                    results.append(Tokenized([], [], refused=_unencodable(exc)))
                    continue
            labels, before = self._label_spans(encoding, spans, findings)
            if self.check_prefix and not inside:
                prefixes += [(index, span, count) for span, count in zip(spans, before) if count >= 0 and span.start]
            results.append(self._finish(rendering.text, encoding, labels, spans, findings))
        if prefixes:
            self._check_prefixes(renderings, encodings, prefixes, results)
        return results

    def _encode(self, texts: list[str], refused: dict[int, Finding]) -> list[Encoding]:
        """The batch's encodings; when the tokenizer cannot encode one text, each text alone, and the
        ones it cannot encode are added to ``refused`` (with empty encodings)."""
        try:
            return self.tokenizer.encode_batch(texts)
        except EncodeError:
            pass
        encodings = []
        for index, text in enumerate(texts):
            try:
                encodings += self.tokenizer.encode_batch([text])
            except EncodeError as exc:
                refused[index] = _unencodable(exc)
                encodings.append(Encoding([], []))
        return encodings

    # -- spans and labels ------------------------------------------------------------------------

    def _spans(self, rendering: RenderedConversation) -> list[Span]:
        """The character spans trained under ``train_on``."""
        length = len(rendering.text)
        if self.train_on == "all":
            return [Span(0, length, None)] if length else []
        spans, at = [], 0
        for segment in rendering.segments:
            end = at + len(segment.text)
            if segment.trainable and end > at:
                spans.append(Span(at, end, segment.message))
            at = end
        if not spans or self.train_on == "assistant":
            return spans
        last = spans[-1]
        return [last] if self.train_on == "last" else [Span(last.start, length, last.message)]

    def _label_spans(self, encoding: Encoding, spans: list[Span], findings: list[Finding]) -> tuple[list[int], list[int]]:
        """The labels of the spans' tokens, and per span how many tokens come before it (-1 when its
        start falls inside a token)."""
        ids, offsets = encoding.ids, encoding.offsets
        labels = [IGNORE] * len(ids)
        before: list[int] = []
        for span in spans:
            first = bisect_right(offsets, span.start, key=_END)
            stop = bisect_left(offsets, span.end, lo=first, key=_START)
            labels[first:stop] = ids[first:stop]
            inside_start = first < stop and offsets[first][0] < span.start
            before.append(-1 if inside_start else first)
            if inside_start:
                findings.append(self._boundary(span, "start", span.start, first, encoding))
            if first < stop and offsets[stop - 1][1] > span.end:
                findings.append(self._boundary(span, "end", span.end, stop - 1, encoding))
        return labels, before

    def _boundary(self, span: Span, side: str, at: int, token: int, encoding: Encoding) -> Finding:
        where = "the trained text" if span.message is None else f"message {span.message}"
        start, end = encoding.offsets[token]
        shown = self.tokenizer.decode([encoding.ids[token]])
        return Finding("token-boundary", _field(span.message),
                       f"the {side} of {where} (character {at}) falls inside token {token} {shown!r} (characters "
                       f"{start}-{end}), which is trained: a mask of pieces tokenized apart would differ here")

    def _finish(self, text: str, encoding: Encoding, labels: list[int], spans: list[Span],
                findings: list[Finding]) -> Tokenized:
        ids = list(encoding.ids)
        if self.append_eos:
            assert self.tokenizer.eos is not None
            ids.append(self.tokenizer.eos)
            labels.append(self.tokenizer.eos if spans and spans[-1].end == len(text) else IGNORE)
        prefix = self.tokenizer.prefix
        if prefix and not (ids and ids[0] == self.tokenizer.bos):  # the rendered BOS text wins over the tokenizer's
            ids = [*prefix, *ids]
            labels = [IGNORE] * len(prefix) + labels
        if self.train_on == "all":
            labels = list(ids)
        return Tokenized(ids, labels, tuple(findings))

    # -- special-token text inside messages ------------------------------------------------------

    def _special_in_content(self, rendering: RenderedConversation, messages: Sequence[Message],
                            findings: list[Finding]) -> list[tuple[int, int]]:
        """The character spans of the messages that hold special-token text (each reported), else []."""
        pattern, probe = self._special_text, self._probe
        if pattern is None:
            return []
        holding = [index for index, message in enumerate(messages)
                   if probe(message.content) and pattern.search(message.content)]
        if not holding:
            return []
        spans = []
        at = 0
        for segment in rendering.segments:
            if segment.message in holding:
                start, end = _content_span(segment.text, messages[segment.message].content)
                spans.append((at + start, at + end))
            at += len(segment.text)
        for index in holding:
            found = pattern.search(messages[index].content)
            assert found is not None
            findings.append(Finding("special-token-text", _field(index),
                                    f"message {index} ({messages[index].role}) holds {found.group(0)!r}, a special "
                                    "token of the tokenizer: encoded as plain text, not as that token"))
        return spans

    def _piecewise(self, text: str, encoding: Encoding, inside: list[tuple[int, int]]) -> Encoding:
        """The encoding of ``text`` with the special tokens found inside messages read as plain text:
        the text between the template's own special tokens is encoded again, piece by piece."""
        special_ids = self._special_ids
        ids: list[int] = []
        offsets: list[tuple[int, int]] = []
        at = 0
        for token, (start, end) in zip(encoding.ids, encoding.offsets):
            if token not in special_ids or any(a <= start < b for a, b in inside):
                continue
            self._plain_piece(text, at, start, ids, offsets)
            ids.append(token)
            offsets.append((start, end))
            at = end
        self._plain_piece(text, at, len(text), ids, offsets)
        return Encoding(ids, offsets)

    def _plain_piece(self, text: str, start: int, end: int, ids: list[int], offsets: list[tuple[int, int]]) -> None:
        if start >= end:
            return
        piece = self.tokenizer.encode_plain(text[start:end], at_start=start == 0)
        ids += piece.ids
        offsets += [(a + start, b + start) for a, b in piece.offsets]

    def _ids_or_none(self, text: str) -> list[int] | None:
        try:
            return self.tokenizer.encode_ids_batch([text])[0]
        except EncodeError:
            return None

    # -- the prefix invariant --------------------------------------------------------------------

    def _check_prefixes(self, renderings: Sequence[tuple[RenderedConversation, Sequence[Message]]],
                        encodings: list[Encoding], prefixes: list[tuple[int, Span, int]],
                        results: list[Tokenized]) -> None:
        texts = [renderings[index][0].text[:span.start] for index, span, _ in prefixes]
        alones: list[list[int] | None]
        try:
            alones = list(self.tokenizer.encode_ids_batch(texts))
        except EncodeError:  # a prefix the tokenizer cannot encode alone: it begins nothing
            alones = [self._ids_or_none(text) for text in texts]
        for (index, span, count), alone in zip(prefixes, alones):
            whole = encodings[index].ids
            alone = alone if alone is not None else [-1]
            if len(alone) == count and alone == whole[:count]:
                continue
            differ = next((k for k, (a, b) in enumerate(zip(alone, whole)) if a != b), min(len(alone), count))
            where = "the trained text" if span.message is None else f"message {span.message}"
            finding = Finding("prefix-mismatch", _field(span.message),
                              f"the text before {where} encodes alone as {len(alone)} tokens, which are not the "
                              f"first {count} of the whole text's (they differ at token {differ}): a prompt tokenized "
                              "apart would not match the training ids")
            old = results[index]
            results[index] = Tokenized(old.input_ids, old.labels, (*old.findings, finding))


def _encodable(text: str) -> bool:
    """Whether ``text`` is Unicode a tokenizer can take (no lone surrogate, which JSON's ``\\ud800`` can carry)."""
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _surrogate(messages: Sequence[Message]) -> Finding:
    index = next((i for i, message in enumerate(messages) if not _encodable(message.content)), None)
    where = "the rendering" if index is None else f"message {index} ({messages[index].role})"
    return Finding("not-encodable", _field(index), f"{where} holds a lone surrogate (a \\ud800-\\udfff escape without "
                   "its pair), which is not text any tokenizer encodes: fix the source text")


def _unencodable(exc: EncodeError) -> Finding:
    return Finding("not-encodable", "$", f"the tokenizer cannot encode the text: {exc}")


def _field(message: int | None) -> str:
    return "$" if message is None else f"messages.{message}"


def _content_span(segment: str, content: str) -> tuple[int, int]:
    """The characters of a message's content in its segment, as rendered: whole, else as the templates
    that trim it render it (a span as long as the untrimmed content would take in the template's own
    end-of-turn tokens, and encode them as plain text)."""
    for shown in (content, content.strip(), content.lstrip("\n"), content.rstrip(), content.lstrip()):
        if shown and shown in segment:
            start = _content_at(segment, shown)
            return start, start + len(shown)
    return 0, 0


def _content_at(segment: str, content: str) -> int:
    """Where ``content``, which the segment holds, sits in it (content then end-of-turn text, or header
    then content, or the first place it occurs)."""
    if segment.startswith(content):
        return 0
    if segment.endswith(content):
        return len(segment) - len(content)
    return segment.find(content)
