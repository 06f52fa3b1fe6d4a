"""Hostile input, full disks, closed pipes: located messages with the right exit code, bounded
memory, nothing left behind (a real process each, through the installed console script)."""

from __future__ import annotations

import io
import json
import os
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from promptfmt.io import AtomicWriter, read_items
from promptfmt.io import jsonl as jsonl_reader
from promptfmt.io.items import TOO_LONG
from promptfmt.io.limits import limits

PROMPTFMT = Path(sys.executable).with_name("promptfmt")
RECORD = {"instruction": "Name a colour.", "input": "", "output": "Blue."}
linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux devices and /proc")


def run(*args: str, cwd: Path, stdin: object = None, seconds: float = 30) -> tuple[int, str, str, int]:
    """Exit code, stdout, stderr and peak RSS (MB, pytest's pages included) of one run, killed past ``seconds``."""
    process = subprocess.Popen([str(PROMPTFMT), *args], cwd=cwd, stdin=stdin or subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    read: dict[str, bytes] = {}
    drains = [threading.Thread(target=lambda n=name, s=stream: read.__setitem__(n, s.read()))
              for name, stream in (("out", process.stdout), ("err", process.stderr))]
    for drain in drains:
        drain.start()
    timer = threading.Timer(seconds, process.kill)
    timer.start()
    _, status, usage = os.wait4(process.pid, 0)
    timer.cancel()
    process.returncode = os.waitstatus_to_exitcode(status)
    for drain in drains:
        drain.join()
    out, err = (read[name].decode("utf-8", "replace") for name in ("out", "err"))
    return process.returncode, out, err, usage.ru_maxrss // 1024


def sane(stderr: str) -> None:
    assert "Traceback" not in stderr and "internal error" not in stderr, stderr


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".") or p.name.endswith(".tmp"))


