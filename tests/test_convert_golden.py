"""Golden tests: every input layout converts to every output layout through the CLI, byte for byte.

The same two records are written by hand in each of the five input layouts (the rendered ones in
Stanford ``alpaca`` text and ``phi3`` prompt/completion, whose strings are those of the format golden
tests); each of the five expected outputs is written by hand too. Record 0 has no input and a
metadata key ``id``; record 1 has an input and a non-ASCII output.
"""

from __future__ import annotations

import json

import pytest

ALPACA_NO_INPUT = (
    "Below is an instruction that describes a task. Write a response that appropriately completes the request."
    "\\n\\n### Instruction:\\nName a colour.\\n\\n### Response:"
)
ALPACA_INPUT = (
    "Below is an instruction that describes a task, paired with an input that provides further context. "
    "Write a response that appropriately completes the request."
    "\\n\\n### Instruction:\\nTranslate to French.\\n\\n### Input:\\nGood morning\\n\\n### Response:"
)

INPUTS = {
    "alpaca": (
        None,
        '{"instruction": "Name a colour.", "input": "", "output": "Blue.", "id": 1}\n'
        '{"instruction": "Translate to French.", "input": "Good morning", "output": "Bonjour à tous"}\n',
    ),
    "text": (
        "alpaca",
        f'{{"text": "{ALPACA_NO_INPUT}\\nBlue.", "id": 1}}\n'
        f'{{"text": "{ALPACA_INPUT}\\nBonjour à tous"}}\n',
    ),
    "prompt-completion": (
        "phi3",
        '{"prompt": "<|user|>\\nName a colour.<|end|>\\n<|assistant|>\\n", "completion": "Blue.<|end|>\\n<|endoftext|>", "id": 1}\n'
        '{"prompt": "<|user|>\\nTranslate to French.\\nGood morning<|end|>\\n<|assistant|>\\n", '
        '"completion": "Bonjour à tous<|end|>\\n<|endoftext|>"}\n',
    ),
    "messages": (
        None,
        '{"messages": [{"role": "user", "content": "Name a colour."}, {"role": "assistant", "content": "Blue."}], "id": 1}\n'
        '{"messages": [{"role": "user", "content": "Translate to French.\\nGood morning"}, '
        '{"role": "assistant", "content": "Bonjour à tous"}]}\n',
    ),
    "sharegpt": (
        None,
        '{"conversations": [{"from": "human", "value": "Name a colour."}, {"from": "gpt", "value": "Blue."}], "id": 1}\n'
        '{"conversations": [{"from": "human", "value": "Translate to French.\\nGood morning"}, '
        '{"from": "gpt", "value": "Bonjour à tous"}]}\n',
    ),
}

OUTPUTS = {
    ("alpaca", None): (
        '{"instruction":"Name a colour.","input":"","output":"Blue.","id":1}\n'
        '{"instruction":"Translate to French.","input":"Good morning","output":"Bonjour à tous"}\n'
    ),
    ("text", "phi3"): (
        '{"text":"<|user|>\\nName a colour.<|end|>\\n<|assistant|>\\nBlue.<|end|>\\n<|endoftext|>","id":1}\n'
        '{"text":"<|user|>\\nTranslate to French.\\nGood morning<|end|>\\n<|assistant|>\\nBonjour à tous<|end|>\\n<|endoftext|>"}\n'
    ),
    ("prompt-completion", "alpaca"): (
        f'{{"prompt":"{ALPACA_NO_INPUT}","completion":"\\nBlue.","id":1}}\n'
        f'{{"prompt":"{ALPACA_INPUT}","completion":"\\nBonjour à tous"}}\n'
    ),
    ("messages", None): (
        '{"messages":[{"role":"user","content":"Name a colour."},{"role":"assistant","content":"Blue."}],"id":1}\n'
        '{"messages":[{"role":"user","content":"Translate to French.\\nGood morning"},'
        '{"role":"assistant","content":"Bonjour à tous"}]}\n'
    ),
    ("sharegpt", None): (
        '{"conversations":[{"from":"human","value":"Name a colour."},{"from":"gpt","value":"Blue."}],"id":1}\n'
        '{"conversations":[{"from":"human","value":"Translate to French.\\nGood morning"},'
        '{"from":"gpt","value":"Bonjour à tous"}]}\n'
    ),
}


@pytest.mark.parametrize("output", list(OUTPUTS), ids=[layout for layout, _ in OUTPUTS])
@pytest.mark.parametrize("input_layout", list(INPUTS))
def test_every_layout_converts_to_every_layout_exactly(cli, tmp_path, input_layout, output):
    layout, to = output
    source, data = INPUTS[input_layout]
    infile = tmp_path / "in.jsonl"
    infile.write_text(data, encoding="utf-8")
    outfile = tmp_path / "out.jsonl"
    args = ["convert", str(infile), "-o", str(outfile), "--layout", layout]
    args += ["--to", to] if to else []
    args += ["--from", source] if source else []
    result = cli(*args)
    assert result.exit_code == 0, result
    assert outfile.read_text("utf-8") == OUTPUTS[output]
    assert f"({input_layout}" in result.stderr
    assert "read 2 = written 2 + quarantined 0" in result.stderr


@pytest.mark.parametrize("output", list(OUTPUTS), ids=[layout for layout, _ in OUTPUTS])
def test_json_array_output_holds_the_same_items(cli, tmp_path, output):
    layout, to = output
    infile = tmp_path / "in.jsonl"
    infile.write_text(INPUTS["alpaca"][1], encoding="utf-8")
    outfile = tmp_path / "out.json"
    args = ["convert", str(infile), "-o", str(outfile), "--layout", layout, "--json-array", *(["--to", to] if to else [])]
    assert cli(*args).exit_code == 0
    text = outfile.read_text("utf-8")
    assert text == "[\n" + ",\n".join(OUTPUTS[output].splitlines()) + "\n]\n"
    assert json.loads(text) == [json.loads(line) for line in OUTPUTS[output].splitlines()]


def test_json_array_input_converts_like_json_lines(cli, tmp_path):
    infile = tmp_path / "in.json"
    infile.write_text(json.dumps([json.loads(line) for line in INPUTS["alpaca"][1].splitlines()], indent=4), encoding="utf-8")
    result = cli("convert", str(infile), "-o", "-", "--to", "phi3")
    assert result.exit_code == 0, result
    assert result.stdout == OUTPUTS[("text", "phi3")]


def test_stdout_output_and_stdin_input(cli):
    result = cli("convert", "-", "-o", "-", "--layout", "sharegpt", input=INPUTS["messages"][1])
    assert result.exit_code == 0, result
    assert result.stdout == OUTPUTS[("sharegpt", None)]
    assert "read 2 = written 2 + quarantined 0" in result.stderr


def test_empty_json_array_output(cli, tmp_path):
    infile = tmp_path / "in.jsonl"
    infile.write_text("", encoding="utf-8")
    result = cli("convert", str(infile), "-o", "-", "--json-array", "--to", "phi3")
    assert result.exit_code == 0
    assert result.stdout == "[]\n"
    assert "read 0 = written 0 + quarantined 0" in result.stderr and "holds no records" in result.stderr
