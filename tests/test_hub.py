"""hf://datasets/NAME inputs (promptfmt.io.hub), never over the network: the real `datasets` library
reads local folders in a subprocess with the Hub offline and its caches in tmp_path; a stand-in
module plays the Hub's failures in process."""

from __future__ import annotations

import datetime
import json
import subprocess
import sys
import types
from pathlib import Path

import pytest

from promptfmt.errors import InputPathError, MissingExtraError
from promptfmt.io import DatasetReader, input_unit
from promptfmt.io.hub import HubName
from promptfmt.io.ranges import can_split

pa = pytest.importorskip("pyarrow")
SCRIPT = Path(sys.executable).parent / "promptfmt"
TRAIN = [
    {"instruction": "Name a colour.", "input": "", "output": "Blue."},
    {"instruction": "Translate.", "input": "Hallo", "output": "Hello"},
    {"instruction": "Add.", "input": "1+1", "output": "2"},
]
TEST = [{"instruction": "Say hi.", "input": "", "output": "Hi."}]


@pytest.fixture
def offline(tmp_path, monkeypatch):
    """The environment of every subprocess here: the Hub offline, every cache inside tmp_path."""
    for name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"):
        monkeypatch.setenv(name, "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf-datasets"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


@pytest.fixture
def folder(tmp_path):
    """A local dataset folder as the Hub holds one: a file per split."""
    path = tmp_path / "data"
    path.mkdir()
    (path / "train.jsonl").write_text("".join(json.dumps(row) + "\n" for row in TRAIN))
    (path / "test.jsonl").write_text("".join(json.dumps(row) + "\n" for row in TEST))
    return path


def promptfmt(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, cwd=cwd, check=False, timeout=120)


def test_a_local_folder_converts_as_its_file_does(offline, folder, tmp_path, cli):
    pytest.importorskip("datasets")
    direct = cli("convert", str(folder / "train.jsonl"), "-o", str(tmp_path / "direct.jsonl"), "--to", "phi3")
    assert direct.exit_code == 0, direct
    hub = promptfmt("convert", f"hf://datasets/{folder}", "-o", "hub.jsonl", "--to", "phi3", cwd=tmp_path)
    assert hub.returncode == 0, hub.stderr
    assert (tmp_path / "hub.jsonl").read_bytes() == (tmp_path / "direct.jsonl").read_bytes()
    assert len((tmp_path / "hub.jsonl").read_text().splitlines()) == 3
    assert "read 3 = written 3 + quarantined 0" in hub.stderr


def test_split_and_config_are_chosen_by_query(offline, folder, tmp_path):
    pytest.importorskip("datasets")
    test = promptfmt("convert", "hf://datasets/./data?split=test", "-o", "-", cwd=tmp_path)
    assert test.returncode == 0, test.stderr
    assert [json.loads(line) for line in test.stdout.splitlines()] == TEST
    named = promptfmt("validate", "--json", "hf://datasets/./data?name=default&split=train", cwd=tmp_path)
    assert named.returncode == 0, named.stderr
    assert json.loads(named.stdout)["records"] == 3
    missing = promptfmt("validate", "hf://datasets/./data?split=val", cwd=tmp_path)
    assert missing.returncode == 2
    assert missing.stderr.startswith("Error: hf://datasets/./data?split=val: Bad split: val")
    assert "'train', 'test'" in missing.stderr and "?split=SPLIT" in missing.stderr


def test_a_parquet_folder_reads_as_its_file(offline, tmp_path, cli):
    pytest.importorskip("datasets")
    (tmp_path / "pq").mkdir()
    table = pa.table({"instruction": ["x", "y"], "output": ["1", "2"], "day": [datetime.date(2024, 1, 2), None]})
    pa.parquet.write_table(table, tmp_path / "pq" / "train.parquet")
    direct = cli("convert", str(tmp_path / "pq" / "train.parquet"), "-o", str(tmp_path / "direct.jsonl"))
    assert direct.exit_code == 0, direct
    hub = promptfmt("convert", "hf://datasets/./pq", "-o", "hub.jsonl", cwd=tmp_path)
    assert hub.returncode == 0, hub.stderr
    assert (tmp_path / "hub.jsonl").read_text() == (tmp_path / "direct.jsonl").read_text()
    assert json.loads((tmp_path / "hub.jsonl").read_text().splitlines()[0])["day"] == "2024-01-02"


def test_offline_a_hub_name_is_one_line_that_says_what_to_do(offline, tmp_path):
    pytest.importorskip("datasets")
    for command in (("convert", "hf://datasets/someone/nothing-here", "-o", "out.jsonl"),
                    ("validate", "hf://datasets/someone/nothing-here")):
        result = promptfmt(*command, cwd=tmp_path)
        assert result.returncode == 2, result.stderr
        assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
        assert result.stderr.startswith("Error: hf://datasets/someone/nothing-here: the Hugging Face Hub cannot be "
                                        "reached (offline mode: HF_HUB_OFFLINE or HF_DATASETS_OFFLINE is set). ")
        assert "Download the dataset's files and pass them" in result.stderr and "or go online" in result.stderr
    assert not (tmp_path / "out.jsonl").exists()


def test_without_datasets_the_error_says_what_to_install(cli, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "datasets", None)  # import datasets raises ImportError
    result = cli("convert", "hf://datasets/someone/data", "-o", str(tmp_path / "out.jsonl"))
    assert result.exit_code == 2
    assert result.stderr.strip() == ("Error: Hugging Face Hub names (hf://datasets/…) need datasets, which is not "
                                     "installed: pip install 'promptfmt[hf]'")
    with pytest.raises(MissingExtraError):
        DatasetReader("hf://datasets/someone/data")


@pytest.mark.parametrize(("name", "problem"), [
    ("hf://models/someone/model", "only datasets are read from the Hub"),
    ("hf://datasets/", "names no dataset"),
    ("hf://datasets/a/b?splt=test", "'splt=test' is not an option of a Hub name"),
    ("hf://datasets/a/b?split=", "'split=' is not an option"),
    ("hf://datasets/a/b?split=a&split=b", "'split=b' is not an option"),
])
def test_malformed_names_are_usage_errors_before_anything_is_imported(cli, monkeypatch, name, problem):
    monkeypatch.setitem(sys.modules, "datasets", None)
    result = cli("validate", name)
    assert result.exit_code == 2
    assert result.stderr.startswith(f"Error: {name}: {problem}")


def test_names_parse_into_dataset_split_and_config():
    assert HubName.parse("hf://datasets/tatsu-lab/alpaca") == HubName("tatsu-lab/alpaca", "train", None)
    assert HubName.parse("hf://datasets/o/n?split=test&name=en") == HubName("o/n", "test", "en")
    assert HubName.parse("hf://datasets//abs/folder?name=x") == HubName("/abs/folder", "train", "x")
    with pytest.raises(InputPathError):
        HubName.parse("hf://o/n")


# -- the Hub played by a stand-in module -------------------------------------------------------


class _Stream:
    """What datasets.load_dataset(streaming=True) returns, as far as promptfmt uses it."""

    def __init__(self, tables: list, error: Exception | None, rows: int | None) -> None:
        self.tables, self.error = tables, error
        self.info = types.SimpleNamespace(splits={"train": types.SimpleNamespace(num_examples=rows)} if rows else None)

    def with_format(self, kind: str) -> _Stream:
        assert kind == "arrow"
        return self

    def iter(self, batch_size: int):
        yield from self.tables
        if self.error is not None:
            raise self.error


@pytest.fixture
def hub(monkeypatch):
    """Install a stand-in ``datasets``; returns the dict its load_dataset answers from."""
    answer: dict = {"calls": []}

    def load_dataset(path, name=None, *, split, streaming):
        answer["calls"].append((path, name, split, streaming))
        if "load_error" in answer:
            raise answer["load_error"]
        return _Stream(answer.get("tables", []), answer.get("error"), answer.get("rows"))

    module = types.ModuleType("datasets")
    module.load_dataset = load_dataset  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "datasets", module)
    for name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"):
        monkeypatch.delenv(name, raising=False)
    return answer


