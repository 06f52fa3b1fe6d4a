"""Hostile datasets: encodings, line endings, JSON oddities. Each is read by every data command.

Most files hold one good record on line 1 and the hostile one on line 2, so a refusal must name
``FILE:2``. Sizes stay small (the long line is a few MB) so the corpus runs in seconds.
"""

from __future__ import annotations

import codecs
import gzip
import io
import json

from .case import BAD, DATA, EMPTY, OK, VALID, Case, data_cases, lazy

GOOD = b'{"instruction": "Name a colour.", "output": "Blue."}'


def jsonl(*lines: bytes, end: bytes = b"\n", sep: bytes = b"\n") -> bytes:
    return sep.join(lines) + end


def record(**fields: object) -> bytes:
    return json.dumps({"instruction": "Name a colour.", "output": "Blue.", **fields}).encode()


def either(valid: dict[str, set[int]]) -> dict[str, set[int]]:
    """Read or refused, as long as it is said: for inputs whose reading the issue leaves open."""
    return {command: codes | {DATA} for command, codes in valid.items()}


# valid JSON that is no record: split copies any JSON item unchanged, the others refuse it
NOT_A_RECORD = {**BAD, "split": {OK}}

TEXT = jsonl(GOOD, record(instruction="Translate.", input="Hallo", output="Hello"))


def _encodings() -> list[Case]:
    bom16 = codecs.BOM_UTF16_LE + TEXT.decode().encode("utf-16-le")
    cases = [
        data_cases("utf16-le-bom", bom16, BAD),
        data_cases("utf16-be-bom", codecs.BOM_UTF16_BE + TEXT.decode().encode("utf-16-be"), BAD),
        data_cases("utf16-le-no-bom", TEXT.decode().encode("utf-16-le"), BAD),
        data_cases("utf16-be-no-bom", TEXT.decode().encode("utf-16-be"), BAD),
        data_cases("utf32-le-bom", codecs.BOM_UTF32_LE + TEXT.decode().encode("utf-32-le"), BAD),
        data_cases("utf32-be-no-bom", TEXT.decode().encode("utf-32-be"), BAD),
        data_cases("utf16-array", codecs.BOM_UTF16_LE + b'[\n{"instruction": "a", "output": "b"}\n]\n'.decode()
                   .encode("utf-16-le"), BAD),
        data_cases("utf8-bom", codecs.BOM_UTF8 + TEXT, either(VALID)),
        data_cases("latin1-bytes", jsonl(GOOD, '{"instruction": "Caf\xe9", "output": "x"}'.encode("latin-1")),
                   BAD, line=2),
        data_cases("latin1-in-key", jsonl(GOOD, b'{"instruction": "a", "output": "b", "n\xe9": 1}'), BAD, line=2),
        data_cases("overlong-utf8", jsonl(GOOD, b'{"instruction": "\xc0\xaf", "output": "x"}'), BAD, line=2),
        data_cases("utf8-encoded-surrogate", jsonl(GOOD, b'{"instruction": "\xed\xa0\x80", "output": "x"}'), BAD,
                   line=2),
        data_cases("truncated-utf8", jsonl(GOOD, b'{"instruction": "\xe2\x82", "output": "x"}'), BAD, line=2),
        # valid JSON, but no text: an escaped lone surrogate cannot be written as UTF-8
        data_cases("escaped-lone-surrogate", jsonl(GOOD, b'{"instruction": "a\\ud800b", "output": "x"}'),
                   either(VALID)),
        data_cases("escaped-reversed-pair", jsonl(GOOD, b'{"instruction": "\\udc00\\ud800", "output": "x"}'),
                   either(VALID)),
        data_cases("nul-byte-in-line", jsonl(GOOD, b'{"instruction": "a\x00b", "output": "x"}'), BAD, line=2),
        data_cases("nul-bytes-between-lines", GOOD + b"\n\x00\x00\x00\n" + GOOD + b"\n", BAD, line=2),
        data_cases("escaped-nul", jsonl(GOOD, b'{"instruction": "a\\u0000b", "output": "x"}'), either(VALID)),
        data_cases("c1-controls-and-bidi", jsonl(GOOD, record(instruction="a\u0085b\u202ec\u2028d\ufeff\uffff")),
                   either(VALID)),
    ]
    return [c for group in cases for c in group]


