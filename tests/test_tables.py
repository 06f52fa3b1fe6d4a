"""Parquet, Arrow and CSV datasets through the real entry point: read as the equivalent JSON Lines
(``row N`` for a line), Parquet written exactly, clear refusals, nothing left behind on failure."""

from __future__ import annotations

import gzip
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from promptfmt.io import read_items

pa = pytest.importorskip("pyarrow")
import pyarrow.parquet as pq  # noqa: E402

from .test_validate_data import EXPECTED  # noqa: E402

PROMPTFMT = Path(sys.executable).with_name("promptfmt")
RECORD = {"instruction": "Name a colour.", "input": "", "output": "Blue."}
SUMMARY = re.compile(r"read ([\d,]+) = written ([\d,]+) \+ quarantined ([\d,]+)")


def jsonl(path: Path, items: list[object]) -> Path:
    path.write_text("".join(json.dumps(item, ensure_ascii=False) + "\n" for item in items), encoding="utf-8")
    return path


def counts(stderr: str) -> tuple[int, int, int]:
    found = SUMMARY.search(stderr)
    assert found, stderr
    return tuple(int(n.replace(",", "")) for n in found.groups())  # type: ignore[return-value]


def values(path: Path) -> list[object]:
    return [item.value for item in read_items(path)]


def sane(text: str) -> None:
    assert "Traceback" not in text and "internal error" not in text, text


# -- 2. every shared dataset: through Parquet as direct --------------------------------------------


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_shared_data_through_parquet_is_byte_identical(cli, tmp_path, shared_data, name):
    data = str(shared_data / name)
    direct = cli("convert", data, "-o", str(tmp_path / "direct.jsonl"))
    if direct.exit_code == 2:  # not convertible without options (rendered text: --from)
        assert "Error:" in direct.stderr
        pytest.skip(direct.stderr)
    assert direct.exit_code in (0, 1), direct
    via = cli("convert", data, "-o", str(tmp_path / "a.parquet"))
    assert via.exit_code == direct.exit_code, via
    back = cli("convert", str(tmp_path / "a.parquet"), "-o", str(tmp_path / "b.jsonl"))
    assert back.exit_code == 0, back
    assert (tmp_path / "b.jsonl").read_bytes() == (tmp_path / "direct.jsonl").read_bytes()
    assert counts(via.stderr) == counts(direct.stderr)
    read, written, _ = counts(direct.stderr)
    assert counts(back.stderr) == (written, written, 0)


# -- 3. datasets.load_dataset reads what convert writes --------------------------------------------


@pytest.fixture
def hf(monkeypatch, tmp_path):
    datasets = pytest.importorskip("datasets")
    for name in ("HF_DATASETS_OFFLINE", "HF_HUB_OFFLINE"):
        monkeypatch.setenv(name, "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf" / "datasets"))
    return datasets


@pytest.mark.parametrize(("options", "features"), [
    ((), {"instruction": "string", "input": "string", "output": "string"}),
    (("--layout", "messages"), None),
    (("--to", "alpaca"), {"text": "string"}),
])
def test_load_dataset_reads_convert_output_with_its_features(cli, hf, tmp_path, options, features):
    source = jsonl(tmp_path / "in.jsonl", [RECORD, {**RECORD, "input": "Sky", "output": "Blue"}])
    out = tmp_path / "out.parquet"
    assert cli("convert", str(source), "-o", str(out), *options).exit_code == 0
    loaded = hf.load_dataset("parquet", data_files=str(out), split="train", cache_dir=str(tmp_path / "cache"))
    assert loaded.num_rows == 2
    if features is None:
        turn = loaded.features["messages"]
        inner = turn.feature if hasattr(turn, "feature") else turn[0]
        assert {key: value.dtype for key, value in inner.items()} == {"role": "string", "content": "string"}
        assert loaded[1]["messages"][-1] == {"role": "assistant", "content": "Blue"}
    else:
        assert {key: value.dtype for key, value in loaded.features.items()} == features
        assert all(type(loaded.features[key]).__name__ == "Value" for key in features)


# -- 4. tables made by other tools read as the equivalent JSON Lines -------------------------------

ITEMS = [RECORD, {**RECORD, "output": ""}, {"instruction": "  padded", "input": "", "output": "x", "id": 3}]


