"""Hypothesis strategies of the test suite, in one place.

Record and text strategies per format come from the conformance kit (`promptfmt.testing`), so the
built-ins are tested with exactly what plugin authors get; they are re-exported here, and test
modules import every strategy from this module. The rest, by subject:

* formats: pairs of formats to convert between; padded records for the fidelity tests;
* JSON documents: valid records, near-records and arbitrary JSON values (schema, validation);
* datasets as bytes: JSON Lines with broken lines, JSON arrays as writers lay them out (readers,
  validation), and the items convert reads;
* declarative format documents (the format schema), and format tables whose pieces collide;
* conversations: 1-8 turns, with and without a system message, contents hostile to the format;
  for the tokens tests, contents of words, spaces, newlines, unicode and a tokenizer's special-token text.

Strategies that depend on a built-in format take its name and are built on first draw
(`st.deferred`), so importing this module builds no registry.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from hypothesis import strategies as st

from promptfmt import Format, Record
from promptfmt.conversation import Conversation
from promptfmt.conversion.stages import one_turn_of
from promptfmt.testing import content_strategy, conversation_strategy, record_strategy, text_strategy

from .helpers import builtin, dumps

__all__ = [
    "array_documents",
    "conversation_documents",
    "conversation_strategy",
    "conversations",
    "builtin_records",
    "content_strategy",
    "dataset_values",
    "colliding_template_tables",
    "colliding_turns_tables",
    "format_documents",
    "format_pairs",
    "gate_rows",
    "item_values",
    "json_documents",
    "json_scalars",
    "json_values",
    "jsonl_documents",
    "keyed_values",
    "padded_records",
    "per_line_array_documents",
    "plain_lines",
    "record_like",
    "record_strategy",
    "small_json_values",
    "text_strategy",
    "token_conversations",
]


# -- formats --------------------------------------------------------------------------------------


def builtin_records(name: str) -> st.SearchStrategy[Record]:
    """The kit's `record_strategy` for the built-in format ``name``."""
    return st.deferred(lambda: record_strategy(builtin(name)))


def format_pairs(formats: Sequence[Format]) -> st.SearchStrategy[tuple[Format, Format]]:
    """Two different formats of ``formats``: (source, target) of a conversion."""
    return st.sampled_from(formats).flatmap(
        lambda source: st.tuples(st.just(source), st.sampled_from([fmt for fmt in formats if fmt is not source]))
    )


# Whitespace and content edges on purpose: trimming templates must still match, and say what they drop.
_PADDING = st.sampled_from(["", "", " ", "\n", "  \n", "\t", "\u00a0", "\u3000", "\r\n"])


def _padded(fmt: Format) -> st.SearchStrategy[str]:
    """Content of ``fmt`` (its own markers included), with whitespace around it half the time."""
    return st.tuples(_PADDING, content_strategy(fmt), _PADDING).map("".join)


def padded_records(name: str, *, empty: bool = True) -> st.SearchStrategy[Record]:
    """Records of padded content of the built-in format ``name``; no input a third of the time.

    ``empty=False``: the instruction and the output are never empty.
    """

    def build() -> st.SearchStrategy[Record]:
        content = _padded(builtin(name))
        kept = content if empty else content.filter(bool)
        return st.builds(Record, instruction=kept, input=st.one_of(st.just(""), content), output=kept)

    return st.deferred(build)


# -- JSON documents ---------------------------------------------------------------------------------

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**53), max_value=2**53),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=8),
)

json_values = st.recursive(
    json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.dictionaries(st.text(max_size=6), children, max_size=3),
    ),
    max_leaves=8,
)

_field_names = st.sampled_from(["instruction", "input", "output"])
_keys = st.one_of(_field_names, st.sampled_from(["response", "context", "model response", "id", ""]), st.text(max_size=6))

# Objects that look like records: each of the three fields present or not, a string or any JSON value.
record_like = st.dictionaries(
    _keys,
    st.one_of(st.text(max_size=10), json_values),
    max_size=5,
).flatmap(
    lambda extra: st.fixed_dictionaries(
        {},
        optional={
            "instruction": st.one_of(st.text(max_size=10), json_scalars),
            "input": st.one_of(st.text(max_size=10), json_scalars),
            "output": st.one_of(st.text(max_size=10), json_scalars),
        },
    ).map(lambda fields: {**extra, **fields})
)

json_documents = st.one_of(record_like, json_values)


