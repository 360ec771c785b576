"""Lifecycle stages of contacts and companies: order, settings, creation defaults, manual changes (seeds 002, 004)."""

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
