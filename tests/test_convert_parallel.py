"""``convert --workers N``: the same bytes as one process, in order, with whole-file locations."""

from __future__ import annotations

import gzip
import json

import pytest

from promptfmt.parallel import can_split, ranges


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
    array = tmp_path / "in.json"
    array.write_text(json.dumps([{"instruction": "a", "output": "b"}]), encoding="utf-8")
    packed = tmp_path / "in.jsonl.gz"
    packed.write_bytes(gzip.compress(b'{"instruction": "a", "output": "b"}\n'))
    for path, reason in ((array, "array"), (packed, "gzip")):
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


def test_auto_uses_one_process_per_cpu_for_big_json_lines_files_only(tmp_path):
    import os

    from promptfmt.parallel import auto_workers

    lines = tmp_path / "in.jsonl"
    lines.write_text(dataset(50), encoding="utf-8")
    array = tmp_path / "in.json"
    array.write_text("[]", encoding="utf-8")
    cpus = len(os.sched_getaffinity(0))
    assert auto_workers(str(lines), min_bytes=1, most=4) == (min(cpus, 4) if cpus > 1 else 1)
    assert auto_workers(str(lines), min_bytes=lines.stat().st_size + 1, most=4) == 1
    assert auto_workers(str(array), min_bytes=1, most=4) == 1
    assert auto_workers("-", min_bytes=1, most=4) == 1


def test_workers_must_be_a_number_or_auto(cli, tmp_path):
    infile = tmp_path / "in.jsonl"
    infile.write_text(dataset(3), encoding="utf-8")
    result = cli("convert", str(infile), "-o", "-", "--to", "phi3", "--workers", "0")
    assert result.exit_code == 2 and "from 1 to 64, or auto" in result.stderr
