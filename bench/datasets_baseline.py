"""The Hugging Face ``datasets`` baseline: load a file, ``.map`` a hand-written template, write it out.

What a user writes by hand to turn Alpaca records into a Stanford Alpaca ``text`` column (the
``PROMPT_DICT`` of stanford_alpaca's train.py, then the output), or conversations into plain
ChatML, with ``datasets``:

    ds = load_dataset("parquet", data_files=IN, split="train")     # or "json" for JSON Lines
    ds = ds.map(to_text, remove_columns=ds.column_names)
    ds.to_json(OUT, lines=True)                                    # or ds.to_parquet(OUT)

    python bench/datasets_baseline.py IN OUT CACHE [--style alpaca|chatml|none] [--batched]

The loader is chosen by IN's extension, the writer by OUT's. ``CACHE`` becomes
``HF_DATASETS_CACHE`` (the benchmark gives every run a new, empty folder: a warm cache would skip
the Arrow conversion that a user pays the first time); the run is offline. ``--style none`` writes
the records unchanged (no ``.map``); ``--batched`` maps 1,000 rows a call (the faster variant).
"""

from __future__ import annotations

import os
import sys

PROMPT_INPUT = (
    "Below is an instruction that describes a task, paired with an input that provides further context. "
    "Write a response that appropriately completes the request.\n\n"
    "### Instruction:\n{instruction}\n\n### Input:\n{input}\n\n### Response:\n"
)
PROMPT_NO_INPUT = (
    "Below is an instruction that describes a task. "
    "Write a response that appropriately completes the request.\n\n"
    "### Instruction:\n{instruction}\n\n### Response:\n"
)


def alpaca(example):
    prompt = PROMPT_INPUT if example["input"] else PROMPT_NO_INPUT
    return {"text": prompt.format_map(example) + example["output"]}


def alpaca_batch(batch):
    return {"text": [alpaca({"instruction": i, "input": x, "output": o})["text"]
                     for i, x, o in zip(batch["instruction"], batch["input"], batch["output"])]}


def chatml(example):
    return {"text": "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in example["messages"])}


def chatml_batch(batch):
    return {"text": [chatml({"messages": messages})["text"] for messages in batch["messages"]]}


STYLES = {"alpaca": (alpaca, alpaca_batch), "chatml": (chatml, chatml_batch)}


def main() -> None:
    source, target, cache = sys.argv[1:4]
    options = sys.argv[4:]
    style = options[options.index("--style") + 1] if "--style" in options else "alpaca"
    os.environ["HF_DATASETS_CACHE"] = cache  # before datasets is imported: it reads them once
    os.environ["HF_DATASETS_OFFLINE"] = "1"
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["HF_DATASETS_DISABLE_PROGRESS_BARS"] = "1"  # the benchmark pipes stderr
    from datasets import load_dataset

    loader = "parquet" if source.endswith(".parquet") else "json"
    ds = load_dataset(loader, data_files=source, split="train")
    if style != "none":
        one, batch = STYLES[style]
        batched = "--batched" in options
        ds = ds.map(batch if batched else one, batched=batched, remove_columns=ds.column_names)
    if target.endswith(".parquet"):
        ds.to_parquet(target)
    else:
        ds.to_json(target, lines=True)


if __name__ == "__main__":
    main()