def jsonl(path: Path, records: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


# -- bounds -----------------------------------------------------------------------------------


def test_a_line_over_the_record_bound_is_one_located_issue_and_the_reading_goes_on(tmp_path):
    long = json.dumps({**RECORD, "instruction": "x" * (3 << 20)})
    (tmp_path / "in.jsonl").write_text(f"{json.dumps(RECORD)}\n{long}\n{json.dumps(RECORD)}\n")
    code, _, err, _ = run("--max-record-mb", "1", "convert", "in.jsonl", "--to", "alpaca", "-o", "out.jsonl",
                          "--quarantine", "q.jsonl", cwd=tmp_path)
    assert code == 1
    sane(err)
    assert "read 3 = written 2 + quarantined 1" in err and "too-large 1" in err
    [entry] = [json.loads(line) for line in (tmp_path / "q.jsonl").read_text().splitlines()]
    assert entry["line"] == 2 and entry["issues"][0]["code"] == "too-large"
    assert "3,145," in entry["issues"][0]["message"] and "--max-record-mb" in entry["issues"][0]["message"]
    assert leftovers(tmp_path) == []


def test_a_line_with_no_end_is_read_through_in_bounded_memory(tmp_path):
    (tmp_path / "zero.jsonl").write_bytes(b"\0" * (40 << 20))
    started = time.monotonic()
    # peak memory is the corpus's to measure (tests/hostile: a forked child of pytest counts pytest's pages)
    code, out, err, _ = run("--max-record-mb", "1", "validate", "zero.jsonl", "--workers", "1", cwd=tmp_path)
    assert code == 1, err
    sane(err)
    assert time.monotonic() - started < 30
    assert "too-large" in out


@linux_only
def test_an_endless_stream_stops_after_sixteen_times_the_bound(tmp_path):
    with open("/dev/zero", "rb") as zero:
        code, out, err, _ = run("--max-record-mb", "1", "validate", "-", cwd=tmp_path, stdin=zero, seconds=60)
    assert code == 1
    sane(err)
    assert "too-large" in out and "not JSON Lines" in out


# -- reading honestly -------------------------------------------------------------------------


@pytest.mark.parametrize("line, key", [
    ('{"instruction": "a", "instruction": "b", "output": "c"}', "instruction"),
    ('{"instruction": "a", "output": "c", "meta": {"x": 1, "x": 2}}', "x"),
    ('{"messages": [{"role": "user", "content": "a", "content": "b"}]}', "content"),
], ids=["field", "nested-metadata", "message"])
def test_a_duplicate_key_is_an_error_naming_the_key(tmp_path, line, key):
    (tmp_path / "in.jsonl").write_text(f"{json.dumps(RECORD)}\n{line}\n")
    code, out, err, _ = run("validate", "in.jsonl", cwd=tmp_path)
    assert code == 1
    sane(err)
    assert f"in.jsonl:2: record 1: {key}: duplicate-key" in out
    code, _, err, _ = run("convert", "in.jsonl", "-o", "out.jsonl", "--to", "alpaca", cwd=tmp_path)
    assert code == 1 and "read 2 = written 1 + quarantined 1" in err


def test_a_duplicate_key_in_a_json_array_is_found_too(tmp_path):
    (tmp_path / "in.json").write_text('[{"instruction": "a", "output": "b", "output": "c"}, ' + json.dumps(RECORD) + "]")
    code, out, _, _ = run("validate", "in.json", cwd=tmp_path)
    assert code == 1 and "record 0: output: duplicate-key" in out


@pytest.mark.parametrize("data, named", [
    ((json.dumps(RECORD) + "\n").encode("utf-32"), "UTF-32"),
    ((json.dumps(RECORD) + "\n").encode("utf-32-le"), "UTF-32"),
    ((json.dumps(RECORD) + "\n").encode("utf-16-le"), "UTF-16"),
    ((json.dumps(RECORD) + "\n").encode("utf-16"), "UTF-16"),
], ids=["utf32-bom", "utf32-no-bom", "utf16-no-bom", "utf16-bom"])
def test_wide_encodings_are_named(tmp_path, data, named):
    (tmp_path / "in.jsonl").write_bytes(data)
    code, out, err, _ = run("validate", "in.jsonl", cwd=tmp_path)
    assert code == 1
    assert f"the file is {named} text, not UTF-8" in out


def test_cr_only_line_ends_are_named(tmp_path):
    (tmp_path / "in.jsonl").write_bytes(b"".join(json.dumps(RECORD).encode() + b"\r" for _ in range(5)))
    code, out, _, _ = run("validate", "in.jsonl", cwd=tmp_path)
    assert code == 1 and "CR alone" in out


def test_long_integers_are_kept_exactly_and_very_long_ones_named(tmp_path):
    digits = "9" * 3000
    (tmp_path / "in.jsonl").write_text(
        f'{{"instruction": "a", "output": "b", "n": {digits}, "m": 123456789012345678901234567890}}\n'
        f'{{"instruction": "a", "output": "b", "n": {"9" * 5000}}}\n')
    code, _, err, _ = run("convert", "in.jsonl", "-o", "out.jsonl", "--layout", "alpaca", cwd=tmp_path)
    assert code == 1 and "read 2 = written 1 + quarantined 1" in err
    written = (tmp_path / "out.jsonl").read_text()
    assert f'"n":{digits}' in written and '"m":123456789012345678901234567890' in written
    _, out, _, _ = run("validate", "in.jsonl", cwd=tmp_path)
    assert "an integer of more than 4,000 digits" in out


def test_a_lone_surrogate_is_a_warning_as_documented(tmp_path):
    (tmp_path / "in.jsonl").write_text('{"instruction": "a\\ud800", "output": "b"}\n')
    code, out, _, _ = run("validate", "in.jsonl", cwd=tmp_path)
    assert code == 0 and "control-character" in out and "lone surrogate" in out


@linux_only
def test_a_fifo_is_read_like_stdin(tmp_path):
    fifo = tmp_path / "in.jsonl"
    os.mkfifo(fifo)
    data = "".join(json.dumps({**RECORD, "output": f"answer {k}"}) + "\n" for k in range(1000))
    writer = threading.Thread(target=lambda: fifo.write_text(data))
    writer.start()
    code, _, err, _ = run("convert", "in.jsonl", "-o", "out.jsonl", "--to", "alpaca", cwd=tmp_path)
    writer.join(timeout=10)
    assert code == 0, err
    assert len((tmp_path / "out.jsonl").read_text().splitlines()) == 1000


@linux_only
def test_an_input_that_fails_to_read_is_named(tmp_path):
    code, _, err, _ = run("validate", "/proc/self/mem", cwd=tmp_path)
    assert code == 1 and "/proc/self/mem: cannot be read: input/output error" in err


# -- outputs ----------------------------------------------------------------------------------


def test_head_closing_the_pipe_ends_quietly_with_exit_0(tmp_path):
    jsonl(tmp_path / "in.jsonl", [RECORD] * 50_000)
    process = subprocess.Popen([str(PROMPTFMT), "convert", "in.jsonl", "--to", "alpaca", "-o", "-", "-q"],
                               cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout is not None
    process.stdout.read(100)
    process.stdout.close()
    err = process.stderr.read() if process.stderr is not None else b""
    assert process.wait(timeout=30) == 0, err
    assert err == b""


@linux_only
def test_stdout_on_a_full_device_is_named(tmp_path):
    jsonl(tmp_path / "in.jsonl", [RECORD] * 10)
    with open("/dev/full", "wb") as full:
        done = subprocess.run([str(PROMPTFMT), "convert", "in.jsonl", "--to", "alpaca", "-o", "-"], cwd=tmp_path,
                              stdout=full, stderr=subprocess.PIPE, timeout=30)
    assert done.returncode == 1
    assert b"Error: stdout: no space left on device" in done.stderr and b"Traceback" not in done.stderr


@linux_only
@pytest.mark.parametrize("command", [["convert", "in.jsonl", "--to", "alpaca", "-o", "-"], ["formats"]],
                         ids=["convert", "formats"])
def test_a_closed_stdout_is_named(tmp_path, command):
    jsonl(tmp_path / "in.jsonl", [RECORD] * 10)
    line = " ".join([str(PROMPTFMT), *command]) + " >&-"
    done = subprocess.run(["sh", "-c", line], cwd=tmp_path, capture_output=True, timeout=30)
    assert done.returncode == 1
    assert b"standard output is closed" in done.stderr and b"Traceback" not in done.stderr
    assert b"Exception ignored" not in done.stderr


def test_a_closed_stdin_is_a_usage_error(tmp_path):
    done = subprocess.run(["sh", "-c", f"{PROMPTFMT} validate - <&-"], cwd=tmp_path, capture_output=True, timeout=30)
    assert done.returncode == 2 and b"standard input is closed" in done.stderr


@linux_only
def test_a_device_output_is_written_to_and_never_replaced(tmp_path):
    jsonl(tmp_path / "in.jsonl", [RECORD] * 10)
    code, _, err, _ = run("convert", "in.jsonl", "--to", "alpaca", "-o", "/dev/full", cwd=tmp_path)
    assert code == 1 and "/dev/full: no space left on device" in err
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode)
    code, _, err, _ = run("convert", "in.jsonl", "--to", "alpaca", "-o", "/dev/null", cwd=tmp_path)
    assert code == 0, err
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_an_existing_output_keeps_its_mode_and_a_link_is_followed(tmp_path):
    jsonl(tmp_path / "in.jsonl", [RECORD] * 10)
    target = tmp_path / "real.jsonl"
    target.write_text("old\n")
    target.chmod(0o640)
    (tmp_path / "link.jsonl").symlink_to("real.jsonl")
    code, _, err, _ = run("convert", "in.jsonl", "--to", "alpaca", "-o", "link.jsonl", cwd=tmp_path)
    assert code == 0, err
    assert (tmp_path / "link.jsonl").is_symlink()
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert len(target.read_text().splitlines()) == 10
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("make", ["same", "symlink", "hardlink"])
def test_an_output_that_is_the_input_is_refused(tmp_path, make):
    source = jsonl(tmp_path / "in.jsonl", [RECORD] * 3)
    out = tmp_path / "out.jsonl"
    if make == "same":
        out = source
    elif make == "symlink":
        out.symlink_to(source)
    else:
        os.link(source, out)
    code, _, err, _ = run("convert", "in.jsonl", "--to", "alpaca", "-o", out.name, cwd=tmp_path)
    assert code == 2 and "is the input file" in err
    assert len(source.read_text().splitlines()) == 3


@pytest.mark.parametrize("output, message", [("folder", "is a folder"), ("missing/out.jsonl", "does not exist"),
                                             ("loop", "cannot be written")])
def test_an_unusable_output_path_is_a_usage_error(tmp_path, output, message):
    jsonl(tmp_path / "in.jsonl", [RECORD])
    (tmp_path / "folder").mkdir()
    (tmp_path / "loop").symlink_to("loop")
    code, _, err, _ = run("convert", "in.jsonl", "--to", "alpaca", "-o", output, cwd=tmp_path)
    assert code == 2 and message in err, err
    sane(err)


@linux_only
def test_the_output_has_no_name_until_it_is_complete(tmp_path):
    target = tmp_path / "out.jsonl"
    with AtomicWriter(target) as writer:
        writer.write(b"partial\n")
        assert leftovers(tmp_path) == [] and not target.exists()  # an unnamed file: nothing to leave
    assert target.read_text() == "partial\n" and leftovers(tmp_path) == []


@linux_only
def test_a_full_device_fails_an_atomic_writer_without_leaving_anything(tmp_path):
    with pytest.raises(Exception) as failure, AtomicWriter("/dev/full") as writer:
        writer.write(b"x" * (1 << 20))
        writer.file.flush()
    assert "no space left on device" in str(failure.value)


def test_read_items_survive_a_deep_value_between_records(tmp_path):
    deep = "[" * 100_000 + "]" * 100_000
    path = tmp_path / "in.jsonl"
    path.write_text(f"{json.dumps(RECORD)}\n{deep}\n{json.dumps(RECORD)}\n")
    items = list(read_items(path))
    assert [item.error is None for item in items] == [True, False, True]
    assert "nested too deeply, more than 512 levels" in (items[1].error or "")


@given(lengths=st.lists(st.one_of(st.integers(0, 3000), st.integers(1020, 1028)), max_size=12), size=st.integers(1, 4000), first=st.integers(0, 2),
       final_newline=st.booleans())
@settings(max_examples=300, deadline=None)
def test_blocks_keep_every_line_and_stand_in_for_each_line_over_the_bound(lengths, size, first, final_newline):
    lines = [bytes([97 + k % 26]) * n for k, n in enumerate(lengths)]
    data = b"\n".join(lines) + (b"\n" if final_newline and lines else b"")
    head = data.split(b"\n", first)  # what detection hands over: a few whole lines, or a piece of one
    given_first = b"\n".join(head[:-1]) + (b"\n" if len(head) > 1 else b"")
    old = limits.max_record_bytes
    limits.max_record_bytes = 1024
    try:
        blocks = list(jsonl_reader.read_blocks(given_first, io.BytesIO(data[len(given_first):]), 1, size))
    finally:
        limits.max_record_bytes = old
    got = [(block.first_line + k, text) for block in blocks for k, text in enumerate(block.lines())]
    expected = [(k + 1, line if len(line) <= 1024 else None) for k, line in enumerate(lines)]
    if lines and not final_newline and lines[-1] == b"":
        expected.pop()  # no last line at all
    assert [(n, text if not text.startswith(TOO_LONG) else None) for n, text in got] == expected
    for _, text in got:
        if text.startswith(TOO_LONG):
            assert int(text[len(TOO_LONG):]) >= 1024


def test_the_nesting_bound_has_an_option(tmp_path):
    nested = "[" * 600 + "]" * 600
    (tmp_path / "in.jsonl").write_text(f'{{"instruction": "a", "output": "b", "m": {nested}}}\n{json.dumps(RECORD)}\n')
    code, out, _, _ = run("validate", "in.jsonl", cwd=tmp_path)
    assert code == 1 and "nested too deeply, more than 512 levels" in out
    code, out, _, _ = run("--max-depth", "700", "validate", "in.jsonl", cwd=tmp_path)
    assert code == 0, out
    code, _, err, _ = run("--max-depth", "5000", "validate", "in.jsonl", cwd=tmp_path)
    assert code == 2 and "--max-depth" in err


@linux_only
@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_write_that_fails_midway_is_named_and_leaves_nothing(tmp_path, workers):
    import resource
    import signal

    jsonl(tmp_path / "in.jsonl", [{**RECORD, "output": f"answer {k} " * 20} for k in range(40_000)])

    def small_files() -> None:  # writes past 1 MB fail with EFBIG, as a full disk fails them with ENOSPC
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))

    done = subprocess.run([str(PROMPTFMT), "convert", "in.jsonl", "--to", "alpaca", "-o", "out.jsonl",
                           "--workers", workers], cwd=tmp_path, capture_output=True, timeout=60, preexec_fn=small_files)
    assert done.returncode == 1, done.stderr
    assert b"file too large" in done.stderr.lower() and b"Traceback" not in done.stderr
    assert not (tmp_path / "out.jsonl").exists()
    assert leftovers(tmp_path) == []


