"""The Query root, merged from each area's queries."""

from strawberry.tools import merge_types

from .notifications import NotificationQueries
from .users import UserQueries

Query = merge_types("Query", (UserQueries, NotificationQueries))
