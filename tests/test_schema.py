"""The record JSON Schema: generated from the pydantic model, checked in, and in agreement with it."""

from __future__ import annotations

import json

import jsonschema
import pytest
from hypothesis import given
from pydantic import ValidationError

from promptfmt import Record, schemas
from promptfmt.conversation import Conversation, order_problems
from promptfmt.records.fields import to_record

from .strategies import conversation_documents, json_documents

RECORD_SCHEMA = json.loads((schemas.source_dir() / "record.schema.json").read_text("utf-8"))
VALIDATOR = jsonschema.Draft202012Validator(RECORD_SCHEMA)


CONVERSATION_VALIDATOR = jsonschema.Draft202012Validator(
    json.loads((schemas.source_dir() / "conversation.schema.json").read_text("utf-8")))


def test_checked_in_schemas_match_the_models():
    stale = schemas.drifted()
    assert not stale, f"{stale} drifted from the pydantic models. Regenerate with: {schemas.REGENERATE}"


def test_drift_is_detected_with_the_command_in_the_message(tmp_path):
    schemas.write(tmp_path)
    assert schemas.drifted(tmp_path) == []
    path = tmp_path / "record.schema.json"
    path.write_text(path.read_text().replace('"string"', '"integer"', 1))
    assert schemas.drifted(tmp_path) == ["record.schema.json"]


def test_schema_is_valid_2020_12_and_keeps_metadata():
    jsonschema.Draft202012Validator.check_schema(RECORD_SCHEMA)
    assert RECORD_SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert RECORD_SCHEMA["required"] == ["instruction", "output"]
    assert RECORD_SCHEMA["additionalProperties"] is True


def pydantic_accepts(document) -> bool:
    try:
        Record.model_validate(document)
    except ValidationError:
        return False
    return True


@given(document=json_documents)
def test_jsonschema_and_pydantic_accept_the_same_documents(document):
    """docs/architecture.md, "Properties", property 7 (a differential test on generated JSON values)."""
    schema_accepts = VALIDATOR.is_valid(document)
    assert schema_accepts == pydantic_accepts(document), document
    # the fast loader used on the hot path agrees too
    assert schema_accepts == isinstance(to_record(document), Record), document


@pytest.mark.parametrize(
    ("document", "valid"),
    [
        ({"instruction": "a", "output": "b"}, True),
        ({"instruction": "a", "input": "", "output": "b", "id": 7, "tags": ["x"]}, True),
        ({"instruction": "a", "input": None, "output": "b"}, False),
        ({"instruction": "a", "output": 5}, False),
        ({"instruction": "a"}, False),
        (["instruction"], False),
    ],
)
def test_examples(document, valid):
    assert VALIDATOR.is_valid(document) is valid
    assert pydantic_accepts(document) is valid


def test_metadata_is_kept_apart_and_in_order():
    record = Record.model_validate({"id": 3, "instruction": "a", "output": "b", "source": "x"})
    assert record.metadata == {"id": 3, "source": "x"}
    assert record.fields() == {"instruction": "a", "input": "", "output": "b"}
    fast = to_record({"id": 3, "instruction": "a", "output": "b", "source": "x"})
    assert fast == record and fast.metadata == record.metadata


def test_null_is_a_wrong_type_with_a_hint_unless_opted_in():
    problems = to_record({"instruction": "a", "input": None, "output": "b"})
    assert [(p.code, p.field) for p in problems] == [("wrong-type", "input")]
    assert "null" in problems[0].message and '""' in problems[0].message
    assert to_record({"instruction": "a", "input": None, "output": "b"}, null_as_empty=True) == Record(
        instruction="a", output="b"
    )


def _roles(document) -> list | None:
    messages = document.get("messages") if isinstance(document, dict) else None
    if not isinstance(messages, list) or not messages:
        return None
    roles = [message.get("role") if isinstance(message, dict) else None for message in messages]
    return roles if all(isinstance(role, str) for role in roles) else None


@given(document=conversation_documents)
def test_the_conversation_schema_and_model_agree_on_every_document(document):
    """Property 7 for conversations: the schema states the shape; the order of the roles, which JSON
    Schema cannot state, is refused by the model with its reason, whatever the schema says."""
    try:
        Conversation.model_validate(document)
        model_accepts = True
    except ValidationError as error:
        model_accepts, message = False, str(error)
    roles = _roles(document)
    problems = order_problems(roles) if roles is not None else []
    if problems:
        assert not model_accepts and problems[0].code in message
    else:
        assert CONVERSATION_VALIDATOR.is_valid(document) == model_accepts, document
