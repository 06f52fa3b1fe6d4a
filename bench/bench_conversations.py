"""Benchmark: multi-turn conversations rendered in Llama-3 style, promptfmt beside the usual loop.

Generates N ShareGPT-like conversations (1 to 6 turns, a system message in a quarter of them,
contents from bench/datagen.py) as JSON Lines once, then runs, each in its own process:

* the baseline: a plain Python loop that reads each line with ``json.loads``, maps the roles, renders
  the official Llama-3 chat template with jinja2 (an ``ImmutableSandboxedEnvironment`` set up as
  Hugging Face ``apply_chat_template`` sets it up) and writes ``{"text"}`` with ``json.dumps``;
* ``promptfmt convert IN -o OUT --to llama3`` (it checks every conversation and judges whether it
  reads back), with ``--workers 1`` and by default.

It checks first, on a sample, that both write the same texts, then prints wall time (best of
``--repeat`` interleaved rounds), conversations/s and the ratio to the baseline (the median over
the rounds of that round's baseline time divided by the run's). The template is read from
``../shared/data/chat_templates/trl_original/llama3.jinja`` (not ours to ship); without it the
benchmark says so and stops.

    python bench/bench_conversations.py [--records N] [--repeat R] [--workdir bench/out]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from datagen import records  # noqa: E402

PYTHON = sys.executable
PROMPTFMT = str(Path(sys.executable).with_name("promptfmt"))
TEMPLATE = HERE.parent.parent / "shared" / "data" / "chat_templates" / "trl_original" / "llama3.jinja"
TOKENS = {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>"}

BASELINE = r'''
import json, sys
from jinja2.sandbox import ImmutableSandboxedEnvironment
template_path, source, target = sys.argv[1:4]
env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
template = env.from_string(open(template_path, encoding="utf-8").read())
roles = {"human": "user", "gpt": "assistant", "system": "system"}
with open(source, encoding="utf-8") as lines, open(target, "w", encoding="utf-8") as out:
    for line in lines:
        item = json.loads(line)
        messages = [{"role": roles[t["from"]], "content": t["value"]} for t in item["conversations"]]
        text = template.render(messages=messages, add_generation_prompt=False,
                               bos_token="<|begin_of_text|>", eos_token="<|eot_id|>")
        out.write(json.dumps({"text": text, "id": item["id"]}, ensure_ascii=False) + "\n")
'''


def generate(n: int, path: Path, seed: int = 0) -> Path:
    """``n`` conversations in the ShareGPT layout, written once and reused."""
    if path.exists():
        return path
    rng = random.Random(seed)
    pool = records(max(1000, n // 10), seed=seed)
    texts = [(r["instruction"] + ("\n" + r["input"] if r["input"] else ""), r["output"]) for r in pool]
    with path.open("w", encoding="utf-8") as out:
        for index in range(n):
            turns = [{"from": "system", "value": "You are a helpful assistant."}] if rng.random() < 0.25 else []
            for _ in range(rng.randint(1, 6)):
                question, answer = texts[rng.randrange(len(texts))]
                turns += [{"from": "human", "value": question}, {"from": "gpt", "value": answer}]
            out.write(json.dumps({"id": index, "conversations": turns}, ensure_ascii=False) + "\n")
    return path


def run(argv: list[str]) -> float:
    start = time.perf_counter()
    result = subprocess.run(argv, capture_output=True, text=True)
    if result.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(argv[:3])} failed: {result.stderr[-2000:]}")
    return time.perf_counter() - start


def texts(path: Path) -> list[str]:
    return [json.loads(line)["text"] for line in path.read_text("utf-8").splitlines()]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000, help="conversations to generate")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=HERE / "out")
    args = parser.parse_args()
    if not TEMPLATE.is_file():
        print(f"the official Llama-3 template is not at {TEMPLATE}: the baseline cannot run")
        return 0
    args.workdir.mkdir(parents=True, exist_ok=True)
    sample = generate(2000, args.workdir / "conversations-2000.jsonl", seed=1)
    base_out, ours_out = args.workdir / "conv-sample-baseline.jsonl", args.workdir / "conv-sample-promptfmt.jsonl"
    run([PYTHON, "-c", BASELINE, str(TEMPLATE), str(sample), str(base_out)])
    run([PROMPTFMT, "convert", str(sample), "-o", str(ours_out), "--to", "llama3", "-q"])
    same = texts(base_out) == texts(ours_out)
    print(f"checked: promptfmt writes the template's exact texts on a 2,000-conversation sample: {same}")
    if not same:
        return 1
    data = generate(args.records, args.workdir / f"conversations-{args.records}.jsonl")
    out = args.workdir / "conv-out.jsonl"
    runs = {
        "baseline: json + jinja2 (official template) + json.dumps": [PYTHON, "-c", BASELINE, str(TEMPLATE), str(data), str(out)],
        "promptfmt convert --to llama3 --workers 1": [PROMPTFMT, "convert", str(data), "-o", str(out), "--to", "llama3",
                                                     "--workers", "1", "-q"],
        "promptfmt convert --to llama3 (default --workers auto)": [PROMPTFMT, "convert", str(data), "-o", str(out),
                                                                  "--to", "llama3", "-q"],
    }
    times: dict[str, list[float]] = {name: [] for name in runs}
    for round_number in range(args.repeat):
        for name, argv in runs.items():
            times[name].append(run(argv))
            print(f"  round {round_number + 1}: {name}: {times[name][-1]:.1f} s", flush=True)
    baseline = next(iter(runs))
    print(f"\n{args.records:,} conversations; best of {args.repeat} round(s); ratio = median of per-round baseline/run")
    for name, seconds in times.items():
        ratio = statistics.median(b / s for b, s in zip(times[baseline], seconds))
        print(f"{name:<60} {min(seconds):6.1f} s  {args.records / min(seconds):>9,.0f}/s  {ratio:5.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
