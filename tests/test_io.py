"""Readers: layouts told apart by content, gzip, BOM, stdin, and every way a file can be broken.

Each broken input gives error items with a line (and a column where one exists), never an exception.
"""

from __future__ import annotations

import collections
import gzip
import io
import itertools
import json
import os
import tracemalloc

import pytest
from hypothesis import given
from hypothesis import strategies as st

from promptfmt import io as pio
from promptfmt.errors import InputPathError
from promptfmt.io import AtomicWriter, DatasetReader, Item, QuarantineWriter, arrays, jsonl, read_items
from promptfmt.io import window as window_reader_module
from promptfmt.io.jsonout import encode_line

from .strategies import array_documents, per_line_array_documents


def items_of(data: bytes) -> list[Item]:
    return list(read_items("-", stdin=io.BytesIO(data)))


def summary(data: bytes) -> list[tuple]:
    """(index, line, value) for good items, (index, line, column, code) for error items."""
    return [
        (item.index, item.line, item.value) if item.error is None else (item.index, item.line, item.column, item.code)
        for item in items_of(data)
    ]


RECORDS = [{"instruction": "a", "output": "b"}, {"instruction": "c", "input": "d", "output": "e"}]


# -- the layouts ---------------------------------------------------------------------------------


def test_json_lines_skip_blank_lines_and_keep_line_numbers():
    data = b'{"a": 1}\n\n   \n{"b": 2}\r\n{"c": 3}'
    assert summary(data) == [(0, 1, {"a": 1}), (1, 4, {"b": 2}), (2, 5, {"c": 3})]


def test_a_pretty_printed_array_gives_the_line_where_each_record_starts():
    data = json.dumps(RECORDS, indent=2).encode()
    assert [(item.index, item.line) for item in items_of(data)] == [(0, 2), (1, 6)]
    assert [item.value for item in items_of(data)] == RECORDS


def test_layout_is_told_by_content_not_by_extension(tmp_path):
    as_array = tmp_path / "data.jsonl"
    as_array.write_text(json.dumps(RECORDS))
    as_lines = tmp_path / "data.json"
    as_lines.write_text("\n".join(json.dumps(r) for r in RECORDS))
    assert [i.value for i in read_items(as_array)] == RECORDS
    assert [i.value for i in read_items(as_lines)] == RECORDS
    assert DatasetReader(as_array).layout == "array"
    assert DatasetReader(as_lines).layout == "jsonl"


def test_pretty_printed_documents_one_after_another_are_read_one_by_one():
    data = b'{\n  "instruction": "a",\n  "output": "b"\n}\n{\n  "instruction": "c",\n  "output": "d"\n}\n'
    assert summary(data) == [(0, 1, {"instruction": "a", "output": "b"}), (1, 5, {"instruction": "c", "output": "d"})]
    assert DatasetReader("-", io.BytesIO(data)).layout == "documents"


@pytest.mark.parametrize("data", [b"", b"   \n\n", b"[]", b"[\n]\n"])
def test_empty_datasets_have_no_items(data):
    assert items_of(data) == []


def test_gzip_is_detected_by_its_magic_bytes_for_every_layout(tmp_path):
    for name, text in (("a.json", json.dumps(RECORDS)), ("b.txt", "\n".join(json.dumps(r) for r in RECORDS))):
        path = tmp_path / name
        path.write_bytes(gzip.compress(text.encode()))
        assert [i.value for i in read_items(path)] == RECORDS


def test_utf8_bom_is_skipped_in_both_layouts():
    assert [i.value for i in items_of(b"\xef\xbb\xbf" + json.dumps(RECORDS).encode())] == RECORDS
    assert summary(b'\xef\xbb\xbf{"a": 1}\n{"b": 2}\n') == [(0, 1, {"a": 1}), (1, 2, {"b": 2})]


def test_stdin_without_peek_still_detects_gzip():
    class Plain(io.RawIOBase):  # no peek(), like some pipes wrapped by test runners
        def __init__(self, data: bytes) -> None:
            self._data = io.BytesIO(data)

        def readable(self) -> bool:
            return True

        def readinto(self, buffer) -> int:
            return self._data.readinto(buffer)

    data = gzip.compress(b'{"a": 1}\n')
    assert [i.value for i in read_items("-", stdin=Plain(data))] == [{"a": 1}]


