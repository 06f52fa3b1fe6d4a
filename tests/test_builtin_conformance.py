"""The built-in formats through the conformance kit, exactly as a plugin author runs it on a format.

One `promptfmt.testing.conformance_suite` class per built-in format: docs/architecture.md, "Properties",
properties 1-6 on Hypothesis-generated records (round trips, verdicts that are never wrong, rejected
text naming an offset, the prompt a prefix of the text, empty input, the fast paths, conversion to
and from the built-ins), plus the golden strings copied from each format's reference
(`tests/golden.py`). The golden tests against the reference data itself are in
`test_formats_golden.py` and `test_fidelity.py`.

Property 6 between any two built-ins is one test that draws the pair: the number of tests does not
grow with the square of the number of formats.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from promptfmt.testing import FormatConformance, conformance_suite, prop_conversion

from .golden import GOLDEN, GOLDEN_PROMPTS
from .helpers import builtin, builtin_formats, builtin_registry
from .strategies import format_pairs, record_strategy

TestAlpaca = conformance_suite(builtin("alpaca"), golden_prompts=GOLDEN_PROMPTS["alpaca"])
TestAlpacaLlmfs = conformance_suite(builtin("alpaca-llmfs"), golden=GOLDEN["alpaca-llmfs"])
TestPhi3 = conformance_suite(builtin("phi3"))
TestPhi3Llmfs = conformance_suite(
    builtin("phi3-llmfs"), golden=GOLDEN["phi3-llmfs"], golden_prompts=GOLDEN_PROMPTS["phi3-llmfs"]
)
TestChatml = conformance_suite(builtin("chatml"))
TestQwen2 = conformance_suite(builtin("qwen2"))
TestQwen25 = conformance_suite(builtin("qwen2.5"))
TestQwen3 = conformance_suite(builtin("qwen3"))
TestSmollm3 = conformance_suite(builtin("smollm3"))
TestLlama2 = conformance_suite(builtin("llama2"))
TestLlama3 = conformance_suite(builtin("llama3"))
TestLlama31 = conformance_suite(builtin("llama3.1"))
TestMistral = conformance_suite(builtin("mistral"))
TestMistralV01 = conformance_suite(builtin("mistral-v0.1"))
TestMistralV3 = conformance_suite(
    builtin("mistral-v3"), golden=GOLDEN["mistral-v3"], golden_prompts=GOLDEN_PROMPTS["mistral-v3"]
)
TestZephyr = conformance_suite(builtin("zephyr"))
TestGemma = conformance_suite(builtin("gemma"))
TestGemma3 = conformance_suite(builtin("gemma3"))
TestPhi4 = conformance_suite(builtin("phi4"))
TestPhi4Mini = conformance_suite(builtin("phi4-mini"))
TestMistralNemo = conformance_suite(builtin("mistral-nemo"))
TestVicuna = conformance_suite(builtin("vicuna"), golden=GOLDEN["vicuna"], golden_prompts=GOLDEN_PROMPTS["vicuna"])


def test_every_builtin_format_has_its_conformance_class():
    """A built-in format added without a class above fails here, not silently untested."""
    classes = [value for name, value in globals().items()
               if name.startswith("Test") and isinstance(value, type) and issubclass(value, FormatConformance)]
    assert sorted(cls.format.name for cls in classes) == sorted(builtin_registry().names())
    assert len(classes) == len(builtin_formats())  # one class each
    assert set(GOLDEN) | set(GOLDEN_PROMPTS) <= set(builtin_registry().names())  # no golden string left unused


# Every pair used to be a test of its own (240 pairs x max_examples // 6 examples): one drawn pair
# per example keeps that many examples in all, and their number no longer grows with the formats.
@settings(max_examples=settings.default.max_examples * 40)
@given(pair=format_pairs(builtin_formats()), data=st.data())
def test_conversion_between_any_two_formats_gives_the_record_back(pair, data):
    """Property 6: A -> B -> A gives the record back when it is lossless in both."""
    source, target = pair
    record = data.draw(record_strategy(source), "record")
    prop_conversion(source, target, record)
    if source.check(record).lossless and target.check(record).lossless:
        in_target = target.parse(target.render(source.parse(source.render(record).text)).text)
        assert source.parse(source.render(in_target).text) == record, (source.name, target.name)
