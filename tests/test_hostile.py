"""The hostile-input corpus (tests/hostile/) through the real console script: for every case, the
exit code the issue asks for and never 70, no traceback, every ``Error:`` naming the file at fault
(and the line where one is), within 30 s and 1 GB, read = written + quarantined in the summaries of
``convert`` and ``split`` and in the files they write, and no temporary file left behind.

Each case is a subprocess; they run in a small thread pool as soon as the module's first test asks,
and each test reads its own result. Profiles: ``quick`` (the default) runs each kind of hostile
dataset through one of the data commands, taking the commands in turn; ``full`` (when ``CI`` is set,
or ``PROMPTFMT_HOSTILE=full``) runs each through every command.

A case that still fails on main is marked ``xfail(strict=True)`` in `FINDINGS` with what breaks:
once the fix lands the case passes, the strict mark turns it red, and the mark is to be removed.
"""

from __future__ import annotations

import os
from collections import defaultdict
from concurrent.futures import Future, ThreadPoolExecutor

import pytest

from .helpers import in_ci
from .hostile import CASES, Case
from .hostile.runner import Outcome, run_case

PROFILE = os.environ.get("PROMPTFMT_HOSTILE") or ("full" if in_ci() else "quick")
THREADS = min(6, 2 * (os.cpu_count() or 1))  # a third of a case is waiting (start-up I/O, pipes, timeouts)

# case -> what still breaks on main (empty: every case of the corpus holds)
FINDINGS: dict[str, str] = {}


def _profile(cases: list[Case], profile: str) -> list[Case]:
    """``full``: every case. ``quick``: of the cases of one kind (``kind/command``), the i-th kind's
    i-th command, round the list, so each command still meets a share of every group of kinds."""
    if profile == "full":
        return cases
    kinds: dict[str, list[Case]] = defaultdict(list)
    for case in cases:
        kinds[case.name.split("/")[0]].append(case)
    return [group[number % len(group)] for number, group in enumerate(kinds.values())]


def _param(case: Case):
    marks = [pytest.mark.xfail(strict=True, reason=FINDINGS[case.name])] if case.name in FINDINGS else []
    if case.skip:
        marks.append(pytest.mark.skip(reason=case.skip))
    return pytest.param(case, id=case.name, marks=marks)


SELECTED = _profile(CASES, PROFILE)


@pytest.fixture(scope="module")
def results(request, tmp_path_factory):
    """Start every selected case of this session in the pool at once; futures by case name."""
    wanted = [item.callspec.params["case"] for item in request.session.items
              if item.module is request.module and hasattr(item, "callspec") and "case" in item.callspec.params
              and not item.callspec.params["case"].skip]
    pool = ThreadPoolExecutor(THREADS)
    futures: dict[str, Future] = {
        case.name: pool.submit(run_case, case, tmp_path_factory.mktemp(case.name.replace("/", "-")[:60]))
        for case in wanted}
    yield futures
    pool.shutdown(wait=True, cancel_futures=True)


def _describe(outcome: Outcome) -> str:
    return (f"exit {outcome.code} in {outcome.seconds:.1f} s, peak {outcome.peak // 2**20} MB\n"
            f"stderr: {outcome.stderr[-1500:]}\nstdout: {outcome.stdout[:500]}")


@pytest.mark.parametrize("case", [_param(case) for case in SELECTED])
def test_hostile_input(case, results):
    outcome, problems = results[case.name].result()
    assert problems == [], _describe(outcome)


def test_the_corpus_is_whole():
    names = [case.name for case in CASES]
    assert len(names) == len(set(names)), "two cases share a name"
    assert sorted(set(FINDINGS) - set(names)) == [], "a finding names no case"
    kinds = {name.split("/")[0] for name in names}
    assert len(kinds) >= 100
    assert {case.name.split("/")[0] for case in _profile(CASES, "quick")} == kinds  # quick runs every kind