# -- datasets for validation: hostile and plain records, JSON Lines with broken lines ----------------

# Markers of the formats the validation tests check against (the first release's), placeholders,
# controls and padding.
VALIDATION_MARKERS = ["### Input:", "<|user|>", "{{name}}", "\x07", " ", "\n", "", "###eos_token###"]

# Record-ish values with hostile content: markers, placeholders, controls, padding, repeats.
hostile_text = st.lists(st.sampled_from(VALIDATION_MARKERS) | st.text(max_size=5), max_size=4).map("".join)
hostile_records = st.fixed_dictionaries(
    {"instruction": hostile_text, "output": hostile_text},
    optional={"input": hostile_text, "id": st.integers(0, 3)},
)
dataset_values = st.one_of(hostile_records, record_like, json_documents)

# Objects whose keys are fields, the names other layouts give them, or other keys (field mapping).
keyed_values = st.dictionaries(st.sampled_from(["instruction", "input", "output", "response", "context", "x"]),
                               dataset_values)

# Plain records, often padded: what `Validator.quick` settles (hostile values mostly go to `check`).
plain_text = st.lists(st.sampled_from(["a", "word", "é", " ", "\n", "\t", "\u3000"]), max_size=4).map("".join)
plain_records = st.fixed_dictionaries({"instruction": plain_text, "output": plain_text}, optional={"input": plain_text})
plain_lines = st.lists(st.one_of(plain_records, plain_records, dataset_values).map(dumps), max_size=8).map(b"\n".join)


def _broken_line(draw: st.DrawFn) -> bytes:
    """A line that is certainly not JSON."""
    line = draw(st.one_of(
        st.binary(min_size=1, max_size=20),
        st.builds(lambda v, n: dumps(v)[: n], dataset_values, st.integers(1, 30)),
        st.sampled_from([b"{", b'{"instruction": "a",}', b"[1,", b"\xff\xfe", b'{"a": NaN}', b"nul", b"{'a': 1}"]),
    ))
    line = line.replace(b"\n", b" ").replace(b"\r", b" ")
    if not line.strip() or line.startswith(b"\xef\xbb\xbf"):  # blank lines are skipped; a BOM is not data
        line = b"#" + line
    try:
        json.loads(line)
    except (ValueError, UnicodeDecodeError):
        return line
    return line + b" }"  # still valid? then make it invalid


@st.composite
def jsonl_documents(draw: st.DrawFn) -> tuple[bytes, list[int]]:
    """(bytes, line numbers of the broken lines)."""
    lines: list[bytes] = []
    broken: list[int] = []
    for _ in range(draw(st.integers(0, 8))):
        kind = draw(st.sampled_from(["value", "value", "blank", "broken"]))
        if kind == "value":
            lines.append(dumps(draw(dataset_values)))
        elif kind == "blank":
            lines.append(draw(st.sampled_from([b"", b"  ", b"\t"])))
        else:
            lines.append(_broken_line(draw))
            broken.append(len(lines))
    ending = draw(st.sampled_from([b"\n", b"\r\n"]))
    return ending.join(lines) + draw(st.sampled_from([b"", ending])), broken


# Text that the block gate of validation must not miss: markers, JSON-escaped characters, controls.
_gate_text = st.lists(
    st.sampled_from([*VALIDATION_MARKERS, "[INST]", "</s>", "[1, 2]", "|", "<", "#", "{", "/", "\x7f", "\x85", "é", "🙂"])
    | st.text(max_size=4),
    max_size=5,
).map("".join)
gate_rows = st.lists(st.fixed_dictionaries({"instruction": _gate_text, "input": _gate_text, "output": _gate_text}),
                     min_size=1, max_size=5)


# -- JSON arrays as writers lay them out (the fast array reader) ------------------------------------

_array_strings = st.sampled_from(["}, {", "},", "}]", "{", "]", '"', "\\", "\n", "é", "🙂", "x"]) | st.text(max_size=4)
_array_records = st.fixed_dictionaries(
    {"instruction": _array_strings, "output": _array_strings},
    optional={"input": _array_strings, "meta": st.recursive(
        st.none() | st.booleans() | st.integers() | _array_strings,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_array_strings, inner, max_size=2),
        max_leaves=4)},
)
_array_others = st.one_of(
    st.integers(), st.just([]), st.just({}), st.just(2**70), st.just({"instruction": "a", "output": "b", "id": 2**70}),
)
_array_values = st.integers(0, 3).flatmap(lambda kind: _array_records if kind else _array_others)  # mostly records


