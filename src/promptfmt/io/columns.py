"""How the items of a dataset become typed Arrow columns and back, exactly.

An item is a JSON object; a table has one column per key and a value in every row. Three rules make
the trip exact (docs/architecture.md, "Parquet and Arrow"):

* a column is **typed** (strings, numbers, lists, structs: what `datasets` shows as features) only
  when its Arrow values read back as the very same JSON (same types, same keys in the same order);
  the layouts' own keys have their types fixed: strings, and ``messages`` as
  ``list<struct<role: string, content: string>>`` (``conversations``: ``from``, ``value``);
* a column whose values cannot be typed exactly (numbers mixed with text, 1 beside 1.5, objects
  with other keys, integers beyond 64 bits) holds **JSON text**, with null where a record lacks the key;
* a key missing from some records is null in their rows; the file's ``promptfmt`` metadata lists the
  typed columns where null means *absent*, so that the key is left out again when read. A column
  where some records lack the key and others hold an explicit null is JSON text (``"null"`` is text).

`Footer` is that metadata; the writer (`promptfmt.io.parquet_out`) fills it and the reader
(`promptfmt.io.tables`) applies it. Files written by other tools have no footer: their nulls stay.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec

from .items import DECODE_ERRORS, decode
from .jsonl import REFUSED, lenient_loads
from .jsonout import ENCODE_ERRORS, encode

FOOTER_KEY = b"promptfmt"
FOOTER_VERSION = 1
ABSENT: Any = msgspec.UNSET  # a key the record does not have (never a JSON value)

STRING_KEYS = ("instruction", "input", "output", "text", "prompt", "completion", "system")
TURN_KEYS = {"messages": ("role", "content"), "conversations": ("from", "value")}


@dataclass
class Footer:
    """The ``promptfmt`` metadata of a table file: its JSON text columns, the columns where null
    means absent, and the rows whose keys are in another order than the columns (``orders``: each
    such order once; ``runs``: ``[first row, rows, order]`` for consecutive rows of one order)."""

    json: list[str] = field(default_factory=list)
    absent: list[str] = field(default_factory=list)
    orders: list[list[str]] = field(default_factory=list)
    runs: list[list[int]] = field(default_factory=list)

    def encode(self) -> bytes:
        return encode({"version": FOOTER_VERSION, "json": self.json, "absent": self.absent,
                       "orders": self.orders, "runs": self.runs})

    @classmethod
    def read(cls, metadata: dict[bytes, bytes] | None) -> Footer | None:
        """The footer of a file's key-value metadata; None for a file promptfmt did not write;
        `FooterError` when it is not of the shape promptfmt writes (the file was changed since)."""
        raw = (metadata or {}).get(FOOTER_KEY)
        if raw is None:
            return None
        try:
            value = decode(raw)
        except (*DECODE_ERRORS, RecursionError) as exc:
            raise FooterError(f"not JSON: {str(exc) or type(exc).__name__}") from None
        if not isinstance(value, dict):
            raise FooterError("not a JSON object")
        json, absent, orders, runs = (value.get(key, []) for key in ("json", "absent", "orders", "runs"))
        if not (_names(json) and _names(absent) and isinstance(orders, list) and isinstance(runs, list)):
            raise FooterError("its lists are not of the shape promptfmt writes")
        if not all(_names(order) and len(set(order)) == len(order) for order in orders):
            raise FooterError("a key order is not a list of distinct names")
        if not all(_run(run, len(orders)) for run in runs):
            raise FooterError("a run is not [first row, rows, order] of counts and a known order")
        return cls(json, absent, orders, runs)


class FooterError(ValueError):
    """A ``promptfmt`` metadata entry that is not a footer promptfmt writes."""


def _names(value: Any) -> bool:
    return isinstance(value, list) and all(type(name) is str for name in value)


def _run(run: Any, orders: int) -> bool:
    return (isinstance(run, list) and len(run) == 3 and all(type(number) is int and number >= 0 for number in run)
            and run[2] < orders)


class KeyOrders:
    """The writer's record of rows whose keys are not in column order (a table has one order)."""

    def __init__(self) -> None:
        self.orders: dict[tuple[str, ...], int] = {}
        self.runs: list[list[int]] = []

    def see(self, shapes: list[tuple[str, ...]], first: int, position: dict[str, int]) -> None:
        """Note the rows ``first``, ``first + 1``, … (their keys: ``shapes``) that are not in the order
        of the columns (``position``: column numbers)."""
        unordered = {keys: self.orders.setdefault(keys, len(self.orders)) for keys in dict.fromkeys(shapes)
                     if any(position[a] > position[b] for a, b in zip(keys, keys[1:]))}
        if not unordered:  # the common case: one pass over the distinct shapes only
            return
        runs = self.runs
        for offset, keys in enumerate(shapes):
            order = unordered.get(keys)
            if order is None:
                continue
            row = first + offset
            if runs and runs[-1][2] == order and runs[-1][0] + runs[-1][1] == row:
                runs[-1][1] += 1
            else:
                runs.append([row, 1, order])


