"""``validate`` over every instruction dataset in ../shared/data, asserting what a careful reading shows.

The expected findings were written down from inspecting each file independently of promptfmt (a
plain ``json`` script counting empty, null and padded fields, exact and prompt-level duplicates,
extra keys, ``{{...}}`` and template markers), and from each folder's SOURCE.md where it states
them (LLaMA-Factory's "14 exact duplicate records", "{{name}} and {{author}} placeholders in 85 of
the 91 outputs"; the Dolly-derived file "already rendered with the Alpaca template"; the course's
``eval-example-data.json`` "keys contain spaces; values start with \\n"). The tests skip when the
folder is absent.
"""

from __future__ import annotations

import collections
import json
from pathlib import Path

import jsonschema
import pytest

from promptfmt import Report, validate
from promptfmt.formats.alpaca import ALPACA, ALPACA_LLMFS
from promptfmt.formats.phi3 import PHI3, PHI3_LLMFS

ROOT = Path(__file__).resolve().parents[1]
REPORT_SCHEMA = json.loads((ROOT / "schemas" / "report.schema.json").read_text("utf-8"))
# The built-in formats of the first release: the markers asserted below are theirs, so formats
# added later cannot change these counts.
FORMATS = (ALPACA, ALPACA_LLMFS, PHI3, PHI3_LLMFS)

# file -> (records, counts per code) with the default options.
EXPECTED: dict[str, tuple[int, dict[str, int]]] = {
    "alpaca_data_cleaned/eval_template_alpaca.json": (1, {"missing-field": 2, "unknown-field": 4}),
    "alpaca_data_cleaned/schema.json": (1, {"missing-field": 2, "unknown-field": 4}),
    "alpaca_data_cleaned/gpteacher_roleplay-simple-deduped-roleplay-dataset.json": (3146, {"surrounding-whitespace": 2}),
    "alpaca_data_cleaned/gpteacher_toolformer-dedupe-only-dataset.json": (
        7673, {"unknown-field": 1, "surrounding-whitespace": 1}),
    "alpaca_data_cleaned/gsm_8k_train.json": (7473, {}),
    "codealpaca/code_alpaca_2k.json": (2017, {"empty-output": 2, "placeholder": 2}),
    "codealpaca/new_codealpaca.json": (4535, {"unknown-field": 4535, "surrounding-whitespace": 72}),
    "codealpaca/seed_tasks.jsonl": (21, {"missing-field": 21, "unknown-field": 84}),
    "dolly_derived_triforce/dolly.jsonl": (151, {"missing-field": 302, "unknown-field": 302}),
    "fastchat_sharegpt/dummy_conversation.json": (500, {}),  # 500 conversations in order, none repeated
    "gpt4_llm/user_oriented_instructions.jsonl": (252, {"missing-field": 252, "unknown-field": 756}),
    "gpt4_llm/vicuna_question_80.jsonl": (80, {"missing-field": 160, "unknown-field": 240}),
    "llama_factory_demo/alpaca_en_demo.json": (999, {"duplicate-record": 14}),
    "llama_factory_demo/alpaca_zh_demo.json": (1000, {"surrounding-whitespace": 43, "duplicate-record": 8}),
    "llama_factory_demo/identity.json": (91, {"placeholder": 85, "duplicate-prompt": 2}),
    "rasbt_llms_from_scratch_ch07/eval-example-data.json": (100, {"unknown-field": 200}),
    "rasbt_llms_from_scratch_ch07/instruction-data-llama3-7b.json": (5, {"wrong-type": 1, "empty-output": 1}),
    "rasbt_llms_from_scratch_ch07/instruction-data-with-preference.json": (
        1100, {"unknown-field": 2200, "duplicate-prompt": 25}),
    "rasbt_llms_from_scratch_ch07/instruction-data-with-response.json": (
        110, {"unknown-field": 110, "duplicate-prompt": 1}),
    "rasbt_llms_from_scratch_ch07/instruction-data.json": (1100, {"duplicate-prompt": 25}),
    "rasbt_llms_from_scratch_ch07/instruction-examples-modified.json": (
        200, {"unknown-field": 200, "duplicate-record": 1}),
    "rasbt_llms_from_scratch_ch07/instruction-examples.json": (200, {"duplicate-record": 1}),
    "stanford_alpaca/seed_tasks.jsonl": (175, {"missing-field": 175, "unknown-field": 700}),
    "torchtune_alpaca_tiny/alpaca_tiny.json": (100, {"unknown-field": 100}),
    "unsloth_alpaca/alpaca_unsloth.json": (257, {"empty-instruction": 219}),
}

# The course's 25 repeated prompts (same instruction and input, another output): (record, earlier).
COURSE_REPEATED_PROMPTS = [
    (323, 125), (429, 43), (443, 119), (472, 336), (480, 308), (492, 125), (493, 312), (623, 312), (654, 451),
    (677, 278), (695, 509), (750, 281), (784, 193), (811, 281), (812, 724), (829, 83), (834, 783), (884, 223),
    (894, 694), (975, 355), (1034, 355), (1050, 719), (1060, 708), (1068, 29), (1090, 281),
]