def _line_endings() -> list[Case]:
    two = (GOOD, record(output="Red."))
    cases = [
        data_cases("crlf", jsonl(*two, end=b"\r\n", sep=b"\r\n"), VALID),
        data_cases("cr-only", jsonl(*two, end=b"\r", sep=b"\r"), either(VALID)),
        data_cases("mixed-endings", GOOD + b"\r\n" + record(output="Red.") + b"\n" + GOOD + b"\r" + GOOD + b"\n",
                   either(VALID)),
        data_cases("no-final-newline", jsonl(*two, end=b""), VALID),
        data_cases("crlf-array", b"[\r\n  " + GOOD + b",\r\n  " + record(output="Red.") + b"\r\n]", VALID),
        data_cases("blank-lines", b"\n\n" + GOOD + b"\n\n\n" + record(output="Red.") + b"\n\n", VALID),
        data_cases("whitespace-lines", b" \t\n" + GOOD + b"\n \r\n\t\n", VALID),
    ]
    return [c for group in cases for c in group]


def _json_syntax() -> list[Case]:
    deep = b"[" * 100_000 + b"]" * 100_000
    cases = [
        data_cases("trailing-comma-line", jsonl(GOOD, b'{"instruction": "a", "output": "b",}'), BAD, line=2),
        data_cases("trailing-comma-array", b"[\n" + GOOD + b",\n" + GOOD + b",\n]\n", BAD),
        data_cases("line-comment", jsonl(GOOD, b"// a comment", GOOD), BAD, line=2),
        data_cases("block-comment-array", b"[\n" + GOOD + b", /* a comment */\n" + GOOD + b"\n]\n", BAD),
        data_cases("nan-infinity", jsonl(GOOD, b'{"instruction": "a", "output": "b", "score": NaN, "w": -Infinity}'),
                   BAD, line=2),
        data_cases("single-quotes", jsonl(GOOD, b"{'instruction': 'a', 'output': 'b'}"), BAD, line=2),
        data_cases("bad-escape", jsonl(GOOD, b'{"instruction": "\\x41", "output": "b"}'), BAD, line=2),
        data_cases("raw-control-in-string", jsonl(GOOD, b'{"instruction": "a\x01\tb", "output": "b"}'), BAD,
                   line=2),
        data_cases("unterminated-string", jsonl(GOOD, b'{"instruction": "a, "output": "b"', end=b""), BAD,
                   line=2),
        data_cases("two-values-one-line", jsonl(GOOD, GOOD + GOOD), BAD, line=2),
        data_cases("bom-mid-file", jsonl(GOOD, codecs.BOM_UTF8 + GOOD), BAD, line=2),
        data_cases("truncated-array", b"[\n" + GOOD + b",\n" + GOOD[:20], BAD),
        data_cases("array-then-garbage", b"[\n" + GOOD + b"\n]\ngarbage\n", BAD),
        data_cases("deep-array-file", deep, BAD),
        data_cases("deep-jsonl-line", jsonl(GOOD, b'{"instruction": "a", "output": "b", "m": ' + deep + b"}"), BAD,
                   line=2),
        data_cases("deep-object-line", jsonl(GOOD, b'{"a":' * 50_000 + b"1" + b"}" * 50_000), BAD, line=2),
        data_cases("deep-unclosed", b"[" * 200_000, BAD),
    ]
    return [c for group in cases for c in group]


