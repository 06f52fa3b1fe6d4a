"""Guards of the test suite itself, and of the kit it ships: each runs pytest or Python in a subprocess.

* A user's plugin settings (``PROMPTFMT_FORMATS_DIR`` with an extra TOML format, a blocked built-in,
  entry points on) do not change which tests are collected: conftest clears them before collection.
* Without the shared reference data, its tests skip locally and fail when ``CI`` is set.
* ``promptfmt.testing`` without Hypothesis says what to install, and that extra exists.
"""

from __future__ import annotations

import os
import subprocess
import sys

from promptfmt import load_registry

from .helpers import ROOT, SHARED_DATA_ENV

# Modules that parametrize over the registered formats (or make a class per format).
REGISTRY_MODULES = ["tests/test_builtin_conformance.py", "tests/test_detect.py"]
# A test that takes the shared_data fixture, and one that reads a shared template through the helper.
SHARED_DATA_TESTS = [
    "tests/test_layouts.py::test_every_sharegpt_conversation_is_read",
    "tests/test_import_template.py::TestImportedCommandR::test_contract_attributes",
]
EXTRA_FORMAT = """\
name = "extra-qa"
description = "A format a user keeps in PROMPTFMT_FORMATS_DIR."
reference = "tests/test_suite_guards.py"

[template]
prefix = "Q: "
separator = "\\nC: "
prompt_suffix = "\\nA:"
response_prefix = " "
end = "\\n"
"""


def _environment(**changes: str | None) -> dict[str, str]:
    """This process's environment with ``changes`` (None removes a variable)."""
    env = dict(os.environ)
    for key, value in changes.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def _pytest(*args: str, env: dict[str, str], cwd) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
        cwd=cwd, env=env, capture_output=True, text=True, check=False, timeout=300,
    )


def _collected(env: dict[str, str]) -> list[str]:
    result = _pytest("--collect-only", "-q", *REGISTRY_MODULES, env=env, cwd=ROOT)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    return [line for line in result.stdout.splitlines() if "::" in line]


def test_a_users_plugin_settings_do_not_change_the_collected_tests(tmp_path):
    (tmp_path / "extra-qa.toml").write_text(EXTRA_FORMAT, encoding="utf-8")
    registry, failures = load_registry(entry_points=False, formats_dir=str(tmp_path))
    assert not failures and "extra-qa" in registry.names()  # the folder does add a format where honoured

    plain = _collected(_environment(PROMPTFMT_FORMATS_DIR=None, PROMPTFMT_BLOCK_PLUGINS=None))
    users = _collected(_environment(
        PROMPTFMT_FORMATS_DIR=str(tmp_path), PROMPTFMT_BLOCK_PLUGINS="promptfmt.formats.phi3",
        PROMPTFMT_DISABLE_ENTRY_POINTS="0",
    ))
    assert users == plain
    assert any("::TestPhi3::" in test for test in plain) and any("[phi3]" in test for test in plain)
    assert not any("extra" in test.lower() for test in plain)


def test_missing_shared_data_skips_locally_and_fails_under_ci(tmp_path):
    missing = str(tmp_path / "no-shared-data")

    local = _pytest("-rs", *SHARED_DATA_TESTS, env=_environment(**{SHARED_DATA_ENV: missing, "CI": None}), cwd=ROOT)
    assert local.returncode == 0, local.stdout[-3000:]
    assert "2 skipped" in local.stdout and "passed" not in local.stdout.splitlines()[-1]
    assert f"shared reference data not found at {missing}: set {SHARED_DATA_ENV}" in local.stdout

    ci = _pytest(*SHARED_DATA_TESTS, env=_environment(**{SHARED_DATA_ENV: missing, "CI": "1"}), cwd=ROOT)
    assert ci.returncode == 1, ci.stdout[-3000:]
    summary = ci.stdout.splitlines()[-1]
    assert "skipped" not in summary and "passed" not in summary, summary
    assert ci.stdout.count(f"set {SHARED_DATA_ENV} to the folder") >= 2
    assert "CI is set, so the tests that need it fail instead of skipping" in ci.stdout


def test_the_kit_without_hypothesis_says_what_to_install():
    blocked = "import sys; sys.modules['hypothesis'] = None; "
    kit = subprocess.run([sys.executable, "-c", blocked + "import promptfmt.testing"],
                         capture_output=True, text=True, check=False, timeout=60)
    assert kit.returncode == 1
    last = kit.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError: promptfmt.testing (the conformance kit) needs Hypothesis"), kit.stderr
    assert "pip install 'promptfmt[testing]'" in last
    # the library itself does not need Hypothesis
    library = subprocess.run(
        [sys.executable, "-c", blocked + "import promptfmt; print(len(promptfmt.load_registry(entry_points=False)[0].names()))"],
        capture_output=True, text=True, check=False, timeout=60,
    )
    assert library.returncode == 0, library.stderr
    assert int(library.stdout) >= 16


def test_the_testing_extra_holds_what_the_kit_imports():
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]["optional-dependencies"]
    assert sorted(requirement.split(">=")[0] for requirement in extras["testing"]) == ["hypothesis", "pytest"]
    readme = (ROOT / "README.md").read_text("utf-8")
    assert "pip install 'promptfmt[testing]'" in readme
    assert SHARED_DATA_ENV in readme.split("## Development", 1)[1]