def check(shared_data: Path, name: str, **options) -> Report:
    return validate(str(shared_data / name), registry=FORMATS, **options)


def by_code(report: Report, code: str) -> list:
    return [issue for issue in report.issues if issue.code == code]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_counts_per_code_on_every_dataset(shared_data, name):
    report = check(shared_data, name)
    records, counts = EXPECTED[name]
    assert (report.records, report.counts) == (records, counts)
    assert report.records == report.valid + report.invalid
    assert all(issue.line is not None and issue.record is not None for issue in report.issues)
    jsonschema.Draft202012Validator(REPORT_SCHEMA).validate(json.loads(report.to_json()))


def test_every_data_file_is_covered(shared_data):
    """A dataset added to ../shared/data must be inspected and written down above."""
    files = {str(p.relative_to(shared_data)) for p in shared_data.rglob("*.json*") if not {"chat_templates", "tokenizers"} & set(p.parts)}
    assert files == set(EXPECTED)


def test_llama_factory_duplicates_are_the_14_said_in_source_md(shared_data):
    report = check(shared_data, "llama_factory_demo/alpaca_en_demo.json")
    assert [(i.record, i.related) for i in report.issues] == [
        (275, 117), (508, 398), (546, 387), (568, 352), (591, 100), (610, 92), (646, 146), (700, 542), (702, 484),
        (745, 506), (771, 614), (847, 398), (866, 170), (894, 853)]
    assert report.issues[0].line == 1377 and "as record 117" in report.issues[0].message
    chinese = check(shared_data, "llama_factory_demo/alpaca_zh_demo.json")
    assert [(i.record, i.related) for i in by_code(chinese, "duplicate-record")] == [
        (516, 140), (597, 575), (611, 115), (779, 174), (781, 181), (879, 392), (907, 266), (996, 986)]
    padded = by_code(chinese, "surrounding-whitespace")
    assert {i.field for i in padded} == {"instruction"} and all('trailing " "' in i.message for i in padded)
    assert [i.record for i in padded][:5] == [60, 71, 75, 102, 121]


def test_identity_placeholders_in_85_of_91_outputs(shared_data):
    report = check(shared_data, "llama_factory_demo/identity.json")
    placeholders = by_code(report, "placeholder")
    assert sorted(set(range(91)) - {i.record for i in placeholders}) == [74, 82, 83, 84, 85, 86]
    assert {i.field for i in placeholders} == {"output"}
    assert "'{{name}}'" in placeholders[0].message and "{{author}}" in placeholders[0].message
    assert [(i.record, i.related) for i in by_code(report, "duplicate-prompt")] == [(17, 16), (61, 20)]


def test_the_course_null_instruction_and_empty_output(shared_data):
    name = "rasbt_llms_from_scratch_ch07/instruction-data-llama3-7b.json"
    report = check(shared_data, name)
    assert [(i.record, i.line, i.field, i.code) for i in report.issues] == [
        (2, 10, "instruction", "wrong-type"), (2, 10, "output", "empty-output")]
    assert "null" in report.issues[0].message and "--null-as-empty" in report.issues[0].message
    assert (report.valid, report.invalid) == (4, 1)
    opted = check(shared_data, name, null_as_empty=True)
    assert [i.code for i in opted.issues] == ["empty-instruction", "empty-output"]


def test_the_course_repeated_prompts_and_duplicates(shared_data):
    for name in ("instruction-data.json", "instruction-data-with-preference.json"):
        report = check(shared_data, f"rasbt_llms_from_scratch_ch07/{name}", ignore=["unknown-field"])
        assert [(i.record, i.related) for i in report.issues] == COURSE_REPEATED_PROMPTS
    for name, line in (("instruction-examples.json", 372), ("instruction-examples-modified.json", 446)):
        report = check(shared_data, f"rasbt_llms_from_scratch_ch07/{name}", ignore=["unknown-field"])
        assert [(i.record, i.line, i.related, i.code) for i in report.issues] == [(74, line, 73, "duplicate-record")]
    preference = check(shared_data, "rasbt_llms_from_scratch_ch07/instruction-data-with-preference.json")
    assert collections.Counter(i.field for i in by_code(preference, "unknown-field")) == {"chosen": 1100, "rejected": 1100}


def test_keys_with_spaces_and_model_responses_that_leaked_the_template(shared_data):
    name = "rasbt_llms_from_scratch_ch07/eval-example-data.json"
    report = check(shared_data, name)
    assert collections.Counter(i.field for i in report.issues) == {"model 1 response": 100, "model 2 response": 100}
    assert all("contains spaces" in i.message for i in report.issues)
    model = check(shared_data, name, mapping=["output=model 1 response"], ignore=["unknown-field"])
    assert model.counts == {"surrounding-whitespace": 100, "template-marker": 5}
    assert all('leading "\\n"' in i.message for i in by_code(model, "surrounding-whitespace"))
    assert [i.record for i in by_code(model, "template-marker")] == [34, 52, 53, 73, 99]
    assert all(i.field == "model 1 response" and '"### Response:"' in i.message for i in by_code(model, "template-marker"))

    responses = check(shared_data, "rasbt_llms_from_scratch_ch07/instruction-data-with-response.json",
                      mapping=["output=model_response"], ignore=["unknown-field"])
    markers = by_code(responses, "template-marker")
    assert [(i.record, i.field) for i in markers] == [(49, "model_response"), (92, "model_response")]
    assert '"### Input:"' in markers[0].message and '"### Instruction:"' in markers[1].message
    assert [(i.record, i.related) for i in by_code(responses, "duplicate-record")] == [(99, 40)]


