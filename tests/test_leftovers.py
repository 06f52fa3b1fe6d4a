"""Runs killed outright leave nothing that the next run does not remove (real processes, real signals).

The part files of a parallel run live in one locked folder (`promptfmt.scratch`): the workers of a
parent killed with SIGKILL remove it, and when they are killed too the next run in the folder does.
"""

from __future__ import annotations

import json
import os
import re
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from promptfmt.pool import WorkerPool
from promptfmt.scratch import ScratchFolder, sweep

from .test_pool import PROMPTFMT, children, gone, linux_only

LINE = b'{"instruction": "Summarise the text below in one sentence.", "input": "A long text.", "output": "A summary."}\n'
BAD = b'{"instruction": "", "input": "A long text.", "output": "A summary."}\n'
RECORDS, INVALID = 450_000, 450  # 49 MB: about two seconds of `convert --workers 2`, long enough to be killed
PART_FOLDER = re.compile(r"\.promptfmt-parts\..*\.tmp\Z")
# The temporary file `AtomicWriter` (io/writers.py) names with mkstemp for OUT or the quarantine: a
# parent killed by SIGKILL cannot remove it. Set to False once it writes unnamed files (O_TMPFILE).
ATOMIC_TEMPORARY = re.compile(r"\.(out|q)\.jsonl\.[a-z0-9_]{8}\.tmp\Z")
ATOMIC_TEMPORARY_MAY_REMAIN = False

MAKE_AND_DIE = """
import os, signal, sys
from promptfmt.scratch import ScratchFolder
folder = ScratchFolder(sys.argv[1])
open(os.path.join(folder.path, "0.out"), "w").write("part")
worker = 0
if len(sys.argv) > 2:
    worker = os.fork()
    if worker == 0:  # a worker that inherits the lock and outlives its parent
        os.close(1)
        signal.pause()
print(folder.path, worker, flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.fixture(scope="module")
def big_input(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("leftovers") / "in.jsonl"
    path.write_bytes((LINE * (RECORDS // INVALID - 1) + BAD) * INVALID)
    return path


def _stale_folder(parent: Path, worker: bool = False) -> tuple[Path, int]:
    """A scratch folder holding a part file, made by a process killed with SIGKILL; the pid of its
    forked worker, still running and holding the lock (0 without ``worker``)."""
    process = subprocess.Popen([sys.executable, "-c", MAKE_AND_DIE, str(parent), *(["worker"] if worker else [])],
                               stdout=subprocess.PIPE, text=True)
    path, pid = process.stdout.readline().split()
    process.wait()
    process.stdout.close()
    assert process.returncode == -signal.SIGKILL and (Path(path) / "0.out").exists()
    return Path(path), int(pid)


# -- the scratch folder ---------------------------------------------------------------------------

@linux_only
def test_a_sweep_removes_exactly_the_folders_whose_owners_are_gone(tmp_path):
    stale, _ = _stale_folder(tmp_path)
    orphaned, worker = _stale_folder(tmp_path, worker=True)  # its worker still holds the lock
    mine = ScratchFolder(str(tmp_path))
    (tmp_path / ".promptfmt-parts.1-emptyone.tmp").mkdir()  # died before locking: nothing can be in it
    (tmp_path / ".promptfmt-parts.1-notempty.tmp").mkdir()
    (tmp_path / ".promptfmt-parts.1-notempty.tmp" / "x").write_text("")
    (tmp_path / ".promptfmt-parts.abcd1234.tmp").mkdir()  # an older promptfmt's: cannot be proven stale
    try:
        assert sorted(sweep(str(tmp_path))) == sorted([str(stale), str(tmp_path / ".promptfmt-parts.1-emptyone.tmp")])
        assert sorted(path.name for path in tmp_path.iterdir()) == sorted(
            [orphaned.name, Path(mine.path).name, ".promptfmt-parts.1-notempty.tmp", ".promptfmt-parts.abcd1234.tmp"])
        assert sweep(str(tmp_path)) == []
        os.kill(worker, signal.SIGKILL)
        assert gone([worker]) == []
        assert sweep(str(tmp_path)) == [str(orphaned)]
    finally:
        os.kill(worker, signal.SIGKILL)
        mine.remove()
    assert not Path(mine.path).exists()


def _remove_if_orphaned(folder: ScratchFolder) -> bool:
    folder.remove_if_orphaned()
    return os.path.isdir(folder.path)


def test_a_worker_removes_the_folder_only_when_its_parent_is_gone(tmp_path):
    folder = ScratchFolder(str(tmp_path))
    try:
        with WorkerPool[bool]() as pool:
            pool.start(_remove_if_orphaned, folder)  # its parent, this process, is alive
            assert list(pool.results()) == [True]
        folder.owner = -1  # what a worker whose parent died sees
        with WorkerPool[bool]() as pool:
            pool.start(_remove_if_orphaned, folder)
            assert list(pool.results()) == [False]
        assert not Path(folder.path).exists()
    finally:
        folder.remove()


# -- the "Done when" of the issue: kill, run again, nothing left ----------------------------------

def _killed_mid_run(args: list[str], folder: Path, ready: Callable[[int], bool], group: bool = False) -> list[int]:
    """Start ``promptfmt ARGS``, SIGKILL it (with its workers when ``group``) once ``ready(pid)``; its workers."""
    process = subprocess.Popen([str(PROMPTFMT), *args], cwd=folder, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=group)
    try:
        deadline = time.monotonic() + 20
        workers: list[int] = []
        while time.monotonic() < deadline and process.poll() is None:
            workers = workers or children(process.pid)
            if workers and ready(process.pid):
                break
            time.sleep(0.005)
        assert workers and process.poll() is None, "the run ended before it could be killed"
        if group:
            os.killpg(process.pid, signal.SIGKILL)
        else:
            process.kill()
    finally:
        process.kill()
        process.wait()
    assert gone(workers) == []
    return workers


def _reading(pid: int, path: Path) -> bool:
    """Whether process ``pid`` (or a worker of it) is reading ``path``: a megabyte of it read, or the
    file mapped. Workers count too: a parallel run's parent may read its own part by position alone."""
    return _reading_itself(pid, path) or any(_reading_itself(child, path) for child in _children(pid))


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as children:
            return [int(word) for word in children.read().split()]
    except OSError:
        return []


