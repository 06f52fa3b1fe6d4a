"""``convert --workers N``: the same bytes as one process, in order, with whole-file locations."""

from __future__ import annotations

import gzip
import json

import pytest

from promptfmt.io.ranges import can_split, cuts, ranges


def dataset(n: int) -> str:
    lines = []
    for i in range(n):
        if i % 37 == 5:
            lines.append("{broken json")
        elif i % 41 == 7:
            lines.append(json.dumps({"instruction": f"task {i}", "output": ""}))
        elif i % 43 == 9:
            lines.append("")  # a blank line: not an item, but it counts for line numbers
        else:
            lines.append(json.dumps({"instruction": f"task {i}\nsecond line" if i % 11 == 0 else f"task {i}",
                                     "input": "x" * (i % 3), "output": f"answer {i} é", "id": i}))
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("json_array", [False, True], ids=["jsonl", "array"])
@pytest.mark.parametrize("workers", [2, 3])
def test_workers_write_exactly_what_one_process_writes(cli, tmp_path, workers, json_array):
    infile = tmp_path / "in.jsonl"
    infile.write_text(dataset(600), encoding="utf-8")
    runs = {}
    for n in (1, workers):
        out, quarantine = tmp_path / f"out{n}", tmp_path / f"q{n}.jsonl"
        args = ["convert", str(infile), "-o", str(out), "--to", "phi3", "--quarantine", str(quarantine),
                "--workers", str(n), "--json", *(["--json-array"] if json_array else [])]
        result = cli(*args)
        assert result.exit_code == 1, result
        summary = json.loads(result.stdout)
        del summary["output"], summary["quarantine"]
        runs[n] = (out.read_bytes(), quarantine.read_bytes(), summary)
    assert runs[1] == runs[workers]
    output, quarantined, summary = runs[workers]
    assert summary["read"] == summary["written"] + summary["quarantined"] and summary["lossy"]["records"] > 0
    lines = infile.read_text("utf-8").split("\n")
    for entry in map(json.loads, quarantined.decode().splitlines()):
        assert entry["issues"][0]["line"] == entry["line"]
        if "item" in entry:
            assert json.loads(lines[entry["line"] - 1]) == entry["item"]
        else:
            assert lines[entry["line"] - 1] == entry["text"]


def test_workers_to_stdout(cli, tmp_path):
    infile = tmp_path / "in.jsonl"
    infile.write_text(dataset(200), encoding="utf-8")
    one = cli("convert", str(infile), "-o", "-", "--layout", "sharegpt")
    two = cli("convert", str(infile), "-o", "-", "--layout", "sharegpt", "--workers", "2")
    assert one.stdout == two.stdout and one.stdout
    assert [p.name for p in tmp_path.iterdir()] == ["in.jsonl"]


def test_files_that_cannot_be_cut_are_converted_in_one_process(cli, tmp_path):
    document = tmp_path / "in.json"
    document.write_text(json.dumps({"instruction": "a", "output": "b"}, indent=2), encoding="utf-8")
    packed = tmp_path / "in.jsonl.gz"
    packed.write_bytes(gzip.compress(b'{"instruction": "a", "output": "b"}\n'))
    for path, reason in ((document, "documents"), (packed, "gzip")):
        result = cli("convert", str(path), "-o", "-", "--to", "phi3-llmfs", "--workers", "2")
        assert result.exit_code == 0, result
        assert result.stdout == '{"text":"<|user|>\\na\\n<|assistant|>:\\nb"}\n'
        assert "--workers 2 ignored" in result.stderr and reason in result.stderr
    assert can_split("-") is not None


def test_ranges_start_at_line_starts_and_cover_the_file(tmp_path):
    path = tmp_path / "in.jsonl"
    data = dataset(300).encode()
    path.write_bytes(data)
    for parts in (1, 2, 3, 7, 1000):
        cuts = ranges(str(path), parts)
        assert cuts[0][0] == 0 and cuts[-1][1] == len(data)
        assert all(stop == start for (_, stop), (start, _) in zip(cuts, cuts[1:]))
        assert all(data[start - 1 : start] == b"\n" for start, _ in cuts[1:])
        assert len(cuts) <= parts


def test_auto_uses_one_process_per_cpu_for_big_files_that_can_be_cut(tmp_path):
    import os

    from promptfmt.io.ranges import auto_workers

    lines = tmp_path / "in.jsonl"
    lines.write_text(dataset(50), encoding="utf-8")
    array = tmp_path / "in.json"
    array.write_text("[]", encoding="utf-8")
    cpus = len(os.sched_getaffinity(0))
    assert auto_workers(str(lines), min_bytes=1, most=4) == (min(cpus, 4) if cpus > 1 else 1)
    assert auto_workers(str(lines), min_bytes=lines.stat().st_size + 1, most=4) == 1
    assert auto_workers(str(array), min_bytes=1, most=4) == 1  # validate cuts JSON Lines only
    assert auto_workers(str(array), min_bytes=1, most=4, arrays=True) == (min(cpus, 4) if cpus > 1 else 1)
    assert auto_workers("-", min_bytes=1, most=4) == 1


