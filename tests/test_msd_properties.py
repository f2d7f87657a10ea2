"""Property: any dataset.json, however malformed, gives a spec or a list of problems naming the file — never a crash."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from segnas.data.msd import parse_dataset

json_values = st.recursive(st.none() | st.booleans() | st.integers(-3, 300) | st.floats(allow_nan=False) | st.text(max_size=12),
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                           max_leaves=12)
keys = st.sampled_from(["name", "modality", "channel_names", "labels", "training", "test", "numTraining", "tensorImageSize"])
entries = st.fixed_dictionaries({"image": st.text(max_size=10) | json_values, "label": st.text(max_size=10) | json_values})
plausible = st.fixed_dictionaries({
    "modality": st.dictionaries(st.sampled_from(["0", "1", "x", "-1"]), st.text(max_size=5) | json_values, max_size=3) | json_values,
    "labels": st.dictionaries(st.sampled_from(["0", "1", "2", "1.5", "note"]), st.text(max_size=5) | json_values, max_size=3) | json_values,
    "training": st.lists(entries | json_values, max_size=3) | json_values,
    "numTraining": st.integers(-1, 5) | json_values,
    "test": st.lists(st.text(max_size=5) | json_values, max_size=2) | json_values,
})
documents = plausible | st.dictionaries(keys, json_values, max_size=6) | json_values


@pytest.mark.slow
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents)
@example({"modality": {}, "labels": {"²": None}, "training": [], "numTraining": 0, "test": []})  # '²'.isdigit() is True
def test_any_dataset_json_gives_a_spec_or_named_problems(doc: object) -> None:
    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        (root / "dataset.json").write_text(json.dumps(doc))
        spec, problems = parse_dataset(root)
        assert spec is not None or problems
        for p in problems:
            assert p.path == str(root / "dataset.json") and p.message


@settings(max_examples=50, deadline=None)
@given(st.binary(max_size=40))
def test_any_bytes_give_named_problems(raw: bytes) -> None:
    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        (root / "dataset.json").write_bytes(raw)
        spec, problems = parse_dataset(root)
        assert spec is not None or problems
