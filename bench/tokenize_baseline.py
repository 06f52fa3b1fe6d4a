"""The baseline of bench/bench_tokenize.py: the plain loop a user writes to tokenize Alpaca records
for supervised fine-tuning without promptfmt.

A hand-written f-string template renders each record's prompt and full text; the same
``tokenizers.Tokenizer`` file promptfmt loads encodes the prompts and the full texts with
``encode_batch``, 1,000 at a time; the labels mask the prompt's tokens
(``[-100] * len(prompt_ids) + ids[len(prompt_ids):]``), as the course's exercise 7.2 does, and the
course format appends the EOS token, trained. As a script it reads JSON Lines with orjson and writes
``input_ids``, ``labels`` and ``attention_mask`` as JSON Lines with orjson::

    python bench/tokenize_baseline.py IN.jsonl OUT.jsonl --template alpaca-llmfs --tokenizer gpt2/tokenizer.json
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator
from typing import Any

import orjson
from tokenizers import Tokenizer

BATCH = 1000
QWEN_SYSTEM = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."


def alpaca_llmfs(record: dict[str, str]) -> tuple[str, str]:
    """The course's ``format_input`` as the prompt; the response header and the answer follow it."""
    prompt = ("Below is an instruction that describes a task. Write a response that appropriately completes "
              f"the request.\n\n### Instruction:\n{record['instruction']}")
    if record["input"]:
        prompt += f"\n\n### Input:\n{record['input']}"
    return prompt, f"{prompt}\n\n### Response:\n{record['output']}"


def qwen25(record: dict[str, str]) -> tuple[str, str]:
    """Qwen2.5's chat template for one turn with its default system message."""
    user = f"{record['instruction']}\n{record['input']}" if record["input"] else record["instruction"]
    prompt = (f"<|im_start|>system\n{QWEN_SYSTEM}<|im_end|>\n<|im_start|>user\n{user}<|im_end|>\n"
              "<|im_start|>assistant\n")
    return prompt, f"{prompt}{record['output']}<|im_end|>\n"


# template name -> (render, whether the EOS token is appended)
TEMPLATES: dict[str, tuple[Callable[[dict[str, str]], tuple[str, str]], bool]] = {
    "alpaca-llmfs": (alpaca_llmfs, True),
    "qwen2.5": (qwen25, False),
}


def tokenize(records: list[dict[str, str]], tokenizer: Tokenizer, template: str, eos: int | None) -> Iterator[dict[str, Any]]:
    """Each record's ``input_ids``, ``labels`` and ``attention_mask``."""
    render, append_eos = TEMPLATES[template]
    for at in range(0, len(records), BATCH):
        prompts, texts = zip(*map(render, records[at:at + BATCH]))
        prompt_ids = tokenizer.encode_batch(list(prompts), add_special_tokens=False)
        full = tokenizer.encode_batch(list(texts), add_special_tokens=False)
        for prompt, whole in zip(prompt_ids, full):
            ids = whole.ids
            masked = len(prompt.ids)
            labels = [-100] * masked + ids[masked:]
            if append_eos:
                ids.append(eos)
                labels.append(eos)
            yield {"input_ids": ids, "labels": labels, "attention_mask": [1] * len(ids)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source")
    parser.add_argument("target")
    parser.add_argument("--template", choices=sorted(TEMPLATES), required=True)
    parser.add_argument("--tokenizer", required=True, help="a tokenizer.json")
    parser.add_argument("--eos", type=int, default=None, help="the EOS id the template appends")
    args = parser.parse_args()
    tokenizer = Tokenizer.from_file(args.tokenizer)
    with open(args.source, "rb") as source:
        records = [orjson.loads(line) for line in source]
    with open(args.target, "wb") as target:
        for item in tokenize(records, tokenizer, args.template, args.eos):
            target.write(orjson.dumps(item) + b"\n")


if __name__ == "__main__":
    main()
