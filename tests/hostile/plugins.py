"""Hostile format files (``--format-file`` and ``PROMPTFMT_FORMATS_DIR``) and chat templates for
``import-template``: a broken file is a plugin that failed to load (exit 3, named); a template the
import cannot take is refused (exit 1, named). Runaway templates live in test_import_limits.py."""

from __future__ import annotations

import json
import os
from pathlib import Path

from .case import DATA, OK, PLUGIN, USAGE, Case, Run, case
from .data import TEXT

HEAD = 'name = "mini"\ndescription = "A minimal format."\nreference = "hostile"\n'
TEMPLATE = '[template]\nprefix = "Q: "\nseparator = "\\nC: "\nprompt_suffix = "\\nA:"\nresponse_prefix = " "\nend = "\\n"\n'
MINIMAL = HEAD + TEMPLATE

FORMAT_FILES: dict[str, str | bytes] = {
    "toml-syntax-error": MINIMAL + "[template\n",
    "toml-empty": "",
    "toml-not-utf8": MINIMAL.encode().replace(b"Q: ", b"Q\xe9: "),
    "toml-utf16": "\ufeff".encode("utf-16-le") + MINIMAL.encode("utf-16-le"),
    "toml-name-wrong-type": MINIMAL.replace('name = "mini"', "name = 5"),
    "toml-template-wrong-type": HEAD + 'template = "Q: {instruction}"\n',
    "toml-piece-wrong-type": MINIMAL.replace('prefix = "Q: "', "prefix = [1, 2]"),
    "toml-piece-datetime": MINIMAL.replace('prefix = "Q: "', "prefix = 1979-05-27T07:32:00Z"),
    "toml-name-empty": MINIMAL.replace('name = "mini"', 'name = ""'),
    "toml-name-newline": MINIMAL.replace('name = "mini"', 'name = "a\\nb: forged"'),
    "toml-name-taken": MINIMAL.replace('name = "mini"', 'name = "alpaca"'),
    "toml-aliases-not-list": MINIMAL.replace('name = "mini"', 'name = "mini"\naliases = "m"'),
    "toml-separator-is-prompt-end": MINIMAL.replace('separator = "\\nC: "', 'separator = "\\nA: "'),
    "toml-prompt-end-empty": MINIMAL.replace('prompt_suffix = "\\nA:"', 'prompt_suffix = ""')
    .replace('response_prefix = " "', 'response_prefix = ""'),
    "toml-turns-system-is-user": HEAD + 'schema_version = 2\n[turns]\nuser_prefix = "<|user|>\\n"\n'
    'user_suffix = "<|end|>\\n"\ngeneration_prompt = "<|assistant|>\\n"\nturn_end = "<|end|>\\n"\n'
    'system_prefix = "<|user|>\\n"\nsystem_suffix = "<|end|>\\n"\n',
    "toml-all-pieces-empty": HEAD + '[template]\nprefix = ""\nseparator = "\\n"\n',
    "toml-schema-version-huge": "schema_version = " + "9" * 5000 + "\n" + MINIMAL,
    "toml-schema-version-negative": "schema_version = -1\n" + MINIMAL,
    "toml-deep-inline-tables": MINIMAL + "x = " + "{a = " * 5000 + "1" + "}" * 5000 + "\n",
    "toml-deep-arrays": MINIMAL + "x = " + "[" * 100_000 + "]" * 100_000 + "\n",
    "toml-huge-literal": MINIMAL.replace('prefix = "Q: "', 'prefix = "' + "Q" * 8_000_000 + '"'),
    "toml-many-tables": MINIMAL + "".join(f"[t{i}]\nk = {i}\n" for i in range(20_000)),
    "toml-turns-wrong-types": HEAD + "schema_version = 2\n[turns]\nuser_prefix = 5\nsystem = [\"turn\"]\n",
    "toml-turns-and-template": MINIMAL + '[turns]\nuser_prefix = "<u>"\n',
    "toml-nul-in-piece": MINIMAL.replace('prefix = "Q: "', 'prefix = "Q\\u0000"'),
}