def test_records_spanning_many_windows_and_blocks_are_read_whole(monkeypatch):
    monkeypatch.setattr(window_reader_module, "_CHUNK", 64)
    monkeypatch.setattr(jsonl, "BLOCK_BYTES", 64)
    big = [{"instruction": "x" * 500, "output": "é" * 300, "n": 12345678901234}, {"instruction": "y", "output": "z"}]
    assert [i.value for i in items_of(json.dumps(big, ensure_ascii=False).encode())] == big
    lines = "\n".join(json.dumps(r, ensure_ascii=False) for r in big * 20).encode()
    assert [i.value for i in items_of(lines)] == big * 20
    assert [i.line for i in items_of(lines)] == list(range(1, 41))


# -- broken input: issues with locations, never exceptions ---------------------------------------


def test_a_malformed_line_is_an_error_item_and_reading_goes_on():
    got = items_of(b'{"a": 1}\n{"b": \n{"c": 3}\n[1, 2]\n')
    assert [(i.index, i.line, i.error is None) for i in got] == [(0, 1, True), (1, 2, False), (2, 3, True), (3, 4, True)]
    assert "line ends before the value is complete" in got[1].error
    assert got[1].text == '{"b": '
    assert got[3].value == [1, 2]  # valid JSON: not a record, but validation says so, not the reader


def test_invalid_utf8_in_a_line_names_the_byte_and_keeps_the_raw_text():
    got = items_of(b'{"a": "ok"}\n{"a": "caf\xe9"}\n')
    assert got[1].line == 2 and got[1].column == 11
    assert "not UTF-8" in got[1].error and "0xe9" in got[1].error
    assert got[1].text == '{"a": "caf\\xe9"}'


@pytest.mark.parametrize(
    ("data", "expected", "words"),
    [
        (b'[\n {"a": 1},\n {"b": 2},\n]\n', (2, 3, 10), "trailing comma"),
        (b'[\n {"a": 1},\n {"b": 2}\n', (2, 4, 1), "not closed"),
        (b'[\n {"a": 1}\n {"b": 2}\n]', (1, 3, 2), "expected ',' or ']' after record 0"),
        (b'[\n {"a": 1}\n]\n{"b": 2}\n', (1, 4, 1), "extra data"),
        (b'[\n {"a": NaN}\n]', (0, 2, 2), "NaN is not valid JSON"),
        (b'[\n {"a": "x\xff"}\n]', (0, 2, 10), "not UTF-8"),
        (b'[{"a": 1}, {"b": tru}]', (1, 1, 18), "Expecting value"),
        (b"[" + b"[" * 100_000 + b"]" * 100_000 + b"]", (0, 1, 2), "nested too deeply"),
        (b'{\n  "a": 1,\n', (0, 3, 1), "ends before the value is complete"),
    ],
)
def test_a_malformed_array_or_document_is_one_located_error_after_the_good_items(data, expected, words):
    got = items_of(data)
    error = got[-1]
    assert [i.error for i in got[:-1]] == [None] * (len(got) - 1)
    assert (error.index, error.line, error.column) == expected, error
    assert words in error.error
    assert error.code == "invalid-json"


def test_utf16_files_are_named_as_such():
    (item,) = items_of('[{"a": 1}]'.encode("utf-16"))
    assert item.line == 1 and "UTF-16" in item.error and "iconv" in item.error


def test_a_truncated_gzip_file_keeps_every_whole_line_before_the_break():
    lines = b"".join(json.dumps({"instruction": os.urandom(8).hex(), "output": "o"}).encode() + b"\n" for _ in range(3000))
    broken = gzip.compress(lines)[:-5000]
    got = items_of(broken)
    last = got[-1]
    assert last.code == "unreadable" and "truncated" in last.error
    assert all(item.error is None for item in got[:-1]) and len(got) > 1000
    assert last.index == len(got) - 1 and last.line == len(got)


def test_a_truncated_gzip_array_is_unreadable_at_the_record_it_stopped_in():
    data = json.dumps([{"instruction": os.urandom(8).hex(), "output": "o"} for _ in range(3000)], indent=1).encode()
    got = items_of(gzip.compress(data)[:-3000])
    assert got[-1].code == "unreadable"
    assert got[-1].index == len(got) - 1


def test_missing_files_and_folders_raise_a_usage_error(tmp_path):
    with pytest.raises(InputPathError, match="no such file"):
        DatasetReader(tmp_path / "nope.jsonl")
    with pytest.raises(InputPathError, match="folder"):
        DatasetReader(tmp_path)


def test_position_and_size_follow_the_reading(tmp_path):
    path = tmp_path / "data.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in RECORDS * 100) + "\n")
    reader = DatasetReader(path)
    assert reader.size == path.stat().st_size
    list(reader)
    assert reader.position is None or reader.position <= reader.size  # closed at the end
    assert DatasetReader("-", io.BytesIO(b"{}")).size is None


