"""``promptfmt tokenize``: a dataset rendered in a format, then as token ids, labels and attention
masks for training, written as JSON Lines or Parquet.

Exit codes as convert: 0 when every item was written, 1 when any was quarantined (invalid, not
renderable, over --max-length, nothing to train), 2 for usage errors (a tokenizer that cannot be
loaded, a missing library), 3 when a plugin fails.
"""

from __future__ import annotations

import typer

from ...conversion import plan
from ...format import Format
from ...io import STDOUT, DatasetReader
from ...records.layouts import TOKENS
from ...records.mapping import FieldMapping
from ...tokens import Labeler, TokenizeSummary, load_tokenizer, tokenize
from ..runs import check_options, counts, print_summary, writing
from ..shared import (
    DATASET_HELP,
    DROP_METADATA_OPTION,
    EXIT_DATA,
    FORMAT_FILE_OPTION,
    FROM_OPTION,
    INPUT_LAYOUT_OPTION,
    MAP_OPTION,
    OUTPUT_FORMAT_OPTION,
    OUTPUT_OPTION,
    PROFILE_OPTION,
    QUIET_OPTION,
    SUMMARY_JSON_OPTION,
    load_formats,
    lookup_format,
    plugin_command,
    terminated_as_interrupt,
    warn,
)

SHOWN_FINDINGS = 20

TRAIN_ON_HELP = (
    "What the model learns (the rest is -100 in labels): assistant, every assistant message with its end-of-turn "
    "text (default); last, the last assistant message; completion, everything after the prompt (the course's "
    "exercise 7.2); all, every token (the course's chapter 7)."
)


def tokenize_command(
    file: str = typer.Argument(..., help=DATASET_HELP),
    output: str = OUTPUT_OPTION,
    format_name: str = typer.Option(..., "--format", "-f", metavar="FORMAT", help="Render in this format before tokenizing."),
    tokenizer_path: str = typer.Option(
        ..., "--tokenizer", "-t", metavar="PATH",
        help="A tokenizer.json, a folder holding one (or GPT-2's vocab.json and merges.txt), or a tiktoken BPE file.",
    ),
    train_on: str = typer.Option("assistant", "--train-on", metavar="PART", help=TRAIN_ON_HELP),
    max_length: int | None = typer.Option(
        None, "--max-length", min=1, metavar="N",
        help="Most tokens per item. Longer items are quarantined (too-many-tokens), never cut, unless every token past N "
        "is untrained: then those are cut and counted.",
    ),
    eos_token: str | None = typer.Option(
        None, "--eos-token", metavar="TEXT",
        help="The end-of-sequence token, when the tokenizer's configuration names none or another.",
    ),
    prefix_check: bool = typer.Option(
        True, "--prefix-check/--no-prefix-check",
        help="Check that the text before every trained part, tokenized alone, begins the whole text's ids "
        "(reported as prefix-mismatch). It encodes those prompts once more.",
    ),
    source: str | None = FROM_OPTION,
    input_layout: str | None = INPUT_LAYOUT_OPTION,
    output_format: str | None = OUTPUT_FORMAT_OPTION,
    quarantine: str | None = typer.Option(
        None, "--quarantine", metavar="FILE",
        help="Write every item that was not tokenized, unchanged, with its reasons, to this JSON Lines file.",
    ),
    strict: bool = typer.Option(False, "--strict", help="Quarantine records the format cannot render losslessly."),
    drop_metadata: bool = DROP_METADATA_OPTION,
    maps: list[str] = MAP_OPTION,
    profile: str | None = PROFILE_OPTION,
    as_json: bool = SUMMARY_JSON_OPTION,
    quiet: bool = QUIET_OPTION,
    format_files: list[str] = FORMAT_FILE_OPTION,
) -> None:
    """Tokenize a dataset for training: input_ids, labels (-100 where nothing is learned) and attention_mask.

    Labels come from the rendering's segments through the tokenizer's offsets of the whole text.
    Special-token text inside messages is encoded as plain text. The format's BOS text wins over the
    tokenizer's own BOS; formats whose reference appends the EOS token (alpaca, alpaca-llmfs,
    phi3-llmfs) get the tokenizer's EOS id, trained. Exit 0 when everything was written, 1 when
    anything was quarantined, 2 for usage errors.
    """
    kind = check_options(file, output, quarantine, as_json, output_format, False)
    mapping = FieldMapping.build(profile, maps)
    registry, failures = load_formats(format_files)
    fmt = lookup_format(registry, failures, format_name)
    parser: Format | str | None = source if source in (None, "auto") else lookup_format(registry, failures, source)
    tokenizer = load_tokenizer(tokenizer_path, eos_token=eos_token)
    labeler = Labeler(tokenizer, train_on=train_on, append_eos=fmt.append_eos, check_prefix=prefix_check)
    with terminated_as_interrupt(), DatasetReader(file) as reader:
        chosen, items = plan(iter(reader), output_layout=TOKENS, target=fmt, source=parser, input_layout=input_layout,
                             registry=registry, strict=strict, drop_metadata=drop_metadata, mapping=mapping, tokens=True)
        for note in chosen.notes:
            warn(f"Warning: {note}")
        with writing(reader, output, kind, quarantine, quiet, "tokenizing") as scene:
            summary = tokenize(chosen, items, scene.sink.write, labeler, max_length=max_length, quarantine=scene.refuse,
                               registry=registry, progress=scene.update)
    _report(summary, reader.name, reader.unit, output, as_json)
    if not summary.ok:
        raise typer.Exit(EXIT_DATA)


def _report(summary: TokenizeSummary, source: str, unit: str, output: str, as_json: bool) -> None:
    if as_json:
        print_summary({"input": source, "output": output, **summary.as_dict()})
        return
    for issue in summary.shown[:SHOWN_FINDINGS]:
        warn(issue.format(source, unit))
    converted = summary.convert
    where = "<stdout>" if output == STDOUT else output
    lines = [
        f"{source} ({converted.input_layout}) -> {where} (tokens, {converted.target_format}, {summary.tokenizer})",
        f"read {converted.read:,} = written {converted.written:,} + quarantined {converted.quarantined:,}",
        f"tokens {summary.tokens:,}, trained {summary.trained_tokens:,} (--train-on {summary.train_on}), "
        f"longest {summary.longest:,}" + (f" (--max-length {summary.max_length:,})" if summary.max_length else ""),
    ]
    if converted.quarantined:
        lines.append(f"quarantined by reason: {counts(converted.quarantined_by_code)}")
    if converted.lossy_records:
        lines.append(f"lossy in the format, written anyway: {converted.lossy_records:,}: {counts(converted.lossy)}")
    found = summary.findings + converted.warnings
    if found:
        lines.append(f"warnings (written anyway): {counts(found)}")
    warn("\n".join(lines))


def register(app: typer.Typer) -> None:
    app.command("tokenize")(plugin_command(tokenize_command))
