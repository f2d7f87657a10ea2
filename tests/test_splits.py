"""Folds by case or patient, and the search split inside each fold."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from segnas.splits import make_splits


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
    ids = [f"case_{i:03d}" for i in range(n)]
    _check(make_splits(ids, folds, seed), ids)


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
