"""Seeds 002, 004: lifecycle stage order, creation defaults, deal effects and company-to-contact sync."""

from __future__ import annotations

import itertools

import pytest

from domain.codes import RuleCode
from domain.lifecycle import (
    ORDER,
    ChangeSource,
    LifecycleSettings,
    LifecycleStage,
    automatic_stage,
    contact_stage_from_company,
    creation_stage,
    manual_change_allowed,
    manual_change_blocker,
    rank,
    sets_close_date_on_deal_won,
    stage_after_deal_lost,
    stage_on_deal_created,
    stage_on_deal_won,
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
ALL_OFF = LifecycleSettings(None, None, None, False)


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


# --- never backwards ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("current", "proposed"), FORWARD)
def test_an_automatic_change_moves_a_record_forward(
    current: LifecycleStage, proposed: LifecycleStage
) -> None:
    assert automatic_stage(current, proposed) is proposed


@pytest.mark.parametrize(("current", "proposed"), BACKWARD + SAME)
def test_an_automatic_change_never_moves_a_record_backwards(
    current: LifecycleStage, proposed: LifecycleStage
) -> None:
    assert automatic_stage(current, proposed) is current


@pytest.mark.parametrize("proposed", STAGES)
def test_an_automatic_change_sets_an_empty_stage(proposed: LifecycleStage) -> None:
    assert automatic_stage(None, proposed) is proposed


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


# --- deals ---------------------------------------------------------------------------------------------


def test_the_default_settings_follow_the_seeds() -> None:
    on_create, on_deal_created, on_deal_won, sync = (
        DEFAULTS.default_stage_on_create,
        DEFAULTS.stage_on_deal_created,
        DEFAULTS.stage_on_deal_won,
        DEFAULTS.sync_company_to_contacts,
    )
    assert (on_create, on_deal_created, on_deal_won, sync) == (None, L.OPPORTUNITY, L.CUSTOMER, True)


@pytest.mark.parametrize("current", MAYBE)
def test_a_first_deal_makes_its_contacts_and_companies_opportunities_unless_they_are_further(
    current: LifecycleStage | None,
) -> None:
    expected = current if current is not None and rank(current) > rank(L.OPPORTUNITY) else L.OPPORTUNITY
    assert stage_on_deal_created(current, DEFAULTS) is expected


def test_a_deal_created_for_a_customer_leaves_it_a_customer_and_a_lead_becomes_an_opportunity() -> None:
    assert stage_on_deal_created(L.CUSTOMER, DEFAULTS) is L.CUSTOMER
    assert stage_on_deal_created(L.LEAD, DEFAULTS) is L.OPPORTUNITY


@pytest.mark.parametrize("current", MAYBE)
def test_with_the_deal_created_setting_off_a_new_deal_leaves_the_stage_alone(
    current: LifecycleStage | None,
) -> None:
    assert stage_on_deal_created(current, ALL_OFF) is current


@pytest.mark.parametrize(("current", "setting"), list(itertools.product(MAYBE, STAGES)))
def test_the_deal_created_setting_sets_its_stage_forward_only(
    current: LifecycleStage | None, setting: LifecycleStage
) -> None:
    settings = LifecycleSettings(stage_on_deal_created=setting)
    assert stage_on_deal_created(current, settings) is automatic_stage(current, setting)


@pytest.mark.parametrize("current", MAYBE)
def test_a_won_deal_makes_its_contacts_and_companies_customers_unless_they_are_further(
    current: LifecycleStage | None,
) -> None:
    expected = current if current in (L.EVANGELIST, L.OTHER) else L.CUSTOMER
    assert stage_on_deal_won(current, DEFAULTS) is expected


@pytest.mark.parametrize(("current", "setting"), list(itertools.product(MAYBE, STAGES)))
def test_the_deal_won_setting_sets_its_stage_forward_only(
    current: LifecycleStage | None, setting: LifecycleStage
) -> None:
    settings = LifecycleSettings(stage_on_deal_won=setting)
    assert stage_on_deal_won(current, settings) is automatic_stage(current, setting)


@pytest.mark.parametrize("current", MAYBE)
def test_with_the_deal_won_setting_off_a_won_deal_leaves_the_stage_alone(
    current: LifecycleStage | None,
) -> None:
    assert stage_on_deal_won(current, ALL_OFF) is current


def test_only_the_deal_won_setting_makes_a_won_deal_set_close_date_and_days_to_close() -> None:
    assert sets_close_date_on_deal_won(DEFAULTS)
    assert not sets_close_date_on_deal_won(ALL_OFF)


@pytest.mark.parametrize("has_won_deal", [False, True])
@pytest.mark.parametrize("current", MAYBE)
def test_a_lost_deal_never_changes_a_lifecycle_stage(
    current: LifecycleStage | None, has_won_deal: bool
) -> None:
    assert stage_after_deal_lost(current, has_won_deal) is current


def test_a_lost_deal_leaves_an_opportunity_an_opportunity() -> None:
    assert stage_after_deal_lost(stage_on_deal_created(L.LEAD, DEFAULTS), False) is L.OPPORTUNITY


def test_a_record_with_a_closed_won_deal_stays_a_customer_when_another_deal_is_lost() -> None:
    won = stage_on_deal_won(stage_on_deal_created(L.LEAD, DEFAULTS), DEFAULTS)
    assert stage_after_deal_lost(won, has_other_won_deal=True) is L.CUSTOMER


# --- company to contact sync ---------------------------------------------------------------------------


def test_a_company_set_to_lead_updates_only_its_subscriber_contact() -> None:
    contacts = [L.SUBSCRIBER, L.OPPORTUNITY]
    assert [contact_stage_from_company(c, L.LEAD, True) for c in contacts] == [L.LEAD, L.OPPORTUNITY]


def test_a_company_set_to_customer_updates_both_contacts() -> None:
    contacts = [L.SUBSCRIBER, L.OPPORTUNITY]
    assert [contact_stage_from_company(c, L.CUSTOMER, True) for c in contacts] == [L.CUSTOMER, L.CUSTOMER]


@pytest.mark.parametrize(("contact", "company"), [*((None, s) for s in STAGES), *PAIRS])
def test_with_sync_on_a_contact_takes_its_primary_companys_stage_forward_only(
    contact: LifecycleStage | None, company: LifecycleStage
) -> None:
    assert contact_stage_from_company(contact, company, True) is automatic_stage(contact, company)


@pytest.mark.parametrize(("contact", "company"), list(itertools.product(MAYBE, MAYBE)))
def test_with_sync_off_a_company_never_changes_its_contacts(
    contact: LifecycleStage | None, company: LifecycleStage | None
) -> None:
    assert contact_stage_from_company(contact, company, False) is contact


@pytest.mark.parametrize("contact", MAYBE)
def test_a_company_without_a_stage_leaves_its_contacts_alone(contact: LifecycleStage | None) -> None:
    assert contact_stage_from_company(contact, None, True) is contact
