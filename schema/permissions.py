"""Permission classes: failures are GraphQL errors with a stable extensions.code."""

from __future__ import annotations

from typing import Any

from strawberry.permission import BasePermission

from .info import Info


class IsSuperAdmin(BasePermission):
    message = "Only super admins may do this."
    error_extensions = {"code": "FORBIDDEN"}

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        viewer = info.context.viewer
        return viewer is not None and viewer.user.is_super_admin
