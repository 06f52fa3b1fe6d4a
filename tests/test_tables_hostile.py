"""Hostile CSV, Parquet and save_to_disk inputs through the real entry point: each ends with a
located error (never a traceback, exit 70, unbounded memory or a read outside the dataset)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

pa = pytest.importorskip("pyarrow")
import pyarrow.parquet as pq  # noqa: E402

from .test_tables import counts, sane  # noqa: E402

ROW = {"instruction": "Name a colour.", "input": "", "output": "Blue."}


def _folder(cli, tmp_path: Path, name: str = "ds") -> Path:
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps(ROW) + "\n", encoding="utf-8")
    folder = tmp_path / name
    assert cli("convert", str(source), "-o", str(folder), "--output-format", "arrow").exit_code == 0
    return folder


def test_a_csv_row_over_the_record_limit_is_one_too_large_item_read_in_chunks(cli, tmp_path):
    """Before: the line was read whole (a 200 MB line without newline took 700 MB of memory); now
    reading stops at the bound with one located too-large item."""
    path = tmp_path / "long.csv"
    path.write_bytes(b"instruction,input,output\nok,,fine\n" + b"x," * (700 << 10))  # 1.4 MB, no newline
    done = cli("--max-record-mb", "1", "convert", str(path), "-o", str(tmp_path / "out.jsonl"))
    sane(done.stderr)
    assert done.exit_code == 1
    assert counts(done.stderr) == (2, 1, 1)
    assert f"{path}:3: record 1: $: too-large: the row is longer than the limit of 1 MiB" in done.stderr


def test_a_csv_with_lone_cr_line_ends_in_many_chunks(cli, tmp_path):
    path = tmp_path / "cr.csv"
    path.write_bytes(b"instruction,input,output\r" + b"".join(b"do %d,,x\r" % n for n in range(150_000)))
    out = tmp_path / "out.jsonl"
    done = cli("convert", str(path), "-o", str(out))
    assert done.exit_code == 0, done.stderr
    lines = out.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 150_000 and json.loads(lines[-1])["instruction"] == "do 149999"


def test_a_state_file_cannot_make_promptfmt_read_outside_its_folder(cli, tmp_path):
    folder = _folder(cli, tmp_path)
    secret = tmp_path / "secret.arrow"
    (folder / "data-00000-of-00001.arrow").rename(secret)
    for listed in ("../secret.arrow", str(secret)):
        (folder / "state.json").write_text(json.dumps({"_data_files": [{"filename": listed}]}), encoding="utf-8")
        done = cli("convert", str(folder), "-o", "-")
        assert done.exit_code == 1 and done.stdout == ""
        assert f"Error: {folder}/state.json: lists '{listed}', which is not in the folder" in done.stderr
    os.symlink(secret, folder / "link.arrow")
    (folder / "state.json").write_text(json.dumps({"_data_files": [{"filename": "link.arrow"}]}), encoding="utf-8")
    assert "which is not in the folder" in cli("convert", str(folder), "-o", "-").stderr


def test_a_state_file_naming_a_file_by_a_number_is_a_data_error(cli, tmp_path):
    """Before: exit 70 (an internal error)."""
    folder = _folder(cli, tmp_path)
    (folder / "state.json").write_text(json.dumps({"_data_files": [{"filename": 5}]}), encoding="utf-8")
    done = cli("validate", str(folder))
    assert done.exit_code == 1
    assert "state.json: is not the state of a datasets folder (a file name is not text)" in done.stderr


def test_a_folder_output_never_replaces_the_folder_that_holds_the_input(cli, tmp_path):
    """Before: `convert ds/data.arrow -o ds` replaced the input file with the output."""
    folder = _folder(cli, tmp_path)
    data = folder / "data-00000-of-00001.arrow"
    before = data.read_bytes()
    done = cli("convert", str(data), "--layout", "messages", "-o", str(folder))
    assert done.exit_code == 2
    assert f"Error: --output {folder} is the folder that holds the input" in done.stderr
    assert data.read_bytes() == before


def _with_footer(tmp_path: Path, footer: bytes) -> Path:
    table = pa.table({"instruction": ["a", "b"], "input": ["", ""], "output": ["x", "y"]})
    path = tmp_path / "footer.parquet"
    pq.write_table(table.replace_schema_metadata({b"promptfmt": footer}), path)
    return path


@pytest.mark.parametrize(("footer", "reason"), [
    (b"[" * 100_000, "not JSON"),  # before: an unlocated "Error: the input is nested too deeply"
    (b"[1]", "not a JSON object"),
    (b'{"json": 5}', "its lists are not of the shape"),
    (b'{"orders": [["output", "output", "instruction"]], "runs": [[0, 1, 0]]}', "a key order is not"),
    (b'{"orders": [["output", "instruction"]], "runs": [[0, 2, -1]]}', "a run is not"),  # before: order -1 used
    (b'{"orders": [["output", "instruction"]], "runs": [[0, 2, 0]]}', "row 1 has other keys"),  # before: "input" dropped
])
def test_a_promptfmt_footer_of_another_shape_is_one_located_unreadable_item(cli, tmp_path, footer, reason):
    path = _with_footer(tmp_path, footer)
    done = cli("validate", str(path))
    sane(done.stderr + done.stdout)
    assert done.exit_code == 1
    assert f"{path}: row 1: record 0: $: unreadable: promptfmt's metadata in the file does not fit its rows" in done.stdout
    assert reason in done.stdout


def test_a_garbage_parquet_error_ends_with_one_full_stop(cli, tmp_path):
    path = tmp_path / "bad.parquet"
    path.write_bytes(b"PAR1" + b"\x00" * 100)
    done = cli("validate", str(path))
    assert done.exit_code == 1 and "Error:" in done.stderr and ".." not in done.stderr


def test_a_parquet_row_group_bigger_than_its_rows_may_be_is_not_decompressed(cli, tmp_path):
    """Before: a 1 MB file holding one 40 MB cell was read whole whatever --max-record-mb said."""
    path = tmp_path / "bomb.parquet"
    big = pa.table({"instruction": ["a" * (40 << 20)], "input": [""], "output": ["x"]})
    pq.write_table(pa.concat_tables([pa.table({"instruction": ["ok"], "input": [""], "output": ["x"]}), big]), path,
                   row_group_size=1)
    assert path.stat().st_size < 4 << 20
    done = cli("--max-record-mb", "1", "convert", str(path), "-o", str(tmp_path / "out.jsonl"))
    assert done.exit_code == 1
    assert counts(done.stderr) == (2, 1, 1)
    assert f"{path}: row 2: record 1: $: too-large: the 1 row(s) from here (a row group) hold" in done.stderr