@st.composite
def array_documents(draw, values=st.lists(_array_values, max_size=6), layouts=(None, 0, 2, 4, "per line")):
    """A JSON array as some writer lays it out, sometimes damaged."""
    values = draw(values)
    indent = draw(st.sampled_from(layouts))
    if indent != "per line":
        text = json.dumps(values, ensure_ascii=draw(st.booleans()), indent=indent).encode("utf-8", "surrogatepass")
    else:  # one record per line, as datagen writes (and variants)
        margin = draw(st.sampled_from(["", "", "  ", "\t"])).encode()
        separator = draw(st.sampled_from([",\n", ",\n", ",\n", ",\r\n", " ,\n", ", \n", ",\n\n", ", "])).encode()
        text = (b"[\n" + separator.join(margin + json.dumps(v, ensure_ascii=False).encode("utf-8", "surrogatepass")
                                        for v in values) + draw(st.sampled_from([b"\n]\n", b"]", b"\r\n]"])))
    damage = draw(st.sampled_from(["none", "none", "cut", "insert", "trailing-comma"]))
    if damage == "cut":
        text = text[: draw(st.integers(1, max(1, len(text) - 1)))]
    elif damage == "insert":
        at = draw(st.integers(1, len(text)))
        text = text[:at] + draw(st.sampled_from([b"}", b",", b"]", b"NaN", b"\xff", b" x", b'"'])) + text[at:]
    elif damage == "trailing-comma" and text.rstrip().endswith(b"]") and values:
        cut = text.rstrip().rfind(b"]")
        text = text[:cut].rstrip() + b",\n" + text[cut:]
    return text


per_line_array_documents = array_documents(st.lists(_array_records, min_size=2, max_size=8), ("per line",))


# -- items convert reads, of every layout ----------------------------------------------------------

# Small JSON values whose strings may hold lone surrogates (convert must count them, not choke).
small_json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-10, 10), st.text(max_size=5)),
    lambda children: st.one_of(st.lists(children, max_size=3), st.dictionaries(st.text(max_size=5), children, max_size=3)),
    max_leaves=6,
)
item_values = st.one_of(
    small_json_values,
    st.fixed_dictionaries({"instruction": st.text(max_size=8), "output": st.text(max_size=8)},
                          optional={"input": st.text(max_size=4), "id": st.integers()}),
    st.fixed_dictionaries({"messages": st.lists(st.fixed_dictionaries(
        {"role": st.sampled_from(["system", "user", "assistant", "tool"]), "content": st.text(max_size=6)}), max_size=4)}),
)


# -- declarative format documents (the format schema against the pydantic model) --------------------

_strings = st.one_of(st.sampled_from(["", "x", "a b", "two\nlines", "end\n", "ok-name_1.2+", "\r", "n" * 65]),
                     st.text(max_size=4))
_values = st.one_of(_strings, st.booleans(), st.integers(-2, 2), st.none(), st.lists(_strings, max_size=2))
_template_tables = st.fixed_dictionaries(
    {"separator": st.one_of(_strings, _values)},
    optional={key: st.one_of(_strings, _values) for key in (
        "preamble", "prefix", "prefix_no_input", "prompt_suffix", "response_prefix", "end", "input_block",
        "chat", "trim", "trim_output", "extra_markers", "unknown",
    )} | {"input_block": st.sampled_from(["non-empty", "always", "never"])},
)
_format_tables = st.fixed_dictionaries(
    {},
    optional={
        "name": _strings, "aliases": st.one_of(st.lists(_strings, max_size=2), _values), "description": _strings,
        "reference": _strings, "template": st.one_of(_template_tables, _values), "extra": _values,
    },
)
# Format files as parsed TOML: tables with right and wrong keys and types, or not a table at all.
format_documents = st.one_of(_format_tables, _values)

