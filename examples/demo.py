"""The main job on the bundled example dataset: validate it, then render it in two prompt styles.

Run with ``make demo``. Uses only the public library API; the renderings are written (atomically)
to ``build/demo/`` and a short summary is printed.
"""

from __future__ import annotations

from pathlib import Path

from promptfmt import convert, load_registry, validate
from promptfmt.io import open_output, read_items

HERE = Path(__file__).resolve().parent
DATASET = HERE / "instructions.jsonl"
OUT = HERE.parent / "build" / "demo"
FORMATS = ("alpaca", "phi3")


def main() -> None:
    registry, failures = load_registry()
    for failure in failures:
        print(f"warning: {failure}")

    report = validate(str(DATASET), registry=registry)
    source = DATASET.relative_to(HERE.parent)
    print(f"validated {source}: {report.records} records, {report.valid} valid, "
          f"{report.errors} errors, {report.warnings} warnings")
    for issue in report.issues:
        print(f"  {issue.format(str(source))}")

    OUT.mkdir(parents=True, exist_ok=True)
    for name in FORMATS:
        target = OUT / f"{name}.jsonl"
        with open_output(str(target)) as sink:
            summary = convert(read_items(str(DATASET)), sink.write, target=registry.get(name), registry=registry)
        lossy = ", ".join(f"{count} {reason}" for reason, count in summary.lossy.items()) or "none"
        print(f"rendered in {name}: read {summary.read} = written {summary.written} + quarantined "
              f"{summary.quarantined}; lossy: {lossy} -> {target.relative_to(HERE.parent)}")

    print(f"\nrecord 1 in phi3 ({OUT.relative_to(HERE.parent)}/phi3.jsonl, line 2):")
    print((OUT / "phi3.jsonl").read_text(encoding="utf-8").splitlines()[1])


if __name__ == "__main__":
    main()
