"""Seeds 002, 004: stage order, manual changes, creation defaults and default settings (automation: tests/db)."""

from __future__ import annotations

import itertools

import pytest

from domain.codes import RuleCode
from domain.lifecycle import (
    ORDER,
    ChangeSource,
    LifecycleSettings,
    LifecycleStage,
    creation_stage,
    manual_change_allowed,
    manual_change_blocker,
    rank,
)

L = LifecycleStage
SRC = ChangeSource
STAGES = list(L)
MAYBE: list[LifecycleStage | None] = [None, *STAGES]
PAIRS = list(itertools.product(STAGES, STAGES))
FORWARD = [(a, b) for a, b in PAIRS if rank(b) > rank(a)]
BACKWARD = [(a, b) for a, b in PAIRS if rank(b) < rank(a)]
SAME = [(a, a) for a in STAGES]
DEFAULTS = LifecycleSettings()


def test_stages_run_from_subscriber_to_other_in_display_order() -> None:
    assert ORDER == (
        L.SUBSCRIBER,
        L.LEAD,
        L.MARKETING_QUALIFIED_LEAD,
        L.SALES_QUALIFIED_LEAD,
        L.OPPORTUNITY,
        L.CUSTOMER,
        L.EVANGELIST,
        L.OTHER,
    )
    assert [rank(s) for s in ORDER] == list(range(8))


def test_the_pairs_cover_every_pair_of_stages() -> None:
    assert len(FORWARD) + len(BACKWARD) + len(SAME) == len(STAGES) ** 2 == 64


# --- manual changes ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("current", "new"), FORWARD + SAME)
def test_a_person_or_workflow_may_move_a_stage_forward(current: LifecycleStage, new: LifecycleStage) -> None:
    assert manual_change_allowed(current, new)
    assert manual_change_blocker(current, new) is None


@pytest.mark.parametrize(("current", "new"), BACKWARD)
def test_a_person_or_workflow_cannot_move_a_stage_backwards_without_clearing_it(
    current: LifecycleStage, new: LifecycleStage
) -> None:
    assert not manual_change_allowed(current, new)
    assert manual_change_blocker(current, new) is RuleCode.LIFECYCLE_BACKWARDS


@pytest.mark.parametrize(("current", "new"), BACKWARD)
def test_clearing_the_stage_first_lets_a_person_set_it_backwards(
    current: LifecycleStage, new: LifecycleStage
) -> None:
    assert manual_change_blocker(current, None) is None
    assert manual_change_blocker(None, new) is None


# --- creation ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("setting", "form_default"), [(None, None), (L.LEAD, L.OTHER), (L.OTHER, L.LEAD)])
@pytest.mark.parametrize("source", list(SRC))
@pytest.mark.parametrize("explicit", STAGES)
def test_a_stage_given_at_creation_wins_over_every_default(
    explicit: LifecycleStage,
    source: ChangeSource,
    setting: LifecycleStage | None,
    form_default: LifecycleStage | None,
) -> None:
    assert creation_stage(explicit, source, setting, form_default) is explicit


@pytest.mark.parametrize("setting", MAYBE)
@pytest.mark.parametrize("form_default", STAGES)
def test_a_forms_own_default_wins_over_the_setting(
    form_default: LifecycleStage, setting: LifecycleStage | None
) -> None:
    assert creation_stage(None, SRC.FORM, setting, form_default) is form_default


@pytest.mark.parametrize("setting", STAGES)
@pytest.mark.parametrize("source", list(SRC))
def test_with_the_setting_on_every_new_record_gets_the_setting_stage(
    source: ChangeSource, setting: LifecycleStage
) -> None:
    assert creation_stage(None, source, setting, None) is setting


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (SRC.UI, L.SUBSCRIBER),
        (SRC.API, L.SUBSCRIBER),
        (SRC.FORM, L.SUBSCRIBER),
        (SRC.IMPORT, None),
        (SRC.WORKFLOW, None),
        (SRC.AUTOMATION, None),
        (SRC.INTEGRATION, None),
    ],
)
def test_with_the_setting_off_only_records_created_directly_or_by_a_form_get_the_first_stage(
    source: ChangeSource, expected: LifecycleStage | None
) -> None:
    assert creation_stage(None, source, None, None) is expected


def test_the_creation_table_covers_every_source() -> None:
    assert {SRC.UI, SRC.API, SRC.FORM, SRC.IMPORT, SRC.WORKFLOW, SRC.AUTOMATION, SRC.INTEGRATION} == set(SRC)


@pytest.mark.parametrize("source", [s for s in SRC if s is not SRC.FORM])
def test_a_form_default_applies_only_to_form_submissions(source: ChangeSource) -> None:
    assert creation_stage(None, source, L.LEAD, L.CUSTOMER) is L.LEAD


# --- settings -------------------------------------------------------------------------------------------


def test_the_default_settings_follow_the_seeds() -> None:
    on_create, on_deal_created, on_deal_won, sync = (
        DEFAULTS.default_stage_on_create,
        DEFAULTS.stage_on_deal_created,
        DEFAULTS.stage_on_deal_won,
        DEFAULTS.sync_company_to_contacts,
    )
    assert (on_create, on_deal_created, on_deal_won, sync) == (None, L.OPPORTUNITY, L.CUSTOMER, True)