# Pieces from two letters and a space, so that they collide often (equal, one starting or holding
# another, empty); contents made of other letters never touch them.
_piece = st.sampled_from(["", "X", "Y", "XY", "YX", "XX", "XYX", " ", "X "])
_flag = st.booleans()
colliding_template_tables = st.fixed_dictionaries(
    {"separator": _piece, "prefix": _piece, "prompt_suffix": _piece, "response_prefix": _piece, "end": _piece},
    optional={"prefix_no_input": _piece, "input_block": st.sampled_from(["non-empty", "always"]), "chat": _flag,
              "trim": _flag, "trim_output": _flag},
)
colliding_turns_tables = st.fixed_dictionaries(
    {"user_prefix": _piece, "user_suffix": _piece, "generation_prompt": _piece, "turn_end": _piece},
    optional={"response_prefix": _piece, "final": _piece, "bos": _piece, "system_prefix": _piece,
              "system_suffix": _piece, "system": st.sampled_from(["turn", "first-user", "refused"]),
              "default_system": st.sampled_from(["", "X", "d"]), "separator": _piece, "last_answer_prefix": _piece,
              "trim": _flag, "trim_output": _flag, "first_user_trim": st.sampled_from(["whole", "content"])},
)


# -- conversations ---------------------------------------------------------------------------------


def conversations(name: str, *, system: bool | None = None, prompts: bool = True) -> st.SearchStrategy[Conversation]:
    """Conversations of 1-8 turns for the built-in format ``name``, with contents drawn from the kit's
    hostile pieces (the format's own markers, padding, newlines, unicode); ``system``: always, never
    or sometimes (None) a system message; ``prompts``: some end with a user message."""

    @st.composite
    def draw(draw: st.DrawFn) -> Conversation:
        content = content_strategy(builtin(name))
        turns = draw(st.integers(1, 8))
        messages: list[tuple[str, str]] = []
        if system or (system is None and draw(st.booleans())):
            messages.append(("system", draw(content)))
        for _ in range(turns):
            messages += [("user", draw(content)), ("assistant", draw(content))]
        if prompts and draw(st.booleans()):
            messages.pop()
        return Conversation.of(messages)

    return st.deferred(draw)


_roles = st.sampled_from(["system", "user", "assistant", "tool", "narrator", "USER", ""]) | json_scalars
_message_like = st.fixed_dictionaries(
    {}, optional={"role": _roles, "content": st.text(max_size=6) | json_values, "name": st.text(max_size=3)}
) | json_values
_ordered_roles = st.integers(0, 4).flatmap(
    lambda turns: st.booleans().map(lambda system: ["system"] * system + ["user", "assistant"] * turns)
)
conversation_documents = st.one_of(
    # mostly well-ordered role sequences, so that the shape of messages decides
    _ordered_roles.flatmap(lambda roles: st.tuples(*[
        st.fixed_dictionaries({"role": st.just(role), "content": st.text(max_size=4) | json_scalars}) for role in roles
    ]).map(lambda messages: {"messages": list(messages)})),
    st.fixed_dictionaries({"messages": st.lists(_message_like, max_size=4)}, optional={"id": json_scalars}),
    json_documents,
)
"""JSON values that look like conversations: roles in order or not, contents of any type, stray keys."""


# -- conversations for a tokenizer -------------------------------------------------------------------

# Letters, digits, punctuation that special tokens are made of, spaces (ASCII, tab, no-break, ideographic),
# newlines, and characters of two, three and four UTF-8 bytes (split into byte tokens by some tokenizers).
_token_text = st.lists(st.sampled_from([*"ab Z09.,!?'<|>[]/ ", "  ", "\n", "\n\n", "\t", "\u00a0", "\u3000", "é", "ü",
                                        "日本", "한", "😀", "\u200b"]), max_size=6).map("".join)


def token_conversations(name: str, specials: Sequence[str], *, system: bool = True, turns: int = 4,
                        record: bool = False) -> st.SearchStrategy[Conversation]:
    """Conversations for the built-in format ``name`` ending with an answer: 1 to ``turns`` exchanges,
    a system message sometimes (``system``), or a record's one turn (``record``); contents joined from
    `_token_text` pieces and, one piece in five, the text of one of ``specials``."""
    piece = st.one_of(_token_text, _token_text, _token_text, _token_text, st.sampled_from(list(specials)))
    content = st.lists(piece, max_size=4).map("".join)

    @st.composite
    def draw(draw: st.DrawFn) -> Conversation:
        if record:
            return one_turn_of(builtin(name))(draw(content), draw(content), draw(content))
        messages = [("system", draw(content))] if system and draw(st.booleans()) else []
        for _ in range(draw(st.integers(1, turns))):
            messages += [("user", draw(content)), ("assistant", draw(content))]
        return Conversation.of(messages)

    return st.deferred(draw)