def test_rows_are_items_located_by_row_with_json_values(hub):
    hub["tables"] = [pa.table({"instruction": ["a", "b"], "when": [datetime.datetime(2024, 5, 6, 7, 8), None]}),
                     pa.table({"instruction": ["c"], "when": [None]}).cast(
                         pa.schema([("instruction", pa.string()), ("when", pa.timestamp("us"))]))]
    hub["rows"] = 3
    with DatasetReader("hf://datasets/o/n?name=cfg") as reader:
        assert (reader.layout, reader.unit, reader.size) == ("hub", "row", 3)
        items = list(reader)
        assert reader.position == 3
    assert hub["calls"] == [("o/n", "cfg", "train", True)]
    assert [(item.index, item.line, item.value) for item in items] == [
        (0, 1, {"instruction": "a", "when": "2024-05-06T07:08:00"}),
        (1, 2, {"instruction": "b", "when": None}),
        (2, 3, {"instruction": "c", "when": None}),
    ]
    assert input_unit("hf://datasets/o/n") == "row"


def test_a_stream_that_breaks_ends_in_one_unreadable_item(hub, cli, tmp_path):
    hub["tables"] = [pa.table({"instruction": ["a", "b"], "output": ["1", "2"]})]
    hub["error"] = ConnectionError("Connection reset by peer")
    items = list(DatasetReader("hf://datasets/o/n"))
    assert [item.value for item in items[:2]] == [{"instruction": "a", "output": "1"}, {"instruction": "b", "output": "2"}]
    assert (items[2].index, items[2].line, items[2].code) == (2, 3, "unreadable")
    assert items[2].error.startswith("the dataset cannot be read from row 3 on (Connection reset by peer)")
    result = cli("convert", "hf://datasets/o/n", "-o", str(tmp_path / "out.jsonl"))
    assert result.exit_code == 1
    assert "read 3 = written 2 + quarantined 1" in result.stderr
    assert "hf://datasets/o/n: row 3:" in result.stderr