def test_text_already_rendered_in_alpaca(shared_data):
    dolly = "dolly_derived_triforce/dolly.jsonl"
    plain = check(shared_data, dolly)
    hints = {i.field: i.message for i in plain.issues[:2]}
    assert "--map instruction=prompt" in hints["instruction"] and "--map output=answer" in hints["output"]
    mapped = check(shared_data, dolly, mapping=["instruction=prompt", "output=answer"])
    assert mapped.counts == {"template-marker": 151, "placeholder": 151} and mapped.ok
    markers = by_code(mapped, "template-marker")
    assert {i.field for i in markers} == {"prompt"} and all(i.message.count("alpaca") >= 1 for i in markers)
    # 47 prompts carry a Dolly context: preamble, ### Instruction:, ### Input: and ### Response:
    assert collections.Counter(i.message.split("(and ")[1][0] for i in markers) == {"2": 104, "3": 47}
    eos = by_code(mapped, "placeholder")
    assert {i.field for i in eos} == {"answer"} and all("'###eos_token###'" in i.message for i in eos)

    tiny = check(shared_data, "torchtune_alpaca_tiny/alpaca_tiny.json")
    assert {i.field for i in tiny.issues} == {"text"}
    assert all("markers of format alpaca" in i.message for i in tiny.issues)


def test_extra_keys_equal_to_a_field_and_padded_code(shared_data):
    report = check(shared_data, "codealpaca/new_codealpaca.json")
    unknown = by_code(report, "unknown-field")
    assert {i.field for i in unknown} == {"response"} and all("equals output" in i.message for i in unknown)
    padded = collections.Counter(i.field for i in by_code(report, "surrounding-whitespace"))
    assert padded == {"instruction": 11, "input": 30, "output": 31}
    small = check(shared_data, "codealpaca/code_alpaca_2k.json")
    assert [(i.record, i.code) for i in small.issues] == [
        (237, "empty-output"), (1643, "placeholder"), (1859, "empty-output"), (1883, "placeholder")]
    assert "'{{ user.name }}'" in small.issues[1].message and "'{{book.title}}'" in small.issues[3].message


def test_gpteacher_padding_and_the_one_extra_key(shared_data):
    roleplay = check(shared_data, "alpaca_data_cleaned/gpteacher_roleplay-simple-deduped-roleplay-dataset.json")
    assert [(i.record, i.field) for i in roleplay.issues] == [(1976, "output"), (2851, "output")]
    tools = check(shared_data, "alpaca_data_cleaned/gpteacher_toolformer-dedupe-only-dataset.json")
    assert [(i.record, i.field, i.code) for i in tools.issues] == [
        (4069, "example_input", "unknown-field"), (6137, "instruction", "surrounding-whitespace")]
    gsm = check(shared_data, "alpaca_data_cleaned/gsm_8k_train.json")
    assert gsm.clean == gsm.records == 7473


def test_unsloth_questions_in_the_input_field(shared_data):
    name = "unsloth_alpaca/alpaca_unsloth.json"
    report = check(shared_data, name)
    assert report.counts == {"empty-instruction": 219}
    assert all("pass --swap-when-empty" in i.message for i in report.issues)
    assert report.issues[0].line == 2
    # the 38 other records have both ("Answer the question about Unsloth:", the question): --map would
    # swap them too; the option reads input as the instruction of the 219 empty ones only
    swapped = check(shared_data, name, swap_when_empty=True)
    assert (swapped.swapped, swapped.ok) == (219, True)
    assert [(i.record, i.related, i.code) for i in swapped.issues] == [(156, 1, "duplicate-prompt"),
                                                                       (255, 0, "duplicate-prompt")]


def test_other_layouts_are_named(shared_data):
    sharegpt = check(shared_data, "fastchat_sharegpt/dummy_conversation.json")
    assert all("ShareGPT" in i.message for i in by_code(sharegpt, "missing-field"))
    for name in ("stanford_alpaca/seed_tasks.jsonl", "codealpaca/seed_tasks.jsonl",
                 "gpt4_llm/user_oriented_instructions.jsonl"):
        missing = by_code(check(shared_data, name), "missing-field")
        assert {i.field for i in missing} == {"output"} and all("self-instruct" in i.message for i in missing)
    questions = check(shared_data, "gpt4_llm/vicuna_question_80.jsonl")
    assert "--map instruction=text" in questions.issues[0].message
    template = check(shared_data, "alpaca_data_cleaned/eval_template_alpaca.json")
    assert template.issues[0].line == 1 and "prompt_input" in template.issues[0].message
