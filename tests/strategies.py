"""Hypothesis strategies of the test suite, in one place.

Record and text strategies per format come from the conformance kit (`promptfmt.testing`), so the
built-ins are tested with exactly what plugin authors get. This module adds JSON documents: valid
records, near-records and arbitrary JSON values, for the schema and validation tests.
"""

from __future__ import annotations

from hypothesis import strategies as st

from promptfmt.testing import content_strategy, record_strategy, text_strategy

__all__ = ["content_strategy", "json_documents", "json_scalars", "json_values", "record_strategy", "text_strategy"]

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**53), max_value=2**53),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=8),
)

json_values = st.recursive(
    json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.dictionaries(st.text(max_size=6), children, max_size=3),
    ),
    max_leaves=8,
)

_field_names = st.sampled_from(["instruction", "input", "output"])
_keys = st.one_of(_field_names, st.sampled_from(["response", "context", "model response", "id", ""]), st.text(max_size=6))

# Objects that look like records: each of the three fields present or not, a string or any JSON value.
record_like = st.dictionaries(
    _keys,
    st.one_of(st.text(max_size=10), json_values),
    max_size=5,
).flatmap(
    lambda extra: st.fixed_dictionaries(
        {},
        optional={
            "instruction": st.one_of(st.text(max_size=10), json_scalars),
            "input": st.one_of(st.text(max_size=10), json_scalars),
            "output": st.one_of(st.text(max_size=10), json_scalars),
        },
    ).map(lambda fields: {**extra, **fields})
)

json_documents = st.one_of(record_like, json_values)