@pytest.mark.parametrize(("error", "code", "message"), [
    (ConnectionError("Couldn't reach 'o/n' on the Hub (ConnectError)"), 2,
     "the Hugging Face Hub cannot be reached (Couldn't reach 'o/n' on the Hub (ConnectError)). Download"),
    (FileNotFoundError("Dataset 'o/n' doesn't exist on the Hub or cannot be accessed."), 2,
     "not found: Dataset 'o/n' doesn't exist on the Hub or cannot be accessed. Check the name"),
    (RuntimeError("the builder\nbroke"), 1, "cannot be loaded by datasets: the builder"),
])
def test_load_failures_are_one_named_line(hub, cli, error, code, message):
    hub["load_error"] = error
    result = cli("validate", "hf://datasets/o/n")
    assert result.exit_code == code
    assert result.stderr.startswith(f"Error: hf://datasets/o/n: {message}")
    assert result.stderr.count("\n") == 1


def test_outputs_inside_a_local_folder_and_workers_are_refused(hub, cli, folder, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = cli("convert", "hf://datasets/./data", "-o", str(folder / "train.jsonl"))
    assert result.exit_code == 2
    assert "is inside the input folder: promptfmt never overwrites its input" in result.stderr
    assert can_split("hf://datasets/o/n") == "a Hugging Face Hub dataset is streamed, it cannot be cut into parts"
    hub["tables"] = [pa.table({"instruction": ["a"], "output": ["1"]})]
    parallel = cli("convert", "hf://datasets/o/n", "-o", str(tmp_path / "out.jsonl"), "--workers", "2")
    assert parallel.exit_code == 0, parallel
    assert "--workers 2 ignored, converting in one process: a Hugging Face Hub dataset is streamed" in parallel.stderr


def test_every_reading_command_takes_a_hub_name(hub, cli, tmp_path):
    hub["tables"] = [pa.table({"instruction": ["Translate.", "Add."], "input": ["Hallo", ""], "output": ["Hello", "2"]})]
    rendered = cli("render", "hf://datasets/o/n", "--format", "chatml", "--index", "0")
    assert rendered.exit_code == 0, rendered
    assert rendered.stdout.startswith("<|im_start|>user\nTranslate.\nHallo<|im_end|>\n")
    split = cli("split", "hf://datasets/o/n", "--out-dir", str(tmp_path))
    assert split.exit_code == 0, split
    parts = [tmp_path / f"{part}.jsonl" for part in ("train", "test", "val")]
    assert sum(len(part.read_text().splitlines()) for part in parts if part.exists()) == 2
    hub["tables"] = [pa.table({"text": ["<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHo<|im_end|>\n"]})]
    detected = cli("detect", "hf://datasets/o/n")
    assert detected.exit_code == 0, detected
    assert detected.stdout.strip() == "chatml"
    assert len(hub["calls"]) == 3


def test_the_help_names_the_extras_with_their_brackets(cli):
    result = cli("convert", "--help")
    assert "'promptfmt[hf]'" in result.stdout and "'promptfmt[parquet]'" in result.stdout
    assert "hf://datasets/OWNER/NAME" in result.stdout