def test_blocks_hold_whole_lines_and_their_first_line_number(monkeypatch, tmp_path):
    monkeypatch.setattr(jsonl, "BLOCK_BYTES", 100)
    path = tmp_path / "data.jsonl"
    lines = [json.dumps({"i": n, "pad": "x" * (n % 7) * 10}) for n in range(50)]
    path.write_text("\n".join(lines) + "\n")
    blocks = list(DatasetReader(path).blocks())
    assert len(blocks) > 5
    assert [line.decode() for block in blocks for line in block.lines()] == lines
    numbers = [block.first_line + k for block in blocks for k in range(len(block.lines()))]
    assert numbers == list(range(1, 51))
    block = blocks[1]
    assert block.line_at(0) == block.first_line
    assert block.line_at(len(block.data) - 1) == block.first_line + len(block.lines()) - 1
    with pytest.raises(ValueError, match="not JSON Lines"):
        list(DatasetReader("-", io.BytesIO(b"[1]")).blocks())


# -- writing -------------------------------------------------------------------------------------


def test_atomic_writer_leaves_no_file_when_the_write_fails(tmp_path):
    target = tmp_path / "out.jsonl"
    with pytest.raises(RuntimeError), AtomicWriter(target) as out:
        out.write(b"half")
        raise RuntimeError("boom")
    assert not target.exists() and list(tmp_path.iterdir()) == []
    with AtomicWriter(target) as out:
        out.write(b"whole\n")
    assert target.read_bytes() == b"whole\n"


def test_quarantine_keeps_items_unchanged_with_their_issues(tmp_path):
    path = tmp_path / "bad.jsonl"
    with QuarantineWriter(path) as out:
        out.write(Item(3, 4, {"instruction": None, "x": [1]}), [{"code": "wrong-type"}])
        out.write(Item(5, 7, error="invalid JSON", text='{"broken'), [{"code": "invalid-json"}])
    first, second = (json.loads(line) for line in path.read_text().splitlines())
    assert first == {"record": 3, "line": 4, "issues": [{"code": "wrong-type"}], "item": {"instruction": None, "x": [1]}}
    assert second == {"record": 5, "line": 7, "issues": [{"code": "invalid-json"}], "text": '{"broken'}


def test_what_msgspec_refuses_is_written_by_the_standard_library():
    assert json.loads(encode_line({"a": "x\ud800y"})) == {"a": "x\ud800y"}  # a lone surrogate
    assert encode_line({"big": 2**70, "text": "café 🙂\n"}) == '{"big":1180591620717411303424,"text":"café 🙂\\n"}\n'.encode()


def test_a_json_lines_sink_writes_each_item_whole_whatever_came_before():
    """The sink reuses one buffer for every line: a short item after a long one, and an item that only
    the standard library can write, each come out as exactly their own line."""
    from promptfmt.io import ItemSink

    items = [{"text": "a" * 5000}, {"text": "x\ud800y", "n": 2**70}, {"text": "b"}, {}, {"text": "é" * 3}]
    stream = io.BytesIO()
    sink = ItemSink(stream)
    for item in items:
        sink.write(item)
    assert stream.getvalue() == b"".join(encode_line(item) for item in items)


def test_atomic_files_get_the_permissions_a_plain_open_gives(tmp_path):
    """Temporary files are private (mkstemp); the committed file is not."""
    import os

    from promptfmt.io import AtomicWriter

    umask = os.umask(0o022)
    try:
        with AtomicWriter(tmp_path / "out.jsonl") as writer:
            writer.write(b"{}\n")
        plain = tmp_path / "plain"
        plain.write_bytes(b"")
        assert (tmp_path / "out.jsonl").stat().st_mode & 0o777 == plain.stat().st_mode & 0o777 == 0o644
    finally:
        os.umask(umask)


# -- the fast JSON array reader agrees with the window reader -------------------------------------

def _fields(items):
    return [(i.index, i.line, i.value, i.error, i.column, i.code) for i in items]


def _array_items_both_ways(data: bytes) -> tuple[list, list]:
    """The items of the array ``data`` read by the fast reader, and by the window reader alone."""
    fast_reader, window_reader = DatasetReader("-", io.BytesIO(data)), DatasetReader("-", io.BytesIO(data))
    if fast_reader.layout != "array":
        return [], []
    start, other = fast_reader._detect(), window_reader._detect()
    fast = list(arrays.read_array_fast(start.first, fast_reader._stream, start.line))
    window = list(window_reader_module.read_values(itertools.chain([other.first], window_reader._stream), line=other.line, array=True))
    return fast, window