def same_issues(cli, table: Path, items: list[object], tmp_path: Path) -> None:
    """validate and convert of ``table`` report what they report for the JSON Lines of ``items``."""
    lines = jsonl(tmp_path / "same.jsonl", items)
    for command in (("validate",), ("convert", "-o", str(tmp_path / "out1.jsonl"))):
        expected = cli(command[0], str(lines), *command[1:])
        got = cli(command[0], str(table), *(arg.replace("out1", "out2") for arg in command[1:]))
        assert got.exit_code == expected.exit_code, got
        shown = re.sub(re.escape(str(lines)) + r":(\d+):", lambda m: f"{table}: row {m[1]}:", expected.stderr)
        assert got.stderr.replace("out2", "out1").replace(str(table), "T") == shown.replace(str(lines), str(table)).replace(str(table), "T")
    assert (tmp_path / "out2.jsonl").read_bytes() == (tmp_path / "out1.jsonl").read_bytes()


def test_save_to_disk_folder_and_dataset_dict(cli, hf, tmp_path):
    folder = tmp_path / "saved"
    hf.Dataset.from_list(ITEMS[:2]).save_to_disk(str(folder))
    same_issues(cli, folder, ITEMS[:2], tmp_path)
    splits = tmp_path / "dict"
    hf.DatasetDict({"train": hf.Dataset.from_list(ITEMS[:2]), "test": hf.Dataset.from_list(ITEMS[:1])}).save_to_disk(str(splits))
    refused = cli("validate", str(splits))
    assert refused.exit_code == 2 and "test, train" in refused.stderr and str(splits / "test") in refused.stderr, refused


@pytest.mark.parametrize("stream", [False, True], ids=["file-format", "stream-format"])
def test_arrow_ipc_files(cli, tmp_path, stream):
    expected = [{**dict.fromkeys(["instruction", "input", "output", "id"]), **item} for item in ITEMS]
    table = pa.Table.from_pylist(expected)  # another tool's nulls stay: no promptfmt footer
    path = tmp_path / "data.arrow"
    with pa.OSFile(str(path), "wb") as sink:
        writer = (pa.ipc.new_stream if stream else pa.ipc.new_file)(sink, table.schema)
        writer.write_table(table, max_chunksize=1)
        writer.close()
    assert values(path) == expected
    same_issues(cli, path, expected, tmp_path)


def test_parquet_of_another_tool_with_nested_and_textual_columns(cli, tmp_path):
    import datetime
    import decimal

    table = pa.table({
        "messages": pa.array([[{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}],
                              [{"role": "user", "content": "Bye"}, {"role": "assistant", "content": ""}]]),
        "when": pa.array([datetime.datetime(2024, 5, 1, 12, 30), datetime.datetime(2025, 1, 2)], pa.timestamp("us")),
        "price": pa.array([decimal.Decimal("1.50"), decimal.Decimal("-20.25")], pa.decimal128(6, 2)),
        "blob": pa.array([b"text", b"\xff\x00"], pa.binary()),
    })
    path = tmp_path / "chat.parquet"
    pq.write_table(table, path)
    items = [
        {"messages": table.column("messages")[0].as_py(), "when": "2024-05-01T12:30:00", "price": "1.50", "blob": "text"},
        {"messages": table.column("messages")[1].as_py(), "when": "2025-01-02T00:00:00", "price": "-20.25", "blob": "/wA="},
    ]
    assert values(path) == items
    same_issues(cli, path, items, tmp_path)


# -- 5. CSV and TSV ---------------------------------------------------------------------------------


def test_csv_quoting_empty_cells_bom_and_a_bad_row(cli, tmp_path):
    text = ('\ufeffinstruction,input,output\r\n"Say ""hi"", twice","",hello\r\n'
            '"two\nlines",,x\r\nonly,two\r\nlast,,y\r\n')
    path = tmp_path / "in.csv"
    path.write_bytes(text.encode("utf-8"))
    items = list(read_items(path))
    assert [item.value for item in items if item.error is None] == [
        {"instruction": 'Say "hi", twice', "input": "", "output": "hello"},
        {"instruction": "two\nlines", "input": "", "output": "x"},
        {"instruction": "last", "input": "", "output": "y"}]
    assert [(item.line, item.code) for item in items if item.error] == [(5, "invalid-csv")]
    done = cli("convert", str(path), "-o", str(tmp_path / "out.jsonl"))
    assert done.exit_code == 1 and counts(done.stderr) == (4, 3, 1), done
    assert f"{path}:5:" in done.stderr and "invalid-csv" in done.stderr