def test_workers_must_be_a_number_or_auto(cli, tmp_path):
    infile = tmp_path / "in.jsonl"
    infile.write_text(dataset(3), encoding="utf-8")
    result = cli("convert", str(infile), "-o", "-", "--to", "phi3", "--workers", "0")
    assert result.exit_code == 2 and "from 1 to 64, or auto" in result.stderr


# -- JSON arrays ---------------------------------------------------------------------------------


def records(n: int, tricky: bool = False) -> list:
    """Records; ``tricky`` ones hold "}, {" inside strings and nested lists of objects, where a cut
    may land without being between two records."""
    rows = []
    for i in range(n):
        row = {"instruction": f"task {i}", "input": "x" * (i % 3), "output": f"answer {i} é", "id": i}
        if i % 41 == 7:
            row["output"] = ""  # an error: quarantined
        if tricky:
            row["output"] = "a}, {b " * 30
            row["nested"] = [{"k": j} for j in range(20)]
        rows.append(row)
    return rows


def array_text(rows: list, layout: str) -> str:
    if layout == "per-line":
        return "[\n" + ",\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n]\n"
    return json.dumps(rows, ensure_ascii=False, indent=4 if layout == "indent" else None)


def convert_both_ways(cli, tmp_path, text: str, workers: int, *extra: str) -> dict:
    infile = tmp_path / "in.json"
    infile.write_text(text, encoding="utf-8")
    runs = {}
    for n in (1, workers):
        out, quarantine = tmp_path / f"out{n}", tmp_path / f"q{n}.jsonl"
        result = cli("convert", str(infile), "-o", str(out), "--to", "phi3", "--quarantine", str(quarantine),
                     "--workers", str(n), "--json", *extra)
        assert result.exit_code in (0, 1), result
        summary = json.loads(result.stdout)
        del summary["output"], summary["quarantine"]
        runs[n] = (out.read_bytes(), quarantine.read_bytes() if quarantine.exists() else b"", summary)
    assert runs[1] == runs[workers]
    return runs[workers][2]


@pytest.mark.parametrize("layout", ["per-line", "indent", "compact"])
@pytest.mark.parametrize("workers", [2, 3])
def test_workers_on_a_json_array_write_exactly_what_one_process_writes(cli, tmp_path, layout, workers):
    summary = convert_both_ways(cli, tmp_path, array_text(records(600), layout), workers)
    assert summary["read"] == 600 and summary["quarantined"] == 15


@pytest.mark.parametrize("damage", ["cut inside strings", "broken record", "not closed", "json array out"])
def test_an_array_whose_cut_is_not_between_records_is_converted_in_one_process(cli, tmp_path, damage):
    """A cut inside a string or a nested list, or a genuinely broken file: the parts are thrown
    away and the one-process result is written, byte for byte."""
    rows = records(300, tricky=damage == "cut inside strings")
    text = array_text(rows, "per-line")
    extra = ()
    if damage == "broken record":
        text = text.replace('"task 250"', '"task 250" oops', 1)
    elif damage == "not closed":
        text = text.rstrip().rstrip("]")
    elif damage == "json array out":
        extra = ("--json-array",)
    convert_both_ways(cli, tmp_path, text, 2, *extra)


def test_array_cuts_fall_on_commas_between_records_and_each_part_is_an_array(tmp_path):
    path = tmp_path / "in.json"
    for layout in ("per-line", "indent", "compact"):
        rows = records(200)
        data = array_text(rows, layout).encode()
        path.write_bytes(data)
        kind, parts = cuts(str(path), 3)
        assert kind == "array" and len(parts) == 3
        read = []
        for part in parts:
            read += json.loads(part.prefix + data[part.start:part.stop] + part.suffix)
        assert read == rows
        assert all(data[part.start - 1:part.start] == b"," for part in parts[1:])


def test_an_array_cut_in_a_string_gives_the_one_process_output_on_stdout_too(cli, tmp_path):
    """stdout cannot be emptied: parts of an array go there only once every part read whole."""
    infile = tmp_path / "in.json"
    infile.write_text(array_text(records(300, tricky=True), "per-line"), encoding="utf-8")
    one = cli("convert", str(infile), "-o", "-", "--to", "phi3", "--workers", "1")
    two = cli("convert", str(infile), "-o", "-", "--to", "phi3", "--workers", "2")
    assert one.exit_code == two.exit_code == 0 and one.stdout == two.stdout and one.stdout.count("\n") == 300


def test_convert_cuts_parts_that_shrink_so_that_the_last_ones_are_short():
    from promptfmt.io.ranges import offsets

    size = 10_000_000
    cut = offsets(size, 16, shrinking=True)
    sizes = [b - a for a, b in zip([0, *cut], [*cut, size])]
    assert len(sizes) == 16 and sum(sizes) == size
    assert all(a > b for a, b in zip(sizes, sizes[1:])) and sizes[-1] < size / 100
    assert offsets(size, 4) == [2_500_000, 5_000_000, 7_500_000]  # validate's parts stay even
