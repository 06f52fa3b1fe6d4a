"""Golden strings of the built-in formats, copied from the reference each follows (named beside it).

The golden tests assert them (`tests/test_formats_golden.py` beside the records of the shared
reference data, `tests/test_fidelity.py`), and the built-ins' conformance classes
(`tests/test_builtin_conformance.py`) get them through the kit's ``golden=`` and
``golden_prompts=``, as a plugin author passes theirs.
"""

from __future__ import annotations

from promptfmt import Query, Record

# -- alpaca ------------------------------------------------------------------------------------------

# stanford_alpaca train.py PROMPT_DICT, as quoted in shared/data/stanford_alpaca/SOURCE.md
STANFORD_PROMPT_INPUT = (
    "Below is an instruction that describes a task, paired with an input that provides further context. "
    "Write a response that appropriately completes the request.\n\n"
    "### Instruction:\n{instruction}\n\n### Input:\n{input}\n\n### Response:"
)
STANFORD_PROMPT_NO_INPUT = (
    "Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n"
    "### Instruction:\n{instruction}\n\n### Response:"
)

# -- alpaca-llmfs and phi3-llmfs: LLMs-from-scratch ch07 ---------------------------------------------

# LLMs-from-scratch ch07 notebook output for data[50] and data[999] (SOURCE.md, literal strings)
LLMFS_50 = (
    "Below is an instruction that describes a task. Write a response that appropriately completes the request."
    "\n\n### Instruction:\nIdentify the correct spelling of the following word.\n\n### Input:\nOcassion"
    "\n\n### Response:\nThe correct spelling is 'Occasion.'"
)
LLMFS_999 = (
    "Below is an instruction that describes a task. Write a response that appropriately completes the request."
    "\n\n### Instruction:\nWhat is an antonym of 'complicated'?\n\n### Response:\nAn antonym of 'complicated' is 'simple'."
)
# exercise 7.1: the printed prompt of data[50], and the training text derived in SOURCE.md
PHI3_LLMFS_PROMPT_50 = "<|user|>\nIdentify the correct spelling of the following word.\nOcassion"
PHI3_LLMFS_TEXT_50 = (
    "<|user|>\nIdentify the correct spelling of the following word.\nOcassion\n<|assistant|>:\nThe correct spelling is 'Occasion.'"
)
# The course records data[50] and data[999] (instruction-data.json) that the strings above show.
COURSE_50 = Record(
    instruction="Identify the correct spelling of the following word.", input="Ocassion",
    output="The correct spelling is 'Occasion.'",
)
COURSE_999 = Record(instruction="What is an antonym of 'complicated'?", output="An antonym of 'complicated' is 'simple'.")

# -- vicuna: FastChat's conversation template ------------------------------------------------------

VICUNA_SYSTEM = (
    "A chat between a curious user and an artificial intelligence assistant. "
    "The assistant gives helpful, detailed, and polite answers to the user's questions."
)
# SOURCE.md: "{system} USER: {u1} ASSISTANT: {a1}</s>USER: {u2} ASSISTANT:", first turn
VICUNA_HELLO = Record(instruction="Hello!", output="Hello! How can I help?")
VICUNA_HELLO_TEXT = f"{VICUNA_SYSTEM} USER: Hello! ASSISTANT: Hello! How can I help?</s>"
VICUNA_HELLO_PROMPT = f"{VICUNA_SYSTEM} USER: Hello! ASSISTANT:"
VICUNA_PADDED = Record(instruction="Translate.", input="Hallo", output=" Hello ")
VICUNA_PADDED_TEXT = f"{VICUNA_SYSTEM} USER: Translate.\nHallo ASSISTANT:  Hello </s>"  # nothing is stripped

# -- mistral-v3: no verbatim template in the reference data -----------------------------------------

# mistralai/cookbook concept-deep-dive/tokenization/templates.md, Tokenizer V3 row (first turn)
MISTRAL_V3_HELLO = Record(instruction="Hello, how are you?", output="Fine, and you?")
MISTRAL_V3_HELLO_TEXT = "<s>[INST] Hello, how are you?[/INST] Fine, and you?</s>"
MISTRAL_V3_HELLO_PROMPT = "<s>[INST] Hello, how are you?[/INST]"
# Mistral-7B-Instruct-v0.3 discussion #37 (the V3 chat template update), first turn
MISTRAL_V3_HI = Record(instruction="Hello", output="Hi there!")
MISTRAL_V3_HI_TEXT = "<s>[INST] Hello[/INST] Hi there!</s>"


# -- what the conformance kit gets, per format -----------------------------------------------------

_ODD_ONE_OUT = Query(instruction="Identify the odd one out.", input="Twitter, Instagram, Telegram")

GOLDEN: dict[str, list[tuple[Record, str]]] = {
    "alpaca-llmfs": [(COURSE_50, LLMFS_50), (COURSE_999, LLMFS_999)],
    "phi3-llmfs": [(COURSE_50, PHI3_LLMFS_TEXT_50)],
    "vicuna": [(VICUNA_HELLO, VICUNA_HELLO_TEXT), (VICUNA_PADDED, VICUNA_PADDED_TEXT)],
    "mistral-v3": [(MISTRAL_V3_HELLO, MISTRAL_V3_HELLO_TEXT), (MISTRAL_V3_HI, MISTRAL_V3_HI_TEXT)],
}
GOLDEN_PROMPTS: dict[str, list[tuple[Query, str]]] = {
    "alpaca": [
        (_ODD_ONE_OUT, STANFORD_PROMPT_INPUT.format(instruction=_ODD_ONE_OUT.instruction, input=_ODD_ONE_OUT.input)),
        (Query(instruction=COURSE_999.instruction), STANFORD_PROMPT_NO_INPUT.format(instruction=COURSE_999.instruction)),
    ],
    "phi3-llmfs": [(Query(instruction=COURSE_50.instruction, input=COURSE_50.input), PHI3_LLMFS_PROMPT_50)],
    "vicuna": [(Query(instruction=VICUNA_HELLO.instruction), VICUNA_HELLO_PROMPT)],
    "mistral-v3": [(Query(instruction=MISTRAL_V3_HELLO.instruction), MISTRAL_V3_HELLO_PROMPT)],
}
