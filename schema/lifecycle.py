"""Lifecycle automation settings: the query and updateLifecycleSettings (super admins)."""

from __future__ import annotations

from typing import Annotated, Any

import strawberry

from db import lifecycle as lifecycle_store
from domain.lifecycle import LifecycleSettings as DomainSettings
from resolvers import lifecycle as use_cases

from .enums import LifecycleStage
from .errors import UserError, user_errors
from .info import Info
from .permissions import IsSuperAdmin


@strawberry.type
class LifecycleSettings:
    default_stage_on_create: LifecycleStage | None = strawberry.field(
        description="Set on new contacts and companies; null: off (first stage for UI/API/forms, empty otherwise)."
    )
    stage_on_deal_created: LifecycleStage | None
    stage_on_deal_won: LifecycleStage | None
    sync_company_to_contacts: bool

    @classmethod
    def from_domain(cls, s: DomainSettings) -> LifecycleSettings:
        return cls(
            default_stage_on_create=s.default_stage_on_create,
            stage_on_deal_created=s.stage_on_deal_created,
            stage_on_deal_won=s.stage_on_deal_won,
            sync_company_to_contacts=s.sync_company_to_contacts,
        )


UNSET: Any = strawberry.UNSET


@strawberry.input
class UpdateLifecycleSettingsInput:
    default_stage_on_create: LifecycleStage | None = UNSET
    stage_on_deal_created: LifecycleStage | None = UNSET
    stage_on_deal_won: LifecycleStage | None = UNSET
    sync_company_to_contacts: bool | None = UNSET


@strawberry.type
class UpdateLifecycleSettingsPayload:
    ok: bool
    settings: LifecycleSettings | None
    user_errors: list[UserError]


@strawberry.type
class LifecycleQueries:
    @strawberry.field(description="How lifecycle stages are set automatically on contacts and companies.")
    async def lifecycle_settings(self, info: Info) -> LifecycleSettings:
        return LifecycleSettings.from_domain(await lifecycle_store.get_settings(info.context.pool))


@strawberry.type
class LifecycleMutations:
    @strawberry.mutation(
        permission_classes=[IsSuperAdmin],
        description="Change the lifecycle automation settings (super admins only).",
    )
    async def update_lifecycle_settings(
        self,
        info: Info,
        input: Annotated[
            UpdateLifecycleSettingsInput,
            strawberry.argument(description="The new settings; fields left out stay as they are."),
        ],
    ) -> UpdateLifecycleSettingsPayload:
        current = await lifecycle_store.get_settings(info.context.pool)
        given = {k: v for k, v in vars(input).items() if v is not UNSET}
        if given.get("sync_company_to_contacts", False) is None:
            given.pop("sync_company_to_contacts")
        result = await use_cases.update_settings(
            info.context, DomainSettings(**{**vars_of(current), **given})
        )
        saved = result.value if hasattr(result, "value") else None
        return UpdateLifecycleSettingsPayload(
            ok=saved is not None,
            settings=LifecycleSettings.from_domain(saved) if saved else None,
            user_errors=user_errors(result),
        )


def vars_of(s: DomainSettings) -> dict[str, Any]:
    return {
        "default_stage_on_create": s.default_stage_on_create,
        "stage_on_deal_created": s.stage_on_deal_created,
        "stage_on_deal_won": s.stage_on_deal_won,
        "sync_company_to_contacts": s.sync_company_to_contacts,
    }
