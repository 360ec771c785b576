"""Seed 003: rotate to owner: eligible owners, the lowest count first, ties at random, resets."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from domain.records import TeamMember
from domain.rotation import (
    choose_owner,
    counts_after_assignment,
    counts_after_owner_list_change,
    counts_for,
    eligible_owners,
    should_rotate,
)

ACTIVE = {1, 2, 3, 4, 5}


def rotate(records: int, owners: list[int], rng: random.Random) -> tuple[list[int], dict[int, int]]:
    counts = counts_for(owners, {})
    chosen = []
    for _ in range(records):
        owner = choose_owner(counts, rng)
        counts = counts_after_assignment(counts, owner)
        chosen.append(owner)
    return chosen, counts


def test_nine_records_through_three_owners_give_each_three() -> None:
    chosen, counts = rotate(9, [1, 2, 3], random.Random(0))
    assert counts == {1: 3, 2: 3, 3: 3}
    assert Counter(chosen) == Counter({1: 3, 2: 3, 3: 3})


@pytest.mark.parametrize("seed", range(20))
@pytest.mark.parametrize("owners", [1, 2, 3, 5, 7])
@pytest.mark.parametrize("records", [0, 1, 2, 6, 9, 10, 31])
def test_n_records_over_k_owners_leave_counts_differing_by_at_most_one(
    records: int, owners: int, seed: int
) -> None:
    _, counts = rotate(records, list(range(1, owners + 1)), random.Random(seed))
    assert sum(counts.values()) == records
    assert max(counts.values()) - min(counts.values()) <= 1


def test_after_the_first_record_the_next_goes_to_an_owner_with_none_yet() -> None:
    rng = random.Random(3)
    first = choose_owner({1: 0, 2: 0, 3: 0}, rng)
    counts = counts_after_assignment({1: 0, 2: 0, 3: 0}, first)
    assert choose_owner(counts, rng) != first


@pytest.mark.parametrize("seed", range(10))
def test_the_owner_with_the_lowest_count_gets_the_next_record(seed: int) -> None:
    assert choose_owner({1: 4, 2: 1, 3: 2}, random.Random(seed)) == 2


def test_ties_for_the_lowest_count_are_broken_at_random() -> None:
    picks = {choose_owner({1: 0, 2: 0, 3: 5}, random.Random(seed)) for seed in range(50)}
    assert picks == {1, 2}


def test_the_same_seed_chooses_the_same_owner() -> None:
    counts = {7: 0, 8: 0, 9: 0}
    assert choose_owner(counts, random.Random(42)) == choose_owner(counts, random.Random(42))


def test_a_rotation_without_eligible_owners_cannot_choose() -> None:
    with pytest.raises(ValueError, match="at least one eligible owner"):
        choose_owner({}, random.Random(0))


@pytest.mark.parametrize(
    ("chosen", "expected"),
    [
        ([3, 1, 2], (1, 2, 3)),
        ([1, 1, 2], (1, 2)),
        ([1, 9], (1,)),  # 9 is deactivated
        ([], ()),
    ],
)
def test_chosen_users_are_eligible_only_while_active(chosen: list[int], expected: tuple[int, ...]) -> None:
    assert eligible_owners(chosen, ACTIVE) == expected


def test_a_team_rotates_only_among_its_primary_members() -> None:
    team = [TeamMember(1, 1, True), TeamMember(1, 2, False), TeamMember(1, 3, True), TeamMember(1, 4, False)]
    assert eligible_owners(team, ACTIVE) == (1, 3)


def test_a_deactivated_primary_member_is_not_rotated_to() -> None:
    assert eligible_owners([TeamMember(1, 1, True), TeamMember(1, 9, True)], ACTIVE) == (1,)


def test_additional_team_members_join_a_rotation_only_when_chosen_as_specific_people() -> None:
    members = [TeamMember(1, 1, True), TeamMember(1, 2, False)]
    assert eligible_owners([m.user_id for m in members], ACTIVE) == (1, 2)


@pytest.mark.parametrize(
    ("current_owner", "overwrite", "rotates"),
    [(None, False, True), (None, True, True), (5, False, False), (5, True, True)],
)
def test_records_that_already_have_an_owner_are_skipped_unless_overwrite_is_on(
    current_owner: int | None, overwrite: bool, rotates: bool
) -> None:
    assert should_rotate(current_owner, overwrite) is rotates


def test_an_owner_new_to_the_action_starts_at_zero_and_a_dropped_one_is_left_out() -> None:
    assert counts_for([1, 2, 4], {1: 3, 2: 2, 3: 7}) == {1: 3, 2: 2, 4: 0}


@pytest.mark.parametrize(
    ("old", "new"),
    [([1, 2, 3], [1, 2]), ([1, 2], [1, 2, 3]), ([1, 2, 3], [1, 2, 4]), ([1], [])],
)
def test_changing_the_actions_owner_list_resets_its_counts(old: list[int], new: list[int]) -> None:
    assert counts_after_owner_list_change(old, new, {1: 5, 2: 4, 3: 4}) == dict.fromkeys(new, 0)


def test_reordering_the_actions_owners_keeps_its_counts() -> None:
    assert counts_after_owner_list_change([1, 2, 3], [3, 1, 2], {1: 5, 2: 4, 3: 4}) == {1: 5, 2: 4, 3: 4}


def test_after_a_reset_new_records_are_spread_evenly_whatever_was_assigned_before() -> None:
    counts = counts_after_owner_list_change([1, 2], [1, 2, 3], {1: 10, 2: 10})
    rng = random.Random(1)
    for _ in range(6):
        counts = counts_after_assignment(counts, choose_owner(counts, rng))
    assert counts == {1: 2, 2: 2, 3: 2}
