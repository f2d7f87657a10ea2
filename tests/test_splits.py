"""Folds by case or patient, and the search split inside each fold."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from segnas.data.splits import make_splits
from segnas.errors import SegnasError


def _check(splits: dict, ids: list[str]) -> None:
    folds = splits["folds"]
    assert sorted(c for f in folds for c in f["val"]) == sorted(ids)  # every case validated exactly once
    for f in folds:
        assert not set(f["train"]) & set(f["val"])
        assert sorted(f["train"] + f["val"]) == sorted(ids)
        assert sorted(f["search_train"] + f["search_val"]) == sorted(f["train"])
        assert f["search_train"] and f["search_val"] or len(f["train"]) < 2
        assert not set(f["search_val"]) & set(f["val"])  # nothing that steers the search is validated on


@settings(max_examples=50, deadline=None)
@given(n=st.integers(2, 60), folds=st.integers(2, 8), seed=st.integers(0, 10**6))
def test_splits_partition_cases(n: int, folds: int, seed: int) -> None:
    """Every split that is made is a partition whose folds each train on ≥ 2 cases; the others are refused."""
    ids = [f"case_{i:03d}" for i in range(n)]
    if folds > n or n - -(-n // folds) < 2:
        with pytest.raises(SegnasError, match="cannot make|too few"):
            make_splits(ids, folds, seed)
        return
    splits = make_splits(ids, folds, seed)
    _check(splits, ids)
    assert len(splits["folds"]) == folds
    assert all(f["search_train"] and f["search_val"] for f in splits["folds"])


def test_too_small_datasets_are_named() -> None:
    """2 cases used to become 2 folds silently, and the search then failed on an empty split."""
    with pytest.raises(SegnasError, match=r"2 case\(s\) in 2 group\(s\) cannot make 5 folds: .*--num-folds 2"):
        make_splits(["a", "b"], 5)
    with pytest.raises(SegnasError, match=r"too few for 2 folds: a fold would train on 1 group"):
        make_splits(["a", "b", "c"], 2)
    assert len(make_splits(["a", "b", "c", "d"], 2)["folds"]) == 2


def test_stable_and_independent_of_listing_order() -> None:
    ids = [f"c{i}" for i in range(20)]
    assert make_splits(ids, 5, 3) == make_splits(list(reversed(ids)), 5, 3)
    assert make_splits(ids, 5, 3) != make_splits(ids, 5, 4)


def test_search_split_is_four_to_one() -> None:
    f = make_splits([f"c{i}" for i in range(25)], 5, 0)["folds"][0]
    assert (len(f["search_train"]), len(f["search_val"])) == (16, 4)


def test_patients_stay_on_one_side() -> None:
    ids = [f"acdc_patient{p:03d}_frame{f:02d}" for p in range(1, 13) for f in (1, 2)]
    splits = make_splits(ids, 4, 0, group_pattern=r"(patient\d+)")
    _check(splits, ids)
    for f in splits["folds"]:
        for part in ("val", "search_train", "search_val"):
            patients = {c.split("_")[1] for c in f[part]}
            others = {c.split("_")[1] for k in ("val", "search_train", "search_val") if k != part for c in f[k]}
            assert not patients & others