def _json_shapes() -> list[Case]:
    many_keys = {f"k{i}": i for i in range(10_000)}
    forged = {"x\nin.jsonl:99: record 98: $: invalid-json: forged": 1, "tab\tkey": 2, "\u2028ls": 3,
              "\x1b[31mred": 4, "": 5, "in.jsonl:7:": 6}
    cases = [
        data_cases("empty-file", b"", EMPTY),
        data_cases("only-whitespace", b"  \n\t\r\n \n", EMPTY),
        data_cases("null-document", b"null\n", NOT_A_RECORD, line=1),
        data_cases("bare-string", b'"hello"\n', NOT_A_RECORD),
        data_cases("bare-number", b"5\n", NOT_A_RECORD),
        data_cases("array-of-arrays", b'[["instruction", "a"], ["output", "b"]]\n', NOT_A_RECORD),
        data_cases("jsonl-array-line", jsonl(GOOD, b"[1, 2, 3]"), NOT_A_RECORD, line=2),
        data_cases("empty-array", b"[]", EMPTY),
        data_cases("array-of-nulls", b"[null, null]", NOT_A_RECORD),
        data_cases("pretty-object", json.dumps({"instruction": "a", "output": "b"}, indent=2).encode(), either(VALID)),
        data_cases("duplicate-keys", jsonl(GOOD, b'{"instruction": "a", "output": "b", "output": "c"}'),
                   either(VALID)),
        # valid JSON (split may copy it), but no text in the output
        data_cases("huge-integer-field", jsonl(GOOD, b'{"instruction": "a", "output": ' + b"9" * 5000 + b"}"),
                   {**BAD, "split": {OK, DATA}}, line=2),
        data_cases("huge-integer-metadata", jsonl(GOOD, b'{"instruction": "a", "output": "b", "id": ' + b"9" * 5000
                                                  + b"}"), either(VALID)),
        data_cases("huge-exponent", jsonl(GOOD, b'{"instruction": "a", "output": "b", "w": 1e999999}'),
                   either(VALID)),
        data_cases("wrong-types", jsonl(GOOD, b'{"instruction": ["a"], "output": {"b": 1}, "input": true}'), NOT_A_RECORD,
                   line=2),
        data_cases("ten-thousand-keys", jsonl(GOOD, record(**many_keys)), VALID),
        data_cases("hostile-keys", jsonl(GOOD, record(**forged)), VALID, forbid=r"in\.jsonl:(99|7):"),
        data_cases("markers-in-content", jsonl(GOOD, record(instruction="<|user|>\n### Response:", output="<|end|>")),
                   VALID),
        data_cases("long-line", jsonl(GOOD, record(output="x" * 4_000_000)), VALID),
        data_cases("many-small-records", b"\n".join([GOOD] * 30_000) + b"\n", VALID),
        data_cases("messages-hostile", jsonl(json.dumps({"messages": [
            {"role": "user", "content": "a"}, {"role": "tool", "content": None}]}).encode()), NOT_A_RECORD),
        data_cases("messages-long", jsonl(json.dumps({"messages": [
            {"role": ("user", "assistant")[i % 2], "content": f"m{i}"} for i in range(5000)]}).encode()),
            {**VALID, "convert": {OK, DATA}}),
    ]
    return [c for group in cases for c in group]


def _compressed() -> list[Case]:
    packed = gzip.compress(TEXT)
    corrupt = bytearray(packed)
    corrupt[12:20] = b"\xff" * 8
    cases = [
        data_cases("gzip-ok", packed, VALID, filename="in.jsonl.gz"),
        data_cases("gzip-truncated", packed[: len(packed) // 2], BAD, filename="in.jsonl.gz"),
        data_cases("gzip-corrupt", bytes(corrupt), BAD, filename="in.jsonl.gz"),
        data_cases("gzip-bad-crc", packed[:-8] + b"\0\0\0\0" + packed[-4:], BAD, filename="in.jsonl.gz"),
        data_cases("gzip-two-members", packed + packed, VALID, filename="in.jsonl.gz"),
        data_cases("gzip-magic-only", b"\x1f\x8b", BAD, filename="in.jsonl.gz"),
        data_cases("gzip-of-utf16", gzip.compress(codecs.BOM_UTF16_LE + TEXT.decode().encode("utf-16-le")), BAD,
                   filename="in.jsonl.gz"),
        # 80 MB of one line in 80 KB: read within the memory bound, refused as no JSON record
        data_cases("gzip-80mb-line", lazy("in.jsonl.gz", _bomb), BAD),
        # a valid record of 80 MB: past --max-record-mb (64 by default) it is too-large, located; with the
        # bound raised it is converted within the time and memory bounds
        data_cases("gzip-80mb-record", lazy("in.jsonl.gz", _big_record), BAD, line=2),
        data_cases("gzip-80mb-record-bound-raised", lazy("in.jsonl.gz", _big_record), VALID,
                   options=("--max-record-mb", "100")),
    ]
    return [c for group in cases for c in group]


def _bomb() -> bytes:
    packed = io.BytesIO()
    with gzip.GzipFile(fileobj=packed, mode="wb", compresslevel=1) as out:
        for _ in range(80):  # made a MB at a time: the test process stays small
            out.write(b"0" * 1_000_000)
    return packed.getvalue()


def _big_record() -> bytes:
    packed = io.BytesIO()
    with gzip.GzipFile(fileobj=packed, mode="wb", compresslevel=1) as out:
        out.write(GOOD + b'\n{"instruction": "Repeat.", "output": "')
        for _ in range(80):
            out.write(b"x" * 1_000_000)
        out.write(b'"}\n')
    return packed.getvalue()


def cases() -> list[Case]:
    return [*_encodings(), *_line_endings(), *_json_syntax(), *_json_shapes(), *_compressed()]
