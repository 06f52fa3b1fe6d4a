"""The tutorial baseline: how a course formats an instruction dataset for training.

Load the whole JSON file, loop an f-string formatter (``format_input`` of "Build a Large Language
Model (From Scratch)", chapter 7, plus the response block), dump the whole list as the chapter
dumps its files (``json.dump(..., indent=4)``). No validation. ``--compact`` dumps without indent
(a faster variant, for honesty).

    python bench/tutorial_baseline.py IN.json OUT.json [--compact]
"""

from __future__ import annotations

import json
import sys


def format_input(entry):
    instruction_text = (
        f"Below is an instruction that describes a task. "
        f"Write a response that appropriately completes the request."
        f"\n\n### Instruction:\n{entry['instruction']}"
    )
    input_text = f"\n\n### Input:\n{entry['input']}" if entry["input"] else ""
    return instruction_text + input_text


def main() -> None:
    source, target = sys.argv[1], sys.argv[2]
    compact = "--compact" in sys.argv[3:]
    with open(source, encoding="utf-8") as file:
        data = json.load(file)
    texts = [{"text": format_input(entry) + f"\n\n### Response:\n{entry['output']}"} for entry in data]
    with open(target, "w", encoding="utf-8") as file:
        json.dump(texts, file, indent=None if compact else 4)


if __name__ == "__main__":
    main()