def test_tsv_gzip_and_non_utf8(cli, tmp_path):
    gz = tmp_path / "in.tsv.gz"
    gz.write_bytes(gzip.compress(b"instruction\tinput\toutput\nName it.\t\tBlue.\n"))
    assert values(gz) == [{"instruction": "Name it.", "input": "", "output": "Blue."}]
    csv_gz = tmp_path / "in.csv.gz"
    csv_gz.write_bytes(gzip.compress(b"instruction,input,output\nName it.,,Blue.\n"))
    assert cli("convert", str(csv_gz), "-o", str(tmp_path / "out.jsonl")).exit_code == 0
    assert values(tmp_path / "out.jsonl") == [{"instruction": "Name it.", "input": "", "output": "Blue."}]
    latin = tmp_path / "latin.csv"
    latin.write_bytes("instruction,input,output\na,,b\ncaf\xe9,,c\n".encode("latin-1"))
    done = cli("convert", str(latin), "-o", str(tmp_path / "latin.jsonl"))
    assert done.exit_code == 1 and counts(done.stderr) == (2, 1, 1), done
    assert f"{latin}:3:" in done.stderr and "not UTF-8" in done.stderr, done
    sane(done.stderr)


def test_a_repeated_header_name_is_named(cli, tmp_path):
    path = tmp_path / "in.csv"
    path.write_text("instruction,output,output\na,b,c\n")
    done = cli("convert", str(path), "-o", str(tmp_path / "out.jsonl"))
    assert done.exit_code == 1 and "'output'" in done.stderr and "more than once" in done.stderr, done
    sane(done.stderr)


# -- 6. errors --------------------------------------------------------------------------------------