# a format file that is odd but no contradiction may load: it must only never crash or hang
ODD_BUT_LOADABLE = {"toml-huge-literal", "toml-nul-in-piece", "toml-many-tables"}


def _format_file_case(name: str, content: str | bytes) -> list[Case]:
    def lay(folder: Path) -> None:
        data = content.encode() if isinstance(content, str) else content
        (folder / "fmt.toml").write_bytes(data)
        (folder / "in.jsonl").write_bytes(TEXT)

    def listing(folder: Path) -> Run:
        lay(folder)
        return Run(["formats", "--format-file", "fmt.toml"], names=("fmt.toml",))

    def converting(folder: Path) -> Run:
        lay(folder)
        return Run(["convert", "in.jsonl", "-o", "out.jsonl", "--to", "mini", "--format-file", "fmt.toml"],
                   names=("fmt.toml",))

    def from_dir(folder: Path) -> Run:
        lay(folder)
        return Run(["render", "in.jsonl", "-f", "mini"], env={"PROMPTFMT_FORMATS_DIR": str(folder)},
                   names=("fmt.toml",))

    plugin = frozenset({OK, PLUGIN} if name in ODD_BUT_LOADABLE else {PLUGIN})
    return [Case(f"{name}/formats", listing, plugin), Case(f"{name}/convert", converting, plugin),
            Case(f"{name}/formats-dir", from_dir, plugin)]


def _in_dir(folder: Path) -> Path:
    formats = folder / "formats"
    formats.mkdir()
    (folder / "in.jsonl").write_bytes(TEXT)
    return formats


def _dir_run(folder: Path, formats: Path, *names: str, argv: tuple[str, ...] = ("formats",)) -> Run:
    """``formats`` lists what loaded and exits 3 when a plugin failed."""
    return Run(list(argv), env={"PROMPTFMT_FORMATS_DIR": str(formats)}, names=names or (str(formats),),
               timeout=10)


@case("formats-dir-is-a-file", PLUGIN)
def _dir_file(folder: Path) -> Run:
    (folder / "in.jsonl").write_bytes(TEXT)
    (folder / "formats").write_text(MINIMAL)
    return _dir_run(folder, folder / "formats")


@case("formats-dir-missing", PLUGIN)
def _dir_missing(folder: Path) -> Run:
    (folder / "in.jsonl").write_bytes(TEXT)
    return _dir_run(folder, folder / "nowhere")


@case("formats-dir-symlink-loop", PLUGIN)
def _dir_loop(folder: Path) -> Run:
    formats = _in_dir(folder)
    os.symlink("b.toml", formats / "a.toml")
    os.symlink("a.toml", formats / "b.toml")
    return _dir_run(folder, formats, "a.toml", "b.toml")


@case("formats-dir-fifo", PLUGIN)
def _dir_fifo(folder: Path) -> Run:
    formats = _in_dir(folder)
    os.mkfifo(formats / "x.toml")  # nobody writes: reading it would block for ever
    return _dir_run(folder, formats, "x.toml")


@case("formats-dir-toml-folder", PLUGIN)
def _dir_folder(folder: Path) -> Run:
    formats = _in_dir(folder)
    (formats / "x.toml").mkdir()
    return _dir_run(folder, formats, "x.toml")


@case("formats-dir-two-files-one-name", PLUGIN)
def _dir_twice(folder: Path) -> Run:
    formats = _in_dir(folder)
    (formats / "a.toml").write_text(MINIMAL)
    (formats / "b.toml").write_text(MINIMAL)
    return _dir_run(folder, formats, "a.toml", "b.toml")


@case("formats-dir-broken-unused", OK)
def _dir_unused(folder: Path) -> Run:
    formats = _in_dir(folder)
    (formats / "x.toml").write_text("[template\n")
    return _dir_run(folder, formats, "x.toml", argv=("render", "in.jsonl", "-f", "alpaca"))  # a warning, no failure


@case("formats-dir-500-files", OK)
def _dir_many(folder: Path) -> Run:
    formats = _in_dir(folder)
    for i in range(500):
        (formats / f"f{i}.toml").write_text(MINIMAL.replace('"mini"', f'"mini{i}"'))
    return _dir_run(folder, formats)


