"""The one alias for strawberry's Info, typed with our context."""

from typing import TypeAlias

import strawberry

from resolvers.context import Context

Info: TypeAlias = strawberry.Info[Context, None]