def test_a_closed_stderr_pipe_drops_messages_but_not_the_output(tmp_path):
    lines = [json.dumps({**RECORD, "output": f"answer {k}"}) if k % 2 else f"garbage {k}" for k in range(2000)]
    (tmp_path / "in.jsonl").write_text("\n".join(lines) + "\n")
    done = subprocess.run(f"{PROMPTFMT} convert in.jsonl --to alpaca -o out.jsonl 2>&1 | head -c 10 > /dev/null; "
                          "exit ${PIPESTATUS[0]}", shell=True, executable="/bin/bash", cwd=tmp_path, timeout=60)
    assert done.returncode == 1  # records were quarantined: the run's own exit code
    assert len((tmp_path / "out.jsonl").read_text().splitlines()) == 1000


@linux_only
def test_dev_stdout_is_written_through_never_reopened(tmp_path):
    jsonl(tmp_path / "in.jsonl", [RECORD])
    (tmp_path / "log.txt").write_text("kept\n")
    done = subprocess.run(f"{PROMPTFMT} convert in.jsonl --to alpaca -o /dev/stdout >> log.txt", shell=True,
                          cwd=tmp_path, capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "log.txt").read_text().startswith("kept\n{")


@pytest.mark.parametrize("line, message", [
    (b"\xffpromptfmt:too-long:abc", "not UTF-8"),
    (b'{"instruction": "a", "output": "b", "score": 1e400}', "too large to keep exactly"),
], ids=["forged-marker", "infinite-number"])
def test_lines_that_look_like_something_else_are_errors_on_their_line(tmp_path, line, message):
    (tmp_path / "in.jsonl").write_bytes(json.dumps(RECORD).encode() + b"\n" + line + b"\n")
    code, out, err, _ = run("validate", "in.jsonl", cwd=tmp_path)
    sane(err)
    assert code == 1 and "in.jsonl:2: record 1" in out and message in out


@pytest.mark.parametrize("text", ['[1,\n{"instruction": "i", "output": "o", "output": "p"}]\n',
                                  '{\n "instruction": "i",\n "output": "o",\n "output": "p"\n}\n'],
                         ids=["array-window", "document"])
def test_duplicate_keys_are_found_by_the_window_reader_too(tmp_path, text):
    (tmp_path / "in.json").write_text(text)
    code, out, _, _ = run("validate", "in.json", cwd=tmp_path)
    assert code == 1 and "output: duplicate-key" in out