def reorder(rows: list[dict[str, Any]], first: int, footer: Footer | None) -> None:
    """Give the rows ``first``, ``first + 1``, … that the footer names their own key order back."""
    if footer is None or not footer.runs:
        return
    last = first + len(rows)
    for start, count, order in footer.runs:  # few: one per stretch of rows in another order
        if start >= last or start + count <= first:
            continue
        keys = footer.orders[order]
        for number in range(max(start, first), min(start + count, last)):
            row = rows[number - first]
            ordered = {key: row[key] for key in keys if key in row}
            if len(ordered) != len(row):  # the order names other keys: never drop one
                raise ValueError(f"row {number + 1:,} has other keys than its key order")
            rows[number - first] = ordered


@dataclass
class Column:
    """What the writer knows of one column: its Arrow type (None: JSON text) and what it has seen."""

    name: str
    type: Any = None  # a pyarrow DataType, or None for JSON text
    absent: int = 0  # rows without the key
    nulls: int = 0  # rows with an explicit null

    @property
    def is_json(self) -> bool:
        return self.type is None

    @property
    def null_means_absent(self) -> bool:
        return not self.is_json and self.absent > 0


def fixed_type(pa: Any, name: str) -> Any:
    """The type the layouts give the key ``name``, or None."""
    if name in STRING_KEYS:
        return pa.string()
    if name in TURN_KEYS:
        return pa.list_(pa.struct([(key, pa.string()) for key in TURN_KEYS[name]]))
    return None


def fits_fixed(name: str, present: Sequence[Any]) -> bool:
    """Whether the values of the key ``name`` are exactly what its fixed type holds."""
    if name in STRING_KEYS:
        return all(type(value) is str for value in present)
    keys = TURN_KEYS[name]
    return all(
        type(turns) is list and all(
            type(turn) is dict and tuple(turn) == keys and all(type(turn[key]) is str for key in keys) for turn in turns
        )
        for turns in present
    )


def typed_array(pa: Any, column: Column, values: list[Any], absent: bool = True) -> Any:
    """The Arrow array of ``values`` (`ABSENT` and None both null) in ``column``'s type, or None when
    they do not fit it exactly; ``absent=False`` promises that no value is `ABSENT`."""
    filled = [None if value is ABSENT else value for value in values] if absent else values
    fixed = column.name in TURN_KEYS and column.type == fixed_type(pa, column.name)
    if fixed and not fits_fixed(column.name, [value for value in filled if value is not None]):
        return None  # a struct type would drop a message's other keys silently
    try:
        array = pa.array(filled, type=column.type, from_pandas=False)
    except (pa.ArrowException, TypeError, ValueError, OverflowError):  # a lone surrogate: UnicodeEncodeError
        return None
    if not fixed and not pa.types.is_string(column.type) and not _same_json(array, filled):
        return None
    return array


def infer_array(pa: Any, values: list[Any]) -> Any:
    """The Arrow array pyarrow infers for ``values`` when it reads back exactly, else None."""
    filled = [None if value is ABSENT else value for value in values]
    strings = all(type(value) is str or value is None for value in filled)
    try:
        array = pa.array(filled, type=pa.string() if strings else None, from_pandas=False)
    except (pa.ArrowException, TypeError, ValueError, OverflowError):  # a lone surrogate: UnicodeEncodeError
        return None
    return array if strings or (_writable(pa, array.type) and _same_json(array, filled)) else None


def _writable(pa: Any, type_: Any) -> bool:
    """Whether Parquet can hold the type: it has no struct without fields (``{}``)."""
    if pa.types.is_struct(type_):
        return type_.num_fields > 0 and all(_writable(pa, type_.field(k).type) for k in range(type_.num_fields))
    if pa.types.is_list(type_) or pa.types.is_large_list(type_):
        return _writable(pa, type_.value_type)
    return True


def _decoded(text: str) -> Any:
    """A value of JSON text; the standard library reads what msgspec refuses (a lone surrogate)."""
    try:
        return decode(text)
    except DECODE_ERRORS:
        value = lenient_loads(text.encode("utf-8"))
        if value is REFUSED:
            raise
        return value


def _same_json(array: Any, values: list[Any]) -> bool:
    """Whether the array's values are the same JSON as ``values``: types and key order included."""
    try:
        return encode(array.to_pylist()) == encode(values)
    except ENCODE_ERRORS:
        return False


def json_array(pa: Any, values: list[Any]) -> Any:
    """JSON text of every value, null where the key is absent."""
    return pa.array([None if value is ABSENT else encode(value).decode() for value in values], type=pa.string())


def restore(rows: list[dict[str, Any]], footer: Footer | None) -> None:
    """Apply the footer to rows read from a table: JSON text decoded, absent keys left out again."""
    if footer is None:
        return
    for name in footer.json:
        for row in rows:
            text = row.get(name, ABSENT)
            if text is None:
                del row[name]
            elif text is not ABSENT:
                row[name] = _decoded(text)
    for name in footer.absent:
        for row in rows:
            if name in row and row[name] is None:
                del row[name]
