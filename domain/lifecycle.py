"""Lifecycle stages of contacts and companies: order, creation defaults, deal effects, sync (seeds 002, 004)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from .codes import RuleCode
from .records import ChangeSource


class LifecycleStage(StrEnum):
    SUBSCRIBER = "SUBSCRIBER"
    LEAD = "LEAD"
    MARKETING_QUALIFIED_LEAD = "MARKETING_QUALIFIED_LEAD"
    SALES_QUALIFIED_LEAD = "SALES_QUALIFIED_LEAD"
    OPPORTUNITY = "OPPORTUNITY"
    CUSTOMER = "CUSTOMER"
    EVANGELIST = "EVANGELIST"
    OTHER = "OTHER"


ORDER: tuple[LifecycleStage, ...] = tuple(LifecycleStage)  # display order, first to last
FIRST_STAGE = ORDER[0]
CREATED_DIRECTLY = frozenset({ChangeSource.UI, ChangeSource.API})


@dataclass(frozen=True, slots=True)
class LifecycleSettings:
    """The lifecycle automation settings; a stage of None means that setting is off.

    Seed 002 as HubSpot ships it: no stage on creation (off), OPPORTUNITY when a first deal is created,
    CUSTOMER when a deal is won (seed 004), company-to-contact sync on.
    """

    default_stage_on_create: LifecycleStage | None = None
    stage_on_deal_created: LifecycleStage | None = LifecycleStage.OPPORTUNITY
    stage_on_deal_won: LifecycleStage | None = LifecycleStage.CUSTOMER
    sync_company_to_contacts: bool = True


def rank(stage: LifecycleStage) -> int:
    """Seed 002: a stage's position in display order."""
    return ORDER.index(stage)


def automatic_stage(current: LifecycleStage | None, proposed: LifecycleStage) -> LifecycleStage:
    """Seed 002: automatic changes move a record forward, never backwards; an empty stage takes any."""
    if current is None or rank(proposed) > rank(current):
        return proposed
    return current


def manual_change_allowed(current: LifecycleStage | None, new: LifecycleStage | None) -> bool:
    """Seed 004: a person or workflow sets a stage forward, or back only after clearing it first."""
    return current is None or new is None or rank(new) >= rank(current)


def manual_change_blocker(current: LifecycleStage | None, new: LifecycleStage | None) -> RuleCode | None:
    """Seed 004: LIFECYCLE_BACKWARDS when a set moves the stage back without clearing it first."""
    return None if manual_change_allowed(current, new) else RuleCode.LIFECYCLE_BACKWARDS


def creation_stage(
    explicit: LifecycleStage | None,
    source: ChangeSource,
    setting_default: LifecycleStage | None,
    form_default: LifecycleStage | None = None,
) -> LifecycleStage | None:
    """Seed 002: the stage of a new contact or company.

    A stage given at creation wins; then a form's own default (form submissions only); then the
    "set lifecycle stage when created" setting when it is on. With the setting off, records created
    directly (UI, API) or by a form get the first stage in display order; other sources leave it empty.
    """
    if explicit is not None:
        return explicit
    if source is ChangeSource.FORM and form_default is not None:
        return form_default
    if setting_default is not None:
        return setting_default
    if source in CREATED_DIRECTLY or source is ChangeSource.FORM:
        return FIRST_STAGE
    return None


def stage_on_deal_created(
    current: LifecycleStage | None, settings: LifecycleSettings
) -> LifecycleStage | None:
    """Seed 002: the record's first associated deal sets the deal-created stage, forward only.

    The caller calls this for a contact's or company's first deal only; off leaves the stage alone.
    """
    if settings.stage_on_deal_created is None:
        return current
    return automatic_stage(current, settings.stage_on_deal_created)


def stage_on_deal_won(current: LifecycleStage | None, settings: LifecycleSettings) -> LifecycleStage | None:
    """Seeds 002, 004: a won associated deal sets the deal-won stage (CUSTOMER by default), forward only."""
    if settings.stage_on_deal_won is None:
        return current
    return automatic_stage(current, settings.stage_on_deal_won)


def sets_close_date_on_deal_won(settings: LifecycleSettings) -> bool:
    """Seed 002: with the deal-won setting off, a won deal leaves close date and days to close alone."""
    return settings.stage_on_deal_won is not None


def stage_after_deal_lost(current: LifecycleStage | None, has_other_won_deal: bool) -> LifecycleStage | None:
    """Seed 004: a lost deal changes no stage: OPPORTUNITY stays, and with a won deal CUSTOMER stays.

    `has_other_won_deal` names the FAQ's second case; since automatic changes never go backwards,
    a record with a closed-won deal keeps CUSTOMER whatever this deal did, so both cases agree.
    """
    del has_other_won_deal
    return current


def contact_stage_from_company(
    contact_current: LifecycleStage | None, company_stage: LifecycleStage | None, sync_on: bool
) -> LifecycleStage | None:
    """Seed 002: with sync on, a contact takes its primary company's stage, forward only.

    Applies when the company is first associated as primary and whenever its stage changes; a
    contact's own change never reaches the company (there is no function for that direction).
    """
    if not sync_on or company_stage is None:
        return contact_current
    return automatic_stage(contact_current, company_stage)