def _reading_itself(pid: int, path: Path) -> bool:
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            if os.readlink(f"/proc/{pid}/fd/{fd}") == str(path):
                with open(f"/proc/{pid}/fdinfo/{fd}") as info:
                    if int(info.readline().split()[1]) > 1 << 20:
                        return True
        with open(f"/proc/{pid}/maps") as maps:
            return any(line.rstrip("\n").endswith(f" {path}") for line in maps)
    except OSError:  # ended, or the file was closed meanwhile
        return False
    return False


def _part_folders(folder: Path) -> list[Path]:
    return [path for path in folder.iterdir() if PART_FOLDER.match(path.name)]


def _parts_written(folder: Path) -> bool:
    return any(path.stat().st_size for parts in _part_folders(folder) for path in parts.glob("*.out"))


def _left_over(folder: Path, *expected: str) -> list[str]:
    """What the runs left besides ``expected``: only AtomicWriter's temporary files of a killed parent."""
    names = sorted(path.name for path in folder.iterdir() if path.name not in expected)
    assert [name for name in names if not ATOMIC_TEMPORARY.match(name)] == []
    if not ATOMIC_TEMPORARY_MAY_REMAIN:
        assert names == []
    return names


def _pause(seconds: float) -> bool:
    time.sleep(seconds)
    return True


def _wait_until(condition: Callable[[], bool], seconds: float = 5) -> bool:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.02)
    return condition()


