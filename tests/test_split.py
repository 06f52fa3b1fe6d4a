"""``promptfmt split``: the course split by default, reproducible shuffles, usage errors."""

from __future__ import annotations

import json

import pytest

from promptfmt.io import Item
from promptfmt.splitting import Fractions, SplitUsageError, split

COURSE = "rasbt_llms_from_scratch_ch07/instruction-data.json"


def read_jsonl(path):
    return [json.loads(line) for line in path.read_text("utf-8").splitlines()]


def test_the_course_split_of_the_course_data(cli, tmp_path, shared_data):
    """LLMs-from-scratch ch. 7: train = first int(0.85 N), test = next int(0.10 N), val = the rest."""
    data = json.loads((shared_data / COURSE).read_text("utf-8"))
    result = cli("split", str(shared_data / COURSE), "--out-dir", str(tmp_path / "parts"))
    assert result.exit_code == 0, result
    train, test, val = (read_jsonl(tmp_path / "parts" / f"{name}.jsonl") for name in ("train", "test", "val"))
    assert (len(train), len(test), len(val)) == (935, 110, 55)
    assert train == data[:935] and test == data[935:1045] and val == data[1045:]
    assert "1,100 item(s), in file order" in result.stderr
    for name, count in (("train", 935), ("test", 110), ("val", 55)):
        assert f"{name:<5} {count:>9,}" in result.stderr


def test_shuffling_is_reproducible_and_loses_nothing(cli, tmp_path, shared_data):
    data = json.loads((shared_data / COURSE).read_text("utf-8"))
    runs = []
    for folder, seed in (("a", "7"), ("b", "7"), ("c", "8")):
        result = cli("split", str(shared_data / COURSE), "--out-dir", str(tmp_path / folder), "--shuffle", "--seed", seed)
        assert result.exit_code == 0 and f"shuffled with seed {seed}" in result.stderr
        runs.append([read_jsonl(tmp_path / folder / f"{name}.jsonl") for name in ("train", "test", "val")])
    assert runs[0] == runs[1] != runs[2]
    train, test, val = runs[0]
    assert (len(train), len(test), len(val)) == (935, 110, 55)
    assert train != data[:935]
    key = lambda item: json.dumps(item, sort_keys=True)  # noqa: E731
    assert sorted(map(key, train + test + val)) == sorted(map(key, data))


def test_custom_fractions_and_json_arrays(cli, tmp_path):
    infile = tmp_path / "in.jsonl"
    infile.write_text("".join(json.dumps({"i": i}) + "\n" for i in range(10)), encoding="utf-8")
    result = cli("split", str(infile), "--out-dir", str(tmp_path), "--train", "0.5", "--test", "0.3", "--val", "0.2",
                 "--json-array", "--json")
    assert result.exit_code == 0, result
    assert [item["i"] for item in json.loads((tmp_path / "train.json").read_text())] == [0, 1, 2, 3, 4]
    assert [item["i"] for item in json.loads((tmp_path / "test.json").read_text())] == [5, 6, 7]
    assert [item["i"] for item in json.loads((tmp_path / "val.json").read_text())] == [8, 9]
    summary = json.loads(result.stdout)
    assert (summary["read"], summary["train"], summary["test"], summary["val"], summary["refused"]) == (10, 5, 3, 2, 0)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--train", "0.8"], "must sum to 1"),
        (["--train", "0.9", "--test", "0.1", "--val", "0.1"], "= 1.1"),
        (["--train", "1.5", "--test", "-0.5", "--val", "0"], "between 0 and 1"),
        (["--seed", "3"], "--seed only applies with --shuffle"),
    ],
)
def test_bad_fractions_are_usage_errors(cli, tmp_path, args, message):
    infile = tmp_path / "in.jsonl"
    infile.write_text('{"a": 1}\n', encoding="utf-8")
    result = cli("split", str(infile), "--out-dir", str(tmp_path / "out"), *args)
    assert result.exit_code == 2, result
    assert message in result.stderr
    assert not (tmp_path / "out" / "train.jsonl").exists()


def test_fractions_within_the_tolerance_are_accepted():
    assert Fractions(0.7, 0.2, 0.1).counts(10) == (7, 2, 1)
    with pytest.raises(SplitUsageError):
        Fractions(0.7, 0.2, 0.1 + 1e-6)


def test_invalid_json_is_refused_and_counted_everything_else_is_placed(cli, tmp_path):
    infile = tmp_path / "in.jsonl"
    infile.write_text('{"a": 1}\n{oops\n{"a": 2}\n', encoding="utf-8")
    quarantine = tmp_path / "q.jsonl"
    result = cli("split", str(infile), "--out-dir", str(tmp_path / "out"), "--quarantine", str(quarantine))
    assert result.exit_code == 1
    assert "refused 1 item(s)" in result.stderr
    (entry,) = read_jsonl(quarantine)
    assert (entry["record"], entry["line"], entry["text"]) == (1, 2, "{oops")
    placed = sum(len(read_jsonl(tmp_path / "out" / f"{name}.jsonl")) for name in ("train", "test", "val"))
    assert placed == 2


def test_an_output_that_is_the_input_is_refused(cli, tmp_path):
    infile = tmp_path / "train.jsonl"
    infile.write_text('{"a": 1}\n', encoding="utf-8")
    result = cli("split", str(infile), "--out-dir", str(tmp_path))
    assert result.exit_code == 2 and "never overwrites its input" in result.stderr
    assert infile.read_text() == '{"a": 1}\n'


def test_the_service_splits_values_of_any_layout():
    items = [Item(i, i + 1, {"conversations": [{"from": "human", "value": str(i)}]}) for i in range(20)]
    result = split(items)
    assert result.counts() == {"train": 17, "test": 2, "val": 1}
    assert json.loads(result.val[0]) == items[19].value
