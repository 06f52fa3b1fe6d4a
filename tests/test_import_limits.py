"""``import-template`` on hostile input: bounded in time and memory, every problem a located message
with exit 1 (the template's data) or 2 (usage), never a crash (exit 70).

The runaway templates run through the real console script in a subprocess, so that the test can
read the wall time and the peak memory (``os.wait4``) of the whole process tree.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from promptfmt.templating import Limits, TemplateLimitError, import_chat_template, load_chat_template
from promptfmt.templating.sandbox import ChatTemplate, MissingTokensError

# a plain template that imports: user and assistant turns, a generation prompt
PLAIN = ("{% for m in messages %}<|{{ m.role }}|>{{ m.content }}<|end|>{% endfor %}"
         "{% if add_generation_prompt %}<|assistant|>{% endif %}")
MB = 1024 * 1024
SCRIPT = Path(sys.executable).parent / "promptfmt"


def run_script(*args: str, cwd: Path) -> tuple[int, str, float, int]:
    """``promptfmt ARGS`` in a subprocess: exit code, stderr, wall seconds, peak RSS in bytes of the process tree."""
    env = {**os.environ, "PROMPTFMT_DISABLE_ENTRY_POINTS": "1"}
    err_path = cwd / "stderr.txt"
    start = time.perf_counter()
    with err_path.open("wb") as err:  # through a small interpreter: a child forked from pytest counts pytest's pages
        done = subprocess.run([sys.executable, "-c", _WAIT4, str(SCRIPT), *args], cwd=cwd, env=env, stderr=err,
                              stdout=subprocess.PIPE, check=True)
    code, peak = (int(word) for word in done.stdout.split())
    return code, err_path.read_text("utf-8"), time.perf_counter() - start, peak * 1024


# runs argv[1:] as a child with stdout on /dev/null, prints its exit code and peak RSS (KB, ``wait4``)
_WAIT4 = """import os, sys
pid = os.fork()
if pid == 0:
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    os.execv(sys.argv[1], sys.argv[1:])
_, status, usage = os.wait4(pid, 0)
print(os.waitstatus_to_exitcode(status), usage.ru_maxrss)
"""


RUNAWAY = {
    "nested-loops": ("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}", "time"),
    "loops-writing": ("{% for i in range(100000) %}{% for j in range(100000) %}{{ 'x' * (1000 + j) }}{% endfor %}"
                      "{% endfor %}", "memory"),
    "macro-fan-out": ("{% macro a() %}{% for i in range(1000) %}{% endfor %}{% endmacro %}"
                      "{% macro b() %}{% for i in range(1000) %}{{ a() }}{% endfor %}{% endmacro %}"
                      "{% macro c() %}{% for i in range(1000) %}{{ b() }}{% endfor %}{% endmacro %}{{ c() }}", "time"),
    "constant-folding": ("{{ 3 ** (10 ** 9) }}", "time"),  # folded by Jinja's optimizer while compiling
    "repeat": ("{{ 'x' * 10 ** 10 }}", "memory"),
    "center": ("{{ 'x' | center(10 ** 10) }}", "memory"),
    "ljust": ("{{ 'x'.ljust(10 ** 10) }}", "memory"),
    "indent": ("{{ 'a\nb' | indent(10 ** 10) }}", "memory"),
    "format": ("{{ '%s' | format('y' * 10 ** 10) }}", "memory"),
}


@pytest.mark.parametrize("case", sorted(RUNAWAY))
def test_a_runaway_template_is_stopped_at_the_limit(case, tmp_path):
    source, limit = RUNAWAY[case]
    (tmp_path / "t.jinja").write_text(source, encoding="utf-8")
    code, stderr, seconds, peak = run_script(
        "import-template", "t.jinja", "--name", "t", "--time-limit", "2", "--memory-limit", "200", cwd=tmp_path)
    assert code == 1, stderr
    if limit == "time":
        expected = ("Error: cannot import t.jinja as a declarative format: the template took more than 2 s to render "
                    "the verification records and conversations (--time-limit to raise it)\n")
    else:
        expected = ("Error: cannot import t.jinja as a declarative format: the template needed more than 200 MB of "
                    "memory to render the verification records and conversations (--memory-limit to raise it)\n")
    assert stderr == expected
    assert seconds < 15
    assert peak < 200 * MB + 250 * MB  # the limit, plus the interpreter with its libraries


def test_a_huge_range_is_refused_by_the_sandbox_at_once(cli, tmp_path):
    (tmp_path / "t.jinja").write_text("{% for i in range(10**9) %}x{% endfor %}", encoding="utf-8")
    start = time.perf_counter()
    result = cli("import-template", str(tmp_path / "t.jinja"), "--name", "t", "--time-limit", "2")
    assert result.exit_code == 1 and "Range too big" in result.stderr and time.perf_counter() - start < 5


def test_limits_hold_for_library_calls_and_results_come_back_whole(tmp_path):
    runaway = ChatTemplate("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}", {}, "r.jinja")
    start = time.perf_counter()
    with pytest.raises(TemplateLimitError) as caught:
        import_chat_template(runaway, name="r", limits=Limits(seconds=1))
    assert caught.value.code == "time-limit" and caught.value.origin == "r.jinja"
    assert time.perf_counter() - start < 10
    plain = ChatTemplate(PLAIN, {}, "plain.jinja")
    bounded = import_chat_template(plain, name="p", limits=Limits())
    assert bounded.toml() == import_chat_template(plain, name="p").toml()
    assert bounded.records_checked == 64 and bounded.conversations_checked == 48
    with pytest.raises(MissingTokensError) as missing:  # a refusal crosses the process boundary as itself
        import_chat_template(ChatTemplate("{{ sep_token }}" + PLAIN, {}, "s.jinja"), name="s", limits=Limits())
    assert missing.value.tokens == ["sep_token"] and missing.value.code == "missing-tokens"


def test_limits_are_positive():
    with pytest.raises(ValueError, match="positive"):
        Limits(seconds=0)


def test_the_json_report_names_the_limit(cli, tmp_path):
    (tmp_path / "t.jinja").write_text("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}")
    result = cli("import-template", str(tmp_path / "t.jinja"), "--name", "t", "--time-limit", "1", "--json")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["code"] == "time-limit"


def test_a_file_over_the_size_limit_is_refused_before_it_is_read(cli, tmp_path):
    big = tmp_path / "big.jinja"
    big.write_bytes(b"a" * (50 * MB))
    start = time.perf_counter()
    result = cli("import-template", str(big), "--name", "t")
    assert result.exit_code == 1 and time.perf_counter() - start < 5
    assert result.stderr == (f"Error: cannot import {big} as a declarative format: it is larger than 16 MB, the most a "
                             "template file may have (--max-size to raise it)\n")
    small = cli("import-template", str(big), "--name", "t", "--max-size", "1")
    assert "larger than 1 MB" in small.stderr
    with pytest.raises(TemplateLimitError) as caught:
        load_chat_template(big, max_bytes=MB)
    assert caught.value.code == "too-large"


def test_a_large_literal_within_the_size_limit_stays_within_the_memory_limit(tmp_path):
    (tmp_path / "t.jinja").write_text("a" * (2 * MB) + PLAIN, encoding="utf-8")
    code, stderr, _, peak = run_script("import-template", "t.jinja", "--name", "t", "--memory-limit", "400", cwd=tmp_path)
    assert code == 0 and "exact on 64 generated records" in stderr, stderr
    assert peak < 400 * MB + 250 * MB


NESTED = {
    "blocks": ("{% if x %}" * 5000 + "a" + "{% endif %}" * 5000),
    "parentheses": "{{ " + "(" * 5000 + "1" + ")" * 5000 + " }}",
    "loops": "{% for a in b %}" * 25 + "a" + "{% endfor %}" * 25,  # Python compiles at most 20 nested blocks
}


@pytest.mark.parametrize("case", sorted(NESTED))
def test_a_deeply_nested_template_is_refused_with_the_reason(case, cli, tmp_path):
    (tmp_path / "t.jinja").write_text(NESTED[case], encoding="utf-8")
    result = cli("import-template", str(tmp_path / "t.jinja"), "--name", "t")
    assert result.exit_code == 1, result
    assert result.stderr == ("Error: cannot import t.jinja as a declarative format: the template nests blocks or "
                             "expressions too deeply to be compiled\n")


def config_file(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "tokenizer_config.json"
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return path


BAD_CONFIGS = {
    "nested": ("[" * 100_000 + "]" * 100_000, "its JSON nests arrays or objects too deeply to be read"),
    "array": ("[1]", "it is an array, not a JSON object: a tokenizer_config.json is an object with a chat_template key"),
    "string": ('"x"', "it is a string, not a JSON object"),
    "empty": ("", "it is empty"),
    "latin-1": (b'{"chat_template": "caf\xe9"}', "it is not UTF-8 text (byte 22)"),
    "no-template": ('{"eos_token": "x"}', "it has no chat_template key"),
    "list-of-lists": ('{"chat_template": [["default", "x"]]}', "chat_template[0] is an array; expected a string, or a "
                      'list of {"name": …, "template": …} objects with string values (as Hugging Face allows)'),
    "list-name": ('{"chat_template": [{"name": ["x"], "template": "x"}]}', "chat_template[0].name is an array; expected"),
    "list-template": ('{"chat_template": [{"name": "default"}]}', "chat_template[0].template is missing; expected"),
    "empty-list": ('{"chat_template": []}', "chat_template is an empty array; expected a string"),
    "number": ('{"chat_template": 5}', "chat_template is a number; expected a string"),
    "null": ('{"chat_template": null}', "chat_template is null; expected a string"),
    "object": ('{"chat_template": {"default": "x"}}', "chat_template is an object; expected a string"),
}


@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
def test_a_malformed_tokenizer_config_is_a_located_data_error(case, cli, tmp_path):
    text, reason = BAD_CONFIGS[case]
    path = config_file(tmp_path, text)
    result = cli("import-template", str(path), "--name", "t")
    assert result.exit_code == 1, result
    assert result.stderr.startswith(f"Error: cannot import {path} as a declarative format: {reason}"), result.stderr


def test_a_huge_integer_in_a_tokenizer_config_is_not_in_the_way(cli, tmp_path):
    # Python refuses to convert integers of more than 4,300 digits; no key the import reads is a number
    digits = "9" * 100_000
    path = config_file(tmp_path, f'{{"chat_template": {json.dumps(PLAIN)}, "model_max_length": {digits}, "eos_token": "</s>"}}')
    result = cli("import-template", str(path), "--name", "t")
    assert result.exit_code == 0, result
    assert 'user_suffix = "<|end|>"' in result.stdout


def test_the_output_is_never_the_input(cli, tmp_path):
    template = tmp_path / "t.jinja"
    template.write_text(PLAIN, encoding="utf-8")
    (tmp_path / "link.jinja").symlink_to(template)
    os.link(template, tmp_path / "hard.jinja")
    for output in (str(template), str(tmp_path / "link.jinja"), str(tmp_path / "hard.jinja"), str(tmp_path / "." / "t.jinja")):
        result = cli("import-template", str(template), "--name", "t", "-o", output, "--force")
        assert result.exit_code == 2, result
        assert f"--output {output} is the input file: promptfmt never overwrites its input" in result.stderr
    folder = cli("import-template", str(template), "--name", "t", "-o", str(tmp_path), "--force")
    assert folder.exit_code == 2 and f"--output {tmp_path} is a folder; give a file name" in folder.stderr
    assert template.read_text("utf-8") == PLAIN


def test_the_output_is_written_whole_or_not_at_all(cli, tmp_path):
    template, output = tmp_path / "t.jinja", tmp_path / "t.toml"
    template.write_text(PLAIN, encoding="utf-8")
    output.write_text("kept", encoding="utf-8")
    runaway = tmp_path / "r.jinja"
    runaway.write_text("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}")
    failed = cli("import-template", str(runaway), "--name", "t", "-o", str(output), "--force", "--time-limit", "1")
    assert failed.exit_code == 1 and output.read_text("utf-8") == "kept"
    written = cli("import-template", str(template), "--name", "t", "-o", str(output), "--force")
    assert written.exit_code == 0, written
    assert output.read_text("utf-8").startswith("# Imported by 'promptfmt import-template' from t.jinja")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.jinja", "t.jinja", "t.toml"]  # no temporary file left


def test_limit_options_are_checked(cli, tmp_path):
    template = tmp_path / "t.jinja"
    template.write_text(PLAIN, encoding="utf-8")
    for option, value in (("--time-limit", "0"), ("--memory-limit", "0"), ("--max-size", "-1")):
        result = cli("import-template", str(template), "--name", "t", option, value)
        assert result.exit_code == 2 and option in result.stderr, result