def test_a_truncated_parquet_file_is_one_clear_error(cli, tmp_path):
    source = jsonl(tmp_path / "in.jsonl", [RECORD] * 50)
    assert cli("convert", str(source), "-o", str(tmp_path / "ok.parquet")).exit_code == 0
    data = (tmp_path / "ok.parquet").read_bytes()
    for size in (len(data) // 2, 8, len(data) - 5):
        broken = tmp_path / f"broken{size}.parquet"
        broken.write_bytes(data[:size] + (b"PAR1" if size > 8 else b""))
        done = cli("convert", str(broken), "-o", str(tmp_path / "out.jsonl"))
        assert done.exit_code in (1, 2), done
        assert "Error:" in done.stderr or "unreadable" in done.stderr, done
        sane(done.stderr)


def test_refusals(cli, tmp_path):
    source = jsonl(tmp_path / "in.jsonl", [RECORD])
    assert cli("convert", str(source), "-o", str(tmp_path / "a.parquet")).exit_code == 0
    stdin = cli("validate", "-", input=(tmp_path / "a.parquet").read_bytes())
    assert stdin.exit_code == 1, stdin  # one located issue, as any bytes on stdin give
    assert "<stdin>:1: record 0: $: unreadable: Parquet data cannot be read from standard input" in stdin.stdout
    cases = {
        ("-o", "out.csv"): "does not write .csv",
        ("-o", "out.jsonl.gz"): "does not write .gz",
        ("--json-array", "-o", "x.parquet"): "--json-array writes a JSON array",
        ("--output-format", "parquet", "-o", "x.jsonl"): "--output-format is parquet",
        ("-o", "x.jsonl", "--quarantine", "q.parquet"): "the quarantine is JSON Lines",
    }
    for options, message in cases.items():
        done = cli("convert", str(source), *(str(tmp_path / o) if "." in o else o for o in options))
        assert done.exit_code == 2 and message in done.stderr, (options, done)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.parquet", "in.jsonl"]


def test_without_pyarrow_the_extra_is_named(tmp_path):
    jsonl(tmp_path / "in.jsonl", [RECORD])
    code = ("import sys; sys.modules['pyarrow'] = None; from promptfmt.cli import main; "
            "main(['convert', 'in.jsonl', '-o', 'out.parquet'])")
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "pip install 'promptfmt[parquet]'" in done.stderr, done.stderr
    assert not (tmp_path / "out.parquet").exists()


# -- 7. workers, split, stdout, failures ------------------------------------------------------------


def test_workers_give_the_same_parquet_rows(cli, tmp_path):
    lines = [json.dumps({**RECORD, "output": f"answer {k}", "id": k}) if k % 97 else f"broken {k}" for k in range(4000)]
    (tmp_path / "big.jsonl").write_text("\n".join(lines) + "\n")
    runs = {}
    for workers in ("1", "2"):
        out, keep = tmp_path / f"out{workers}.parquet", tmp_path / f"q{workers}.jsonl"
        done = cli("convert", str(tmp_path / "big.jsonl"), "-o", str(out), "--workers", workers, "--quarantine", str(keep))
        assert done.exit_code == 1 and "ignored" not in done.stderr, done
        read, written, quarantined = counts(done.stderr)
        assert (read, written, quarantined) == (4000, 4000 - 42, 42)
        runs[workers] = values(out)
        assert len(runs[workers]) == written and len(keep.read_text().splitlines()) == quarantined
    assert runs["1"] == runs["2"]


def test_split_as_parquet_reads_back_as_the_jsonl_split(cli, tmp_path):
    source = jsonl(tmp_path / "in.jsonl", [{**RECORD, "output": f"o{k}"} for k in range(50)])
    assert cli("split", str(source), "--out-dir", str(tmp_path / "j")).exit_code == 0
    assert cli("split", str(source), "--out-dir", str(tmp_path / "p"), "--output-format", "parquet").exit_code == 0
    for part in ("train", "test", "val"):
        assert values(tmp_path / "p" / f"{part}.parquet") == values(tmp_path / "j" / f"{part}.jsonl")


def test_parquet_to_stdout(tmp_path):
    jsonl(tmp_path / "in.jsonl", [RECORD, {**RECORD, "id": 2**70}])
    done = subprocess.run([str(PROMPTFMT), "convert", "in.jsonl", "-o", "-", "--output-format", "parquet"],
                          cwd=tmp_path, capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr
    (tmp_path / "got.parquet").write_bytes(done.stdout)
    assert values(tmp_path / "got.parquet") == [RECORD, {**RECORD, "id": 2**70}]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_FSIZE")
def test_a_parquet_write_that_fails_leaves_nothing(tmp_path):
    import os
    import resource
    import signal

    words = [os.urandom(400).hex() for _ in range(4000)]  # incompressible: the file outgrows the limit
    jsonl(tmp_path / "in.jsonl", [{**RECORD, "output": word} for word in words])

    def small_files() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))

    done = subprocess.run([str(PROMPTFMT), "convert", "in.jsonl", "-o", "out.parquet"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120, preexec_fn=small_files)
    assert done.returncode == 1, done.stderr
    assert "file too large" in done.stderr.lower() and "out.parquet" in done.stderr
    sane(done.stderr)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl"]


def test_a_file_changed_after_promptfmt_wrote_it_is_one_unreadable_item(cli, tmp_path):
    """The footer says a column is JSON text; a tool that rewrote the column with other text leaves
    a footer that no longer fits: one located unreadable item, never a traceback."""
    from promptfmt.io.parquet_out import items_to_parquet

    path = tmp_path / "out.parquet"
    items_to_parquet([{"instruction": "a", "output": "b", "meta": 1}, {"instruction": "c", "output": "d", "meta": "x"}],
                     path)
    table = pq.read_table(path)
    metadata = pq.ParquetFile(path).metadata.metadata
    assert b'"json":["meta"]' in metadata[b"promptfmt"]
    damaged = table.set_column(2, "meta", pa.array(["{not json", "2"]))
    writer_metadata = {b"promptfmt": metadata[b"promptfmt"]}
    with pq.ParquetWriter(path, damaged.schema) as writer:
        writer.write_table(damaged)
        writer.add_key_value_metadata(writer_metadata)
    result = cli("validate", str(path))
    assert result.exit_code == 1
    assert "Traceback" not in result.stderr + result.stdout
    assert "out.parquet: row 1: record 0: $: unreadable: promptfmt's metadata in the file does not fit its rows" in result.stdout


def test_workers_pass_lone_surrogates_to_parquet_as_one_process_does(cli, tmp_path):
    """A part file line with an escaped lone surrogate (which msgspec refuses) ended the run with an
    internal error (exit 70) in the parent that turns parts into Parquet."""
    lines = ['{"instruction":"a\\ud800","output":"b"}', '{"instruction":"c","output":"d","m":"\\udfff"}']
    lines += ['{"instruction":"x","output":"y"}'] * 50
    (tmp_path / "in.jsonl").write_text("\n".join(lines) + "\n")
    for workers in ("1", "2"):
        done = cli("convert", str(tmp_path / "in.jsonl"), "-o", str(tmp_path / f"w{workers}.parquet"), "--workers", workers)
        assert done.exit_code == 0, done.stderr
        back = cli("convert", str(tmp_path / f"w{workers}.parquet"), "-o", str(tmp_path / f"w{workers}.jsonl"))
        assert back.exit_code == 0, back.stderr
    first = (tmp_path / "w1.jsonl").read_text()
    assert first == (tmp_path / "w2.jsonl").read_text()
    assert first.startswith('{"instruction": "a\\ud800", "input": "", "output": "b"}\n')


# -- save_to_disk folders written by promptfmt ---------------------------------------------------------


def test_a_folder_output_loads_with_datasets_and_reads_back_the_same(cli, hf, tmp_path):
    items = [RECORD, {**RECORD, "input": "Sky", "output": "Blue", "tags": ["a", "b"]}, {**RECORD, "id": 7}]
    source = jsonl(tmp_path / "in.jsonl", items)
    folder = tmp_path / "ds"
    done = cli("convert", str(source), "-o", str(folder), "--output-format", "arrow")
    assert done.exit_code == 0, done.stderr
    assert sorted(path.name for path in folder.iterdir()) == [
        "data-00000-of-00001.arrow", "dataset_info.json", "state.json"]
    loaded = hf.load_from_disk(str(folder))
    assert loaded.num_rows == 3
    assert {key: loaded.features[key].dtype for key in ("instruction", "input", "output")} == {
        "instruction": "string", "input": "string", "output": "string"}
    assert loaded[1]["output"] == "Blue"
    assert cli("convert", str(folder), "-o", str(tmp_path / "back.jsonl")).exit_code == 0
    assert cli("convert", str(source), "-o", str(tmp_path / "direct.jsonl")).exit_code == 0
    assert (tmp_path / "back.jsonl").read_bytes() == (tmp_path / "direct.jsonl").read_bytes()
    assert [p.name for p in tmp_path.iterdir() if "promptfmt" in p.name] == []  # the staging folder is gone


def test_a_folder_output_replaces_a_dataset_folder_only(cli, tmp_path):
    source = jsonl(tmp_path / "in.jsonl", [RECORD])
    folder = tmp_path / "ds"
    assert cli("convert", str(source), "-o", str(folder), "--output-format", "arrow").exit_code == 0
    again = cli("convert", str(source), "-o", str(folder))  # an existing dataset folder: written as one again
    assert again.exit_code == 0, again.stderr
    assert (folder / "state.json").is_file()
    other = tmp_path / "notes"
    other.mkdir()
    (other / "keep.txt").write_text("mine")
    refused = cli("convert", str(source), "-o", str(other), "--output-format", "arrow")
    assert refused.exit_code == 2
    assert "exists and is not a datasets folder" in refused.stderr
    assert (other / "keep.txt").read_text() == "mine"
    to_stdout = cli("convert", str(source), "-o", "-", "--output-format", "arrow")
    assert to_stdout.exit_code == 2 and "cannot go to stdout" in to_stdout.stderr


def test_split_writes_dataset_folders(cli, tmp_path):
    items = [{**RECORD, "id": k} for k in range(20)]
    source = jsonl(tmp_path / "in.jsonl", items)
    done = cli("split", str(source), "-d", str(tmp_path / "splits"), "--output-format", "arrow")
    assert done.exit_code == 0, done.stderr
    back = [item.value for name in ("train", "test", "val") for item in read_items(tmp_path / "splits" / name)]
    assert back == items


def test_a_failed_folder_output_leaves_nothing(cli, tmp_path):
    """A record that cannot be written (no keys at all) fails the run: no folder, no staging left."""
    source = jsonl(tmp_path / "in.jsonl", [{}, {}])
    done = cli("split", str(source), "-d", str(tmp_path / "splits"), "--output-format", "arrow", "--train", "1",
               "--test", "0", "--val", "0")
    assert done.exit_code == 1
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "splits").exists()  # the --out-dir this run made is removed again


def test_nan_and_infinities_become_text_never_a_silent_null(cli, tmp_path):
    table = pa.table({"instruction": ["a", "b", "c", "d"], "output": ["w", "x", "y", "z"],
                      "score": [1.5, float("nan"), float("inf"), float("-inf")],
                      "nested": [[0.5], [float("nan")], [], None]})
    pq.write_table(table, tmp_path / "in.parquet")
    done = cli("convert", str(tmp_path / "in.parquet"), "-o", str(tmp_path / "out.jsonl"))
    assert done.exit_code == 0, done.stderr
    rows = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [row["score"] for row in rows] == [1.5, "NaN", "Infinity", "-Infinity"]
    assert [row["nested"] for row in rows] == [[0.5], ["NaN"], [], None]
