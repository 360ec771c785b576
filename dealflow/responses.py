"""GraphQL over HTTP: the response media type a client accepts, and the status codes that go with it."""

from __future__ import annotations

import json
from collections.abc import Mapping

from starlette.responses import Response
from strawberry.types import ExecutionResult

JSON = "application/json"
GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
_ANY_JSON = {JSON: JSON, "application/*": JSON, "*/*": JSON, GRAPHQL_RESPONSE_JSON: GRAPHQL_RESPONSE_JSON}


def negotiate(accept: str | None) -> str:
    """The acceptable media type with the highest q (first listed on a tie); JSON when none is."""
    best, best_q = JSON, 0.0
    for part in (accept or "").split(","):
        media, *params = (p.strip() for p in part.split(";"))
        chosen = _ANY_JSON.get(media.lower())
        if chosen is None:
            continue
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if q > best_q:
            best, best_q = chosen, q
    return best


def is_request_error(result: ExecutionResult) -> bool:
    """Refused before execution (parse, validation, variables): no data, and no error has a path."""
    errors = result.errors or []
    return result.data is None and bool(errors) and all(e.path is None for e in errors)


def error_response(
    message: str, code: str, status: int, media_type: str, headers: Mapping[str, str] | None = None
) -> Response:
    body = {"errors": [{"message": message, "extensions": {"code": code}}]}
    return Response(json.dumps(body), status_code=status, media_type=media_type, headers=headers)
