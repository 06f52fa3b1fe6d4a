"""The progress line of long runs (issue 4.6): records done, rate, ETA when the size is known; drawn
on a terminal only, and erased before anything else is printed."""

from __future__ import annotations

import io
import json
import os
import pty
import select
import subprocess
import sys
from pathlib import Path

from promptfmt.cli.progress import Progress

PROMPTFMT = Path(sys.executable).with_name("promptfmt")


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_line_says_records_rate_share_and_eta():
    progress = Progress("converting data.jsonl", enabled=False)
    assert progress.line(12_345, 2.0) == "converting data.jsonl: 12,345 records  6,172/s"
    assert progress.line(1_000, 2.0, 250, 1_000) == "converting data.jsonl: 1,000 records  500/s  25%  ETA 0:06"
    assert progress.line(1_000, 4000.0, 100, 1_000).endswith("10%  ETA 10:00:00")
    assert progress.line(0, 0.0, 0, None) == "converting data.jsonl: 0 records  0/s"  # size unknown: no ETA


def test_it_draws_on_a_terminal_only_a_few_times_a_second_and_erases_itself():
    quiet = io.StringIO()
    Progress("x", stream=quiet).update(10)
    assert quiet.getvalue() == ""  # not a terminal: a log or a pipe gets nothing
    terminal = Terminal()
    progress = Progress("x", stream=terminal)
    progress.update(10)
    progress.update(20)  # within the redraw interval: not drawn
    assert terminal.getvalue().count("records") == 1 and terminal.getvalue().startswith("\r\x1b[K")
    progress.close()
    assert terminal.getvalue().endswith("\r\x1b[K")  # erased
    progress.update(30)
    assert terminal.getvalue().count("records") == 1  # closed: never drawn again


def test_convert_shows_it_on_a_terminal_through_the_real_entry_point(tmp_path):
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps({"instruction": f"Say {n}.", "output": f"{n}"}) + "\n" for n in range(5000)))
    main, terminal = pty.openpty()
    env = {**os.environ, "PROMPTFMT_DISABLE_ENTRY_POINTS": "1"}
    process = subprocess.Popen([str(PROMPTFMT), "convert", str(source), "-o", str(tmp_path / "out.jsonl"), "--to", "alpaca"],
                               stdout=subprocess.DEVNULL, stderr=terminal, env=env)
    os.close(terminal)
    shown = b""
    while True:
        ready, _, _ = select.select([main], [], [], 30)
        try:
            chunk = os.read(main, 65536) if ready else b""
        except OSError:  # the terminal closed with the process
            chunk = b""
        if not chunk:
            break
        shown += chunk
    os.close(main)
    assert process.wait(30) == 0
    text = shown.decode("utf-8")
    assert f"converting {source}: 1,024 records " in text and "ETA" in text
    assert text.index("\r\x1b[K", text.index("records")) < text.index("read 5,000 = written 5,000")  # erased first
