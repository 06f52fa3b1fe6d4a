"""Items written as Parquet (`promptfmt.io.parquet_out`) read back as the very same JSON: types, key
order, absent keys and explicit nulls, across batches and row groups (schema rewrites included)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from promptfmt.io import ARROW_OUT, open_outputs, read_items
from promptfmt.io.jsonout import encode

pytest.importorskip("pyarrow")
from promptfmt.io import parquet_out

KEYS = ("id", "score", "tags", "meta", "flag", "source", "")  # metadata keys, in the order items hold them

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**63), 2**63 - 1), st.integers(-(2**80), 2**80),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=8),
)


def dicts(values: st.SearchStrategy) -> st.SearchStrategy:
    """Objects with keys in any order (a permutation of drawn keys)."""
    return st.lists(st.sampled_from("abcd"), unique=True, max_size=4).flatmap(
        lambda keys: st.tuples(*(values for _ in keys)).map(lambda vals, keys=keys: dict(zip(keys, vals))))


values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=3), dicts(inner)), max_leaves=8)


@st.composite
def metadata(draw: st.DrawFn) -> dict[str, object]:
    """Some of `KEYS` (absent from others), in their order, with any JSON value (null included)."""
    present = draw(st.lists(st.sampled_from(KEYS), unique=True, max_size=len(KEYS)))
    return {key: draw(values) for key in KEYS if key in present}


alpaca = st.builds(lambda i, n, o, meta: {"instruction": i, "input": n, "output": o, **meta},
                   st.text(), st.text(), st.text(), metadata())
turn = st.builds(lambda role, content: {"role": role, "content": content}, st.sampled_from(["user", "assistant"]), st.text())
conversation = st.builds(lambda turns, meta: {"messages": turns, **meta}, st.lists(turn, max_size=3), metadata())
datasets = st.one_of(st.lists(alpaca, max_size=12), st.lists(conversation, max_size=12),
                     st.lists(st.one_of(alpaca, conversation), max_size=12))


def round_trip(items: list[dict[str, object]], path: Path) -> None:
    """Items -> Parquet -> items -> a save_to_disk folder -> items: the same JSON every time, key order
    included (the footer keeps the order of rows whose keys are in another order than the columns)."""
    assert parquet_out.items_to_parquet(items, path) == len(items)
    back = [item.value for item in read_items(path)]
    assert [encode(value) for value in back] == [encode(item) for item in items]
    folder = path.with_suffix("")
    with open_outputs([str(folder)], kind=ARROW_OUT) as (sink,):
        for value in back:
            sink.write(value)
    again = [item.value for item in read_items(folder)]
    assert [encode(value) for value in again] == [encode(item) for item in items]


@given(datasets)
def test_items_read_back_as_the_same_json(tmp_path_factory, items):
    round_trip(items, tmp_path_factory.mktemp("pq") / "out.parquet")


@given(datasets, st.integers(1, 4), st.integers(1, 5))
def test_small_batches_and_row_groups_rewrite_the_schema_exactly(tmp_path_factory, items, batch, group):
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(parquet_out, "BATCH_ROWS", batch)
        patch.setattr(parquet_out, "ROW_GROUP_ROWS", group)
        round_trip(items, tmp_path_factory.mktemp("pq") / "out.parquet")


@pytest.mark.parametrize("items", [
    [{"messages": [{"role": "user", "content": "x"}]}, {"messages": [{"content": "x", "role": "user"}]}],
    [{"messages": [{"role": "user", "content": "x"}]}, {"messages": [{"role": "user", "content": "x", "name": "n"}]}],
    [{"a": "\ud800", "b": ["x\udfff"], "messages": [{"role": "user", "content": "\udc00"}]}],
    [{"a": {}}, {"a": {"b": [{}]}}],
    [{}, {"a": None}, {}, {"a": 1}],
    [{}, {}, {"instruction": "x"}],
], ids=["turn-key-order", "turn-extra-key", "lone-surrogates", "empty-objects", "empty-items-first", "empty-then-keys"])
@pytest.mark.parametrize("batch", [1, 8192])
def test_values_pyarrow_would_change_or_refuse(tmp_path, monkeypatch, items, batch):
    """Each failed before: a turn's keys reordered or dropped in a later batch, UnicodeEncodeError,
    'Cannot write struct type with no child field', items without keys uncounted (schema mismatch)."""
    monkeypatch.setattr(parquet_out, "BATCH_ROWS", batch)
    monkeypatch.setattr(parquet_out, "ROW_GROUP_ROWS", 1 if batch == 1 else 100_000)
    round_trip(items, tmp_path / "out.parquet")


def test_items_without_any_key_are_refused_clearly(tmp_path):
    from promptfmt.errors import WriteError

    with pytest.raises(WriteError, match="have no keys"):
        parquet_out.items_to_parquet([{}, {}], tmp_path / "out.parquet")



@pytest.mark.parametrize("items", [
    [{"b": 1, "a": 2}, {"a": 2, "b": 1}],
    [{"a": 1}, {"b": 2, "a": 1}, {"b": 2, "a": 1}, {"a": 1, "b": 2}, {"c": 3, "b": 2}],
], ids=["swapped", "runs"])
def test_each_row_keeps_its_key_order(tmp_path, monkeypatch, items):
    monkeypatch.setattr(parquet_out, "BATCH_ROWS", 2)
    round_trip(items, tmp_path / "out.parquet")
