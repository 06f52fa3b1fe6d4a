"""A conversion killed mid-run leaves no partial OUT and no temporary file (a real process, real signals)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

PROMPTFMT = Path(sys.executable).with_name("promptfmt")
LINE = b'{"instruction": "Summarise the text below in one sentence.", "input": "A long text.", "output": "A summary."}\n'


@pytest.fixture(scope="module")
def big_input(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("big") / "in.jsonl"
    path.write_bytes(LINE * 400_000)  # a few seconds of work: long enough to be interrupted
    return path


def _temporaries(folder: Path) -> list[Path]:
    return [p for p in folder.iterdir() if p.name.startswith(".") and p.name.endswith(".tmp")]


def _writing(process: subprocess.Popen[bytes], folder: Path) -> bool:
    """Whether the process has a file open in ``folder`` (an unnamed temporary file has no name to see)."""
    try:
        fds = list(Path(f"/proc/{process.pid}/fd").iterdir())
    except OSError:
        return False
    for fd in fds:
        try:
            if os.readlink(fd).startswith(str(folder)):
                return True
        except OSError:
            continue
    return False


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
@pytest.mark.parametrize("workers", [1, 2])
def test_a_killed_conversion_leaves_nothing_behind(tmp_path, big_input, signum, workers):
    out = tmp_path / "out.jsonl"
    quarantine = tmp_path / "q.jsonl"
    process = subprocess.Popen(
        [str(PROMPTFMT), "convert", str(big_input), "-o", str(out), "--to", "phi3", "--quarantine", str(quarantine),
         "--workers", str(workers)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 20
    while not _writing(process, tmp_path) and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.02)
    assert process.poll() is None, "the conversion ended before it could be interrupted"
    time.sleep(0.2)  # well into writing
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 130, stderr
    assert b"Traceback" not in stderr
    assert not out.exists() and not quarantine.exists()
    assert _temporaries(tmp_path) == []
