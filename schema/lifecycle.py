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


@strawberry.type(description="How lifecycle stages are set automatically.")
class LifecycleSettings:
    default_stage_on_create: LifecycleStage | None = strawberry.field(
        description="Set on new contacts and companies; null: off (first stage for UI/API/forms, empty otherwise)."
    )
    stage_on_deal_created: LifecycleStage | None = strawberry.field(
        description="Set on a deal's contacts and companies when the deal is created; null: off."
    )
    stage_on_deal_won: LifecycleStage | None = strawberry.field(
        description="Set on a deal's contacts and companies when the deal is won; null: off."
    )
    sync_company_to_contacts: bool = strawberry.field(
        description="Whether a company's new lifecycle stage is also set on its contacts."
    )

    @classmethod
    def from_domain(cls, s: DomainSettings) -> LifecycleSettings:
        return cls(
            default_stage_on_create=s.default_stage_on_create,
            stage_on_deal_created=s.stage_on_deal_created,
            stage_on_deal_won=s.stage_on_deal_won,
            sync_company_to_contacts=s.sync_company_to_contacts,
        )


UNSET: Any = strawberry.UNSET


@strawberry.input(description="New lifecycle settings; a field left out stays as it is, null turns it off.")
class UpdateLifecycleSettingsInput:
    default_stage_on_create: LifecycleStage | None = strawberry.field(
        default=UNSET, description="Set on new contacts and companies. Left out: unchanged."
    )
    stage_on_deal_created: LifecycleStage | None = strawberry.field(
        default=UNSET,
        description="Set on a deal's contacts and companies when the deal is created. Left out: unchanged.",
    )
    stage_on_deal_won: LifecycleStage | None = strawberry.field(
        default=UNSET,
        description="Set on a deal's contacts and companies when the deal is won. Left out: unchanged.",
    )
    sync_company_to_contacts: bool | None = strawberry.field(
        default=UNSET,
        description="Whether a company's new lifecycle stage is also set on its contacts. Left out: unchanged.",
    )


@strawberry.type(description="The result of updateLifecycleSettings.")
class UpdateLifecycleSettingsPayload:
    ok: bool = strawberry.field(description="True when the settings were saved.")
    settings: LifecycleSettings | None = strawberry.field(description="The settings as they are now.")
    user_errors: list[UserError] = strawberry.field(description="Why nothing was done; empty on success.")


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