@given(array_documents() | per_line_array_documents, st.sampled_from([7, 64, 1 << 20]), st.sampled_from([1, 2, 64]))
def test_the_fast_array_reader_gives_what_the_window_reader_gives(data, batch, records):
    """Same items, values, lines, errors and columns, whatever the layout, the damage and where the
    batches of bytes and of records end: the window reader, which decodes the whole text itself, is
    the reference. Arrays of one record per line (the most common layout) are half the examples."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(arrays, "_ARRAY_BATCH", batch)
        patch.setattr(arrays, "_ARRAY_RECORDS", records)
        fast, window = _array_items_both_ways(data)
    assert _fields(fast) == _fields(window)
    rows = collections.Counter()
    for item in fast:  # row k of a block holds the bytes of the block's k-th record, on its line
        if item.block is not None:
            k, starts = rows[id(item.block)], item.block._starts
            rows[id(item.block)] += 1
            assert pio.decode(item.block.data[starts[k]:starts[k + 1] - 1].rstrip(b" \t\r\n,")) == item.value
            assert item.block.line_at(starts[k]) == item.line


@pytest.mark.parametrize("batch", [7, 100, 1 << 20])
def test_the_fast_array_reader_reads_one_record_per_line_with_every_line_number(batch):
    """The layout of bench/datagen.py (and of many exported datasets): "[", one record per line
    joined by ",\n", "]"; records with braces, commas and escaped line ends in their strings."""
    values = [{"instruction": f"i{n}" + "}," * (n % 3), "input": "{\n" * (n % 2), "output": f"o{n}", "id": n} for n in range(300)]
    data = b"[\n" + b",\n".join(json.dumps(v).encode() for v in values) + b"\n]\n"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(arrays, "_ARRAY_BATCH", batch)
        fast, window = _array_items_both_ways(data)
    assert _fields(fast) == _fields(window)
    assert [(i.line, i.value) for i in fast] == [(n + 2, v) for n, v in enumerate(values)]
    assert all(item.block is not None for item in fast)


def test_the_fast_array_reader_reads_records_with_braces_in_strings_and_gives_them_a_block():
    data = b'[\n  {"instruction": "a}, {b", "output": "c},"},\n  {"instruction": "d", "output": "e"}\n]\n'
    fast, window = _array_items_both_ways(data)
    assert _fields(fast) == _fields(window) and [i.line for i in fast] == [2, 3]
    assert fast[0].block is fast[1].block is not None  # read fast, not by the window
    block = fast[0].block
    assert block.line_at(block.data.index(b'"d"')) == 3 and block.line_at(0) == 2


def test_integers_beyond_64_bits_are_read_exactly_in_every_layout():
    """orjson would read them as floats (1.2345678901234568e+29): metadata would change silently."""
    big = 123456789012345678901234567890
    for data in (b'{"id": %d}\n' % big, b'[{"id": %d}]' % big, b'[\n  {"id": %d}\n]\n' % big):
        assert [i.value for i in items_of(data)] == [{"id": big}], data


# -- one-line arrays (json.dump's default): linear work, bounded memory --------------------------


def _one_line_array(n: int) -> bytes:
    return json.dumps([{"instruction": f"q{k}", "output": "a}, {" if k % 7 == 0 else f"a{k}"} for k in range(n)]).encode()


class _Watched(arrays._ArrayScan):
    """The fast reader's scan, noting the largest buffer it ever held."""

    largest = 0

    def records(self):
        _Watched.largest = max(_Watched.largest, len(self.buffer))
        return super().records()


def test_a_one_line_array_is_read_fast_in_a_buffer_of_a_few_batches(monkeypatch):
    """100k records on one line, the stream read a batch at a time: every record decoded by the
    fast reader (a block each), from a buffer that never holds more than a few batches."""
    data = _one_line_array(100_000)
    monkeypatch.setattr(arrays, "_ArrayScan", _Watched)
    monkeypatch.setattr(arrays, "_ARRAY_BATCH", 1 << 16)
    _Watched.largest = 0
    items = list(arrays.read_array_fast(data[:1], io.BytesIO(data[1:]), 1))
    assert len(items) == 100_000 and all(i.block is not None and i.line == 1 for i in items)
    assert [i.index for i in items[-2:]] == [99_998, 99_999]
    assert items[7].value == {"instruction": "q7", "output": "a}, {"}
    assert len(data) > 2_000_000 and _Watched.largest <= 3 << 16