@linux_only
@pytest.mark.parametrize("group", [False, True], ids=["parent-killed", "parent-and-workers-killed"])
def test_a_conversion_killed_outright_and_run_again_leaves_no_part(tmp_path, big_input, group):
    os.link(big_input, tmp_path / "in.jsonl")
    args = ["convert", "in.jsonl", "-o", "out.jsonl", "--to", "phi3", "--workers", "2", "--quarantine", "q.jsonl"]
    _killed_mid_run([*args, "-q"], tmp_path, lambda pid: _parts_written(tmp_path), group)
    if group:  # nobody was left to remove the part folder: the next run does
        assert len(_part_folders(tmp_path)) == 1
    else:  # the workers, ended by the kernel, removed it
        assert _wait_until(lambda: not _part_folders(tmp_path))
    done = subprocess.run([str(PROMPTFMT), *args, "--json"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1, done.stderr  # 1: records were quarantined
    summary = json.loads(done.stdout)
    assert (summary["read"], summary["written"], summary["quarantined"]) == (RECORDS, RECORDS - INVALID, INVALID)
    assert (tmp_path / "out.jsonl").read_bytes().count(b"\n") == RECORDS - INVALID
    assert (tmp_path / "q.jsonl").read_bytes().count(b"\n") == INVALID
    left = _left_over(tmp_path, "in.jsonl", "out.jsonl", "q.jsonl")
    assert all(name.startswith((".out.jsonl.", ".q.jsonl.")) for name in left)


@linux_only
def test_a_parallel_validation_killed_outright_and_run_again_leaves_nothing_new(tmp_path, big_input):
    os.link(big_input, tmp_path / "in.jsonl")
    stale, _ = _stale_folder(tmp_path)  # a conversion killed with its workers: this run removes its parts
    args = ["validate", "in.jsonl", "--workers", "2", "--quarantine", "q.jsonl", "--no-duplicates"]
    _killed_mid_run([*args, "-q"], tmp_path, lambda pid: _reading(pid, tmp_path / "in.jsonl") and _pause(0.3))
    done = subprocess.run([str(PROMPTFMT), *args, "--json"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    assert (report["records"], report["valid"], report["invalid"]) == (RECORDS, RECORDS - INVALID, INVALID)
    assert (tmp_path / "q.jsonl").read_bytes().count(b"\n") == INVALID
    assert not stale.exists()
    left = _left_over(tmp_path, "in.jsonl", "q.jsonl")
    assert all(name.startswith(".q.jsonl.") for name in left)


# -- SIGTERM and a full disk ----------------------------------------------------------------------

@linux_only
@pytest.mark.parametrize("workers", [1, 2])
def test_sigterm_on_a_validation_with_a_quarantine_leaves_nothing(tmp_path, big_input, workers):
    os.link(big_input, tmp_path / "in.jsonl")
    process = subprocess.Popen(
        [str(PROMPTFMT), "validate", "in.jsonl", "--workers", str(workers), "--quarantine", "q.jsonl", "-q"],
        cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    assert _wait_until(lambda: _reading(process.pid, tmp_path / "in.jsonl"), 20)
    time.sleep(0.3)  # the quarantine is open from before the first record until the end
    assert process.poll() is None, "the validation ended before it could be stopped"
    process.terminate()
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 130, stderr
    assert b"Traceback" not in stderr
    assert sorted(path.name for path in tmp_path.iterdir()) == ["in.jsonl"]


def _limit_file_size() -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG, as on a full disk
    resource.setrlimit(resource.RLIMIT_FSIZE, (100, 100))


@linux_only
@pytest.mark.parametrize("command", ["validate", "convert"])
def test_a_quarantine_that_does_not_fit_on_the_disk_leaves_nothing(tmp_path, command):
    lines = [{"instruction": "" if k % 5 == 0 else f"task {k}", "input": "", "output": f"answer {k}"} for k in range(20)]
    (tmp_path / "in.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    args = ["validate", "in.jsonl"] if command == "validate" else ["convert", "in.jsonl", "-o", "-", "--to", "phi3"]
    # four quarantined records, ~600 bytes: they stay in the buffer until the file is closed
    done = subprocess.run([str(PROMPTFMT), *args, "--quarantine", "q.jsonl"], cwd=tmp_path, capture_output=True,
                          text=True, preexec_fn=_limit_file_size, timeout=60)
    assert done.returncode in (1, 2) and "internal error" not in done.stderr, done.stderr
    assert "q.jsonl" in done.stderr
    assert sorted(path.name for path in tmp_path.iterdir()) == ["in.jsonl"]
