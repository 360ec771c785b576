"""Relations a list's resolver loads for a whole page at once, and how their fields say so."""

from __future__ import annotations

from typing import Any

UNLOADED: Any = object()  # a relation the query's resolver did not prefetch
PREFETCHED = "dealflow.prefetched"  # field metadata: the attribute holding the prefetched value


def prefetched(attribute: str) -> dict[str, str]:
    """Metadata for a field whose resolver returns `attribute` whenever it is not UNLOADED, so an
    executor may read the attribute instead of calling the resolver (schema/compiled.py does; only
    for fields without arguments, permission classes or field extensions)."""
    return {PREFETCHED: attribute}