def test_a_one_line_array_held_whole_is_read_without_copying_it():
    """However large the buffer (here the whole file, as a first line read whole hands it over), each
    record costs its own bytes: nothing the size of the buffer is copied, once or per batch."""
    data = _one_line_array(20_000)
    tracemalloc.start()
    try:
        count = sum(1 for item in arrays.read_array_fast(data, io.BytesIO(b""), 1) if item.block is not None)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert count == 20_000
    assert peak < len(data) // 4, (peak, len(data))


def test_the_window_reads_a_one_line_array_in_a_bounded_window_with_exact_columns(monkeypatch):
    """Strings are read by the window reader: on one long line it drops what it read all the same,
    and still locates the error at the end of the line by its column."""
    largest = [0]

    class Watched(window_reader_module._Window):
        def fill(self, at_least=0):
            super().fill(at_least)
            largest[0] = max(largest[0], len(self.text))

    monkeypatch.setattr(window_reader_module, "_Window", Watched)
    monkeypatch.setattr(window_reader_module, "_CHUNK", 1 << 12)
    monkeypatch.setattr(arrays, "_ARRAY_BATCH", 1 << 12)
    data = json.dumps([f"é{k}" for k in range(50_000)], ensure_ascii=False).encode()[:-1] + b", tru]"
    items = list(arrays.read_array_fast(data[:1], io.BytesIO(data[1:]), 1))  # a first line not read whole
    assert [i.value for i in items[:-1]] == [f"é{k}" for k in range(50_000)]
    error = items[-1]
    assert (error.index, error.line) == (50_000, 1) and "Expecting value" in error.error
    assert error.column == len(data.decode()) - len("tru]") + 1
    assert largest[0] <= 4 << 12


def test_an_error_far_along_a_one_line_array_of_records_has_its_exact_column(monkeypatch):
    monkeypatch.setattr(arrays, "_ARRAY_BATCH", 1 << 10)
    good = json.dumps([{"instruction": f"é{k}", "output": "b"} for k in range(5_000)], ensure_ascii=False)
    data = (good[:-1] + ', {"instruction": tru}]').encode()
    items = items_of(data)
    assert all(i.error is None for i in items[:-1]) and len(items) == 5_001
    assert (items[-1].index, items[-1].line, items[-1].column) == (5_000, 1, data.decode().index("tru}") + 1)


# -- the nesting-depth bound: an over-deep value is one located issue, and the reading goes on -------


DEEP = "[" * 100_000 + "]" * 100_000


@pytest.mark.parametrize(
    ("deep", "separator", "where"),
    [
        ('{"instruction": "x", "output": "y", "meta": ' + DEEP + "}", ", ", (1, 158)),  # the fast reader
        (DEEP, ", ", (1, 158)),  # not an object: the window reader
        ('{"instruction": "x", "output": "y", "meta": ' + DEEP + "}", ",\n", (5, 1)),  # one record a line
    ],
)
def test_a_value_nested_too_deeply_is_one_located_error_and_the_records_after_it_are_read(deep, separator, where):
    records = [json.dumps({"instruction": f"i{n}", "output": f"o{n}"}) for n in range(10)]
    records[4] = deep
    items = items_of(("[" + separator.join(records) + "]").encode())
    assert len(items) == 10 and [i.index for i in items] == list(range(10))
    assert [i.value["instruction"] for i in items if i.error is None] == [f"i{n}" for n in range(10) if n != 4]
    error = items[4]
    assert (error.line, error.column, error.code) == (*where, "invalid-json")
    assert f"nested too deeply, more than {pio.depth.MAX_DEPTH} levels (column {where[1]})" in error.error


def test_the_depth_bound_is_a_parameter_of_both_array_readers():
    value = {"a": [[[1]]]}  # 4 levels
    data = json.dumps([value, [value], {"b": 1}]).encode()
    for limit, errors in ((4, [1]), (3, [0, 1]), (pio.depth.MAX_DEPTH, [])):
        fast = list(arrays.read_array_fast(data, io.BytesIO(b""), 1, max_depth=limit))
        assert [i.index for i in fast if i.error is not None] == errors, limit
        assert fast[-1].value == {"b": 1} and len(fast) == 3
        window = list(window_reader_module.read_values(iter([data]), line=1, array=True, max_depth=limit))
        assert _fields(window) == _fields(fast)
    inner = "[" * (pio.depth.MAX_DEPTH - 1) + "]" * (pio.depth.MAX_DEPTH - 1)  # in an object: at the bound
    fast = items_of(f'[{{"a": {inner}}}, {{"a": [{inner}]}}, {{"b": 1}}]'.encode())
    window = items_of(f'[[{inner}], [[{inner}]], {{"b": 1}}]'.encode())
    for items in (fast, window):
        assert [i.error is None for i in items] == [True, False, True]
    assert fast[0].block is not None and window[0].block is None