@case("format-file-is-a-folder", {USAGE, PLUGIN})
def _format_file_folder(folder: Path) -> Run:
    (folder / "fmt.toml").mkdir()
    return Run(["formats", "--format-file", "fmt.toml"], names=("fmt.toml",))


@case("format-file-missing", {USAGE, PLUGIN})
def _format_file_missing(folder: Path) -> Run:
    return Run(["formats", "--format-file", "fmt.toml"], names=("fmt.toml",))


@case("format-file-dev-null", PLUGIN)
def _format_file_null(folder: Path) -> Run:
    return Run(["formats", "--format-file", "/dev/null"], names=("/dev/null",))


PLAIN = ("{% for m in messages %}<|{{ m.role }}|>{{ m.content }}<|end|>{% endfor %}"
         "{% if add_generation_prompt %}<|assistant|>{% endif %}")

TEMPLATES: dict[str, tuple[str | bytes, str]] = {
    "template-not-utf8": (PLAIN.encode().replace(b"<|end|>", b"<|\xe9nd|>"), "t.jinja"),
    "template-utf16": ("\ufeff".encode("utf-16-le") + PLAIN.encode("utf-16-le"), "t.jinja"),
    "template-empty": ("", "t.jinja"),
    "template-syntax-error": ("{% for m in messages %}{{ m.content }", "t.jinja"),
    "template-always-raises": ("{{ raise_exception('no') }}", "t.jinja"),
    "template-include": ("{% include 'other.jinja' %}" + PLAIN, "t.jinja"),
    "template-unsafe-attribute": ("{{ messages.__class__.__mro__[1].__subclasses__() }}" + PLAIN, "t.jinja"),
    "template-nul-bytes": (PLAIN.replace("<|end|>", "<|end\0|>"), "t.jinja"),
    "template-ignores-messages": ("hello", "t.jinja"),
    "config-invalid-json": ('{"chat_template": "x",', "tokenizer_config.json"),
    "config-array": (json.dumps([PLAIN]), "tokenizer_config.json"),
    "config-no-template": (json.dumps({"bos_token": "<s>"}), "tokenizer_config.json"),
    "config-token-wrong-type": (json.dumps({"chat_template": "{{ bos_token }}" + PLAIN, "bos_token": [1, 2]}),
                                "tokenizer_config.json"),
    "config-nan": ('{"chat_template": ' + json.dumps(PLAIN) + ', "model_max_length": NaN}', "tokenizer_config.json"),
}


# NUL is text to Jinja and NaN is what json.load (and so transformers) reads; a token that is no
# text is refused like a missing one, naming the option that gives it
TEMPLATE_EXPECT = {"template-nul-bytes": {OK, DATA}, "config-nan": {OK, DATA}, "config-token-wrong-type": {DATA, USAGE}}


def _template_case(name: str, content: str | bytes, filename: str) -> Case:
    def make(folder: Path) -> Run:
        (folder / filename).write_bytes(content.encode() if isinstance(content, str) else content)
        return Run(["import-template", filename, "--name", "t", "-o", "t.toml", "--time-limit", "2"],
                   names=(filename,))

    return Case(name, make, frozenset(TEMPLATE_EXPECT.get(name, {DATA})))


@case("template-dev-null", DATA)
def _template_null(folder: Path) -> Run:
    return Run(["import-template", "/dev/null", "--name", "t", "--time-limit", "2"], names=("/dev/null",))


@case("template-fifo-no-writer", {DATA, USAGE})
def _template_fifo(folder: Path) -> Run:
    os.mkfifo(folder / "t.jinja")
    return Run(["import-template", "t.jinja", "--name", "t", "--time-limit", "2"], names=("t.jinja",), timeout=10)


def cases() -> list[Case]:
    found = [c for name, content in FORMAT_FILES.items() for c in _format_file_case(name, content)]
    found += [_dir_file, _dir_missing, _dir_loop, _dir_fifo, _dir_folder, _dir_twice, _dir_unused, _dir_many,
              _format_file_folder, _format_file_missing, _format_file_null]
    found += [_template_case(name, *spec) for name, spec in TEMPLATES.items()]
    return [*found, _template_null, _template_fifo]
