"""Properties of validation over generated documents: broken input of any kind gives located issues,
never a traceback; the bulk JSON Lines path and the item-by-item path always agree.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import tempfile

from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from promptfmt import Report, Validator, validate
from promptfmt.formats.alpaca import ALPACA, ALPACA_LLMFS
from promptfmt.formats.phi3 import PHI3, PHI3_LLMFS
from promptfmt.io import read_items
from promptfmt.io.reader import wide_encoding
from promptfmt.records.mapping import FieldMapping

from .helpers import builtin_registry
from .strategies import dataset_values, gate_rows, jsonl_documents, keyed_values, plain_lines

FORMATS = (ALPACA, ALPACA_LLMFS, PHI3, PHI3_LLMFS)


def run(data: bytes, **options) -> Report:
    return validate("-", stdin=io.BytesIO(data), registry=FORMATS, **options)


def assert_located(report: Report, data: bytes) -> None:
    lines = data.count(b"\n") + 1
    assert report.records == report.valid + report.invalid
    assert sum(report.counts.values()) == report.errors + report.warnings == len(report.issues)
    for issue in report.issues:
        if issue.code == "empty-dataset":
            assert report.records == 0
            continue
        assert issue.record is not None and 0 <= issue.record < report.records, issue
        assert issue.line is not None and 1 <= issue.line <= lines, issue
        assert issue.message and issue.severity in ("error", "warning")
        assert issue.field or issue.code == "unknown-field"  # "" is a key like any other


@given(jsonl_documents())
def test_every_broken_json_line_is_an_error_on_its_own_line(document):
    data, broken = document
    report = run(data)
    assert_located(report, data)
    if data.lstrip().startswith((b"[", b"{")) and report.records and broken and 1 in broken:
        return  # a broken first line can make the file look like an array or a pretty-printed document
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) or wide_encoding(data[:4]):  # UTF-16/32: one error in all
        assert [(i.code, i.line) for i in report.issues] == [("invalid-json", 1)]
    elif not data.lstrip().startswith(b"["):
        error_lines = {i.line for i in report.issues if i.code == "invalid-json"}
        assert set(broken) <= error_lines or data.lstrip().startswith(b"{"), (broken, report.issues)


@given(st.lists(dataset_values, max_size=6), st.integers(0, 10_000), st.binary(min_size=1, max_size=4), st.booleans())
def test_a_broken_array_is_an_error_with_a_location_and_never_an_exception(rows, cut, junk, indent):
    text = json.dumps(rows, ensure_ascii=False, indent=2 if indent else None).encode("utf-8", "surrogatepass")
    cut %= len(text) + 1
    data = text[:cut] + junk + text[cut:]
    report = run(data)
    assert_located(report, data)
    try:
        json.loads(data)
    except (ValueError, UnicodeDecodeError):
        if data.strip():
            assert report.errors >= 1
            assert any(i.severity == "error" for i in report.issues)


@given(st.binary(max_size=200))
@example(b"ARROW1")  # a table's magic on stdin: one located issue (it was a usage error raised by the reader)
@example(b"PAR1")
def test_arbitrary_bytes_give_issues_not_exceptions(data):
    report = run(data)
    assert_located(report, data)


@given(jsonl_documents(), st.integers(1, 400))
def test_a_truncated_gzip_stream_is_reported_after_what_could_be_read(document, keep):
    data, _ = document
    squeezed = gzip.compress(data)
    report = run(squeezed[: max(1, len(squeezed) - keep)])
    assert report.records == report.valid + report.invalid
    for issue in report.issues:
        assert issue.code == "empty-dataset" or (issue.record is not None and issue.line is not None)


@given(jsonl_documents(), st.booleans(), st.booleans(), st.booleans())
def test_the_bulk_json_lines_path_agrees_with_item_by_item_checks(document, strict, duplicates, mapped):
    data, _ = document
    assume(not data.lstrip().startswith(b"["))
    options = {"strict": strict, "duplicates": duplicates, "registry": FORMATS}
    if mapped:
        options["mapping"] = ["output=response"]
    bulk = validate("-", stdin=io.BytesIO(data), **options)
    one_by_one = Validator(source="<stdin>", **options)
    for item in read_items("-", stdin=io.BytesIO(data)):
        one_by_one.check(item)
    assert bulk.as_dict() == one_by_one.end().as_dict()


@given(keyed_values, st.sampled_from(list(range(4))))
def test_mapping_loses_no_key(value, which):
    mapping = FieldMapping.build(["alpaca", "dolly", "prompt-response", None][which])
    view, shadowed = mapping.apply(value)
    read = {mapping.key(field) for field in ("instruction", "input", "output") if field in view}
    metadata = set(view) - {"instruction", "input", "output"}
    assert read | metadata | set(shadowed) == set(value)
    assert not (metadata & set(shadowed))


@settings(max_examples=25)
@given(jsonl_documents(), st.integers(2, 3), st.booleans(), st.booleans(), st.booleans())
def test_validating_in_parts_gives_the_one_process_report(document, workers, duplicates, strict, with_format):
    data, _ = document
    assume(not data.lstrip().startswith((b"[", b"{\n")) and not data.startswith((b"\xff\xfe", b"\xfe\xff")))
    options = {"duplicates": duplicates, "strict": strict and not duplicates, "registry": FORMATS}
    if with_format:
        options["format"] = "alpaca"
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "data.jsonl")
        with open(path, "wb") as out:
            out.write(data * 3)  # repeats: duplicates across the parts
        alone = validate(path, quarantine=os.path.join(folder, "one.jsonl"), **options)
        parts = validate(path, quarantine=os.path.join(folder, "parts.jsonl"), workers=workers, **options)
        assert parts.as_dict() == alone.as_dict()
        with open(os.path.join(folder, "one.jsonl"), "rb") as one, open(os.path.join(folder, "parts.jsonl"), "rb") as two:
            assert one.read() == two.read()


def quick_beside_check(data: bytes, settles: set[str], **options) -> int:
    """`Validator.quick` (then `check` where it declines) beside `check` alone on the items of ``data``:
    each item quick settles has check's fields, no metadata, no error and issues with codes in
    ``settles`` only; the two reports are the same. Returns how many items quick settled."""
    quick, full = Validator(**options), Validator(**options)
    settled = 0
    for item in read_items("-", io.BytesIO(data)):
        fields = quick.quick(item)
        checked = full.check(item)
        if fields is None:
            quick.check(item)
        else:
            settled += 1
            assert {issue.code for issue in checked.issues} <= settles
            assert checked.ok and checked.fields == fields and checked.metadata == {}
    assert quick.end().as_dict() == full.end().as_dict()
    return settled


@given(jsonl_documents().map(lambda document: document[0]) | plain_lines, st.booleans())
def test_quick_proves_clean_only_what_check_finds_clean(data, strict):
    """`Validator.quick` (convert's shortcut) returns fields only for items `check` finds without an
    issue, and then the same fields; it counts them as clean records."""
    quick_beside_check(data, set(), registry=FORMATS, duplicates=False, strict=strict)
    plain = b'{"instruction": "a", "input": "", "output": "b"}\n{"instruction": "c", "output": "d"}\n'
    items = list(read_items("-", io.BytesIO(plain)))
    assert [Validator(registry=FORMATS, duplicates=False).quick(item) for item in items] == [("a", "", "b"), ("c", "", "d")]
    assert Validator(registry=FORMATS).quick(items[0]) is None  # duplicates tracked: never a shortcut


@given(plain_lines, st.sampled_from([(), ("surrounding-whitespace",), ("whitespace-only-input",)]))
def test_quick_settles_padding_only_when_padding_is_all_check_finds(data, ignore):
    """When no issue is kept (``max_issues=0``), `Validator.quick` also settles records whose only
    findings are padding warnings: it returns their fields and counts what `check` would count."""
    quick_beside_check(data, {"surrounding-whitespace", "whitespace-only-input"},
                       registry=FORMATS, duplicates=False, max_issues=0, ignore=ignore)
    padded = b'{"instruction": " a", "input": "\\t", "output": "b\\n"}\n'
    assert quick_beside_check(padded, {"surrounding-whitespace", "whitespace-only-input"},
                              registry=FORMATS, duplicates=False, max_issues=0) == 1


def _escape_slashes(line: bytes) -> bytes:
    return line.replace(b"/", b"\\/")  # as some JSON encoders write "/" (also inside escapes: still JSON)


@given(gate_rows, st.sampled_from(["utf-8", "ascii", "slashes"]))
@example([{"instruction": "a</s>", "input": "", "output": "x"}], "slashes")
@example([{"instruction": "[1, 2] [INST]", "input": "", "output": "<|user|>"}], "utf-8")
def test_the_gate_flags_every_line_whose_fields_have_a_finding(rows, encoding):
    """The block gate is sound: a line it does not flag for a check has no finding of that check,
    whatever escapes the JSON writer chose (ensure_ascii, ``\\/``)."""
    from promptfmt.io import Block
    from promptfmt.validation.content import (
        CONTROL_FLAG,
        MARKER,
        PLACEHOLDER_FLAG,
        Gate,
        MarkerScanner,
        control_character,
        placeholders,
    )

    scanner = MarkerScanner(builtin_registry())
    lines = [json.dumps(row, ensure_ascii=encoding == "ascii").encode("utf-8", "surrogatepass") for row in rows]
    if encoding == "slashes":
        lines = [_escape_slashes(line) for line in lines]
    assert [json.loads(line) for line in lines] == rows
    flagged = Gate(scanner).lines(Block(b"\n".join(lines) + b"\n", 1))
    for number, row in enumerate(rows, start=1):
        flags = flagged.get(number, 0)
        for text in row.values():
            if scanner.find(text) is not None:
                assert flags & MARKER, (number, text)
            if placeholders(text):
                assert flags & PLACEHOLDER_FLAG, (number, text)
            if control_character(text) is not None:
                assert flags & CONTROL_FLAG, (number, text)


def test_a_marker_with_a_character_json_escapes_is_probed_by_its_sentinel_alone():
    """``"`` is written ``\\"``: the needle ``say "hi"|`` would never be found in raw bytes."""
    from types import SimpleNamespace

    from promptfmt.io import Block
    from promptfmt.validation.content import MARKER, Gate, MarkerScanner

    scanner = MarkerScanner([SimpleNamespace(name="quoted", markers=('say "hi"|',))])
    line = json.dumps({"instruction": 'x say "hi"| y', "output": "z"}).encode()
    assert scanner.find('x say "hi"| y') is not None
    assert Gate(scanner).lines(Block(line + b"\n", 1)) == {1: MARKER}
