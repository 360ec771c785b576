"""The json codec of every connection: what it writes and reads is what json.dumps and json.loads do."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st

from db.pool import decode_json, encode_json

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()  # beyond 64 bits too: orjson refuses those, json.dumps writes them
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text() | st.integers(min_value=-(2**63), max_value=2**63 - 1), inner, max_size=4)
    ),
    max_leaves=20,
)


@given(VALUES)
def test_what_is_written_reads_back_as_json_dumps_would_have_it(value: Any) -> None:
    assert json.loads(encode_json(value)) == json.loads(json.dumps(value))


@given(VALUES)
@example(-(2**63) - 1)  # 19 digits, below what orjson reads as an integer: it gave a float
@example(2**64)
@example([2**63 - 1, -(2**63)])
def test_what_is_read_is_what_json_loads_reads(value: Any) -> None:
    text = json.dumps(value)
    assert decode_json(text) == json.loads(text)
