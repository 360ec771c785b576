"""The page a published quote is shared as (GET /quotes/<token>, every value escaped, no script) and
its sign form (POST /quotes/<token>/sign, form or JSON): seed 001."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from decimal import Decimal
from html import escape
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from db import quotes as quote_store
from db import users as user_store
from domain.codes import RuleCode
from domain.quote_signing import MAX_EMAIL, MAX_SIGNER_NAME, sign_blocker
from domain.quotes import Quote, QuoteStatus, line_total
from resolvers.context import Services
from resolvers.quote_signing import sign_quote
from resolvers.result import Ok, Problem

TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex",
    "Cache-Control": "no-store",
}
STYLE = """body{font-family:system-ui,sans-serif;max-width:52rem;margin:2rem auto;padding:0 1rem;color:#222}
table{border-collapse:collapse;width:100%}th,td{padding:.4rem .6rem;border-bottom:1px solid #ddd}
td.n,th.n{text-align:right}tfoot td{border:none}.total td{font-weight:bold;font-size:1.1em}
.expired{color:#a00}.terms{white-space:pre-wrap}.signed{color:#060;font-weight:bold}
form{margin-top:2rem;display:grid;gap:.6rem;max-width:24rem}label{display:grid;gap:.2rem}
input{padding:.4rem;font:inherit}button{padding:.5rem;font:inherit;cursor:pointer}"""
# Refusals by code: the HTTP status a signer (a browser or a program) is answered with.
STATUS_OF = {
    RuleCode.NOT_FOUND: 404, RuleCode.QUOTE_ALREADY_SIGNED: 409, RuleCode.QUOTE_WRONG_STATUS: 409,
    RuleCode.QUOTE_EXPIRED: 410, RuleCode.QUOTE_RECALLED: 410, RuleCode.INVALID: 422,
}  # fmt: skip


def _page(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>{body}</body></html>\n"
    )


NOT_FOUND = _page(
    "Quote not found", "<h1>Quote not found</h1><p>This quote does not exist or was withdrawn.</p>"
)


def money(amount: Decimal, currency: str) -> str:
    return escape(f"{amount:,.2f} {currency}")


def percent(value: Decimal) -> str:
    return escape(f"{value.normalize():f}%") if value else ""


def _day(value: datetime) -> str:
    return escape(value.astimezone(UTC).strftime("%d %B %Y"))


def render_quote(quote: Quote, prepared_by: str | None, now: datetime) -> str:
    """The quote as the prospect sees it: line items, totals, expiry and terms."""
    rows = "".join(
        f'<tr class="line-item"><td>{escape(i.name)}</td><td class="n">{i.quantity}</td>'
        f'<td class="n">{money(i.unit_price, quote.currency)}</td><td class="n">{percent(i.discount_percent)}</td>'
        f'<td class="n">{money(line_total(i), quote.currency)}</td></tr>'
        for i in quote.line_items
    )
    totals = quote.totals
    expiry = ""
    if quote.expires_at is not None:
        expired = quote.expires_at < now
        word = "Expired on" if expired else "Valid until"
        expiry = f'<p class="expiry{" expired" if expired else ""}">{word} {_day(quote.expires_at)}</p>'
    by = f"<p>Prepared by {escape(prepared_by)}</p>" if prepared_by else ""
    signing = _signing(quote, now)
    terms = f'<h2>Terms</h2><p class="terms">{escape(quote.terms)}</p>' if quote.terms else ""
    body = (
        f"<h1>{escape(quote.title)}</h1>{by}{expiry}"
        '<table><thead><tr><th>Item</th><th class="n">Quantity</th><th class="n">Unit price</th>'
        f'<th class="n">Discount</th><th class="n">Amount</th></tr></thead><tbody>{rows}</tbody><tfoot>'
        f'<tr><td colspan="4" class="n">Subtotal</td><td class="n" id="subtotal">'
        f"{money(totals.subtotal, quote.currency)}</td></tr>"
        f'<tr><td colspan="4" class="n">Discount</td><td class="n" id="discount">'
        f"{money(totals.discount, quote.currency)}</td></tr>"
        f'<tr class="total"><td colspan="4" class="n">Total</td><td class="n" id="total">'
        f"{money(totals.total, quote.currency)}</td></tr></tfoot></table>{terms}{signing}"
    )
    return _page(quote.title, body)


def _signing(quote: Quote, now: datetime) -> str:
    """Who signed it and when; else the sign form (a plain POST, no script) while it may be signed."""
    if quote.status is QuoteStatus.SIGNED and quote.signed_at is not None:
        return (
            f'<p class="signed" id="signed">Signed by {escape(quote.signer_name or "")} '
            f"({escape(quote.signer_email or '')}) on {_day(quote.signed_at)}</p>"
        )
    blocker = sign_blocker(quote.status, quote.expires_at, now)
    if blocker is not None:
        return f'<p class="expired" id="unsignable">{escape(blocker.message)}</p>'
    return (
        f'<form id="sign" method="post" action="/quotes/{escape(quote.public_token)}/sign">'
        "<h2>Accept and sign</h2>"
        f'<label>Your name <input name="name" required maxlength="{MAX_SIGNER_NAME}" autocomplete="name"></label>'
        f'<label>Your email <input name="email" type="email" required maxlength="{MAX_EMAIL}" '
        'autocomplete="email"></label><button type="submit">Accept and sign</button></form>'
    )


async def quote_page(request: Request) -> HTMLResponse:
    """A published or signed quote by its token; an unknown, recalled or unpublished one is a 404."""
    services: Services = request.app.state.services
    token = str(request.path_params["token"])
    quote = await quote_store.get_shared_quote(services.pool, token) if TOKEN.match(token) else None
    if quote is None:
        return HTMLResponse(NOT_FOUND, status_code=404, headers=HEADERS)
    creator = await user_store.list_users(services.pool, [quote.created_by])
    name = creator[0].name if creator else None
    return HTMLResponse(render_quote(quote, name, datetime.now(UTC)), headers=HEADERS)


async def _signer(request: Request) -> tuple[str, str] | None:
    """The name and email a signer sent, as JSON or as a form; None when the body is neither."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "application/json":
        try:
            body: Any = json.loads(await request.body())
        except (ValueError, UnicodeDecodeError):
            return None
    elif kind in ("application/x-www-form-urlencoded", "multipart/form-data"):
        body = dict(await request.form())
    else:
        return None
    if not isinstance(body, dict):
        return None
    name, email = body.get("name", ""), body.get("email", "")
    return (name, email) if isinstance(name, str) and isinstance(email, str) else None


def _wants_json(request: Request) -> bool:
    kind = request.headers.get("content-type", "").lower()
    return kind.startswith("application/json") or "application/json" in request.headers.get("accept", "")


def _refused(problems: tuple[Problem, ...], as_json: bool, status: int | None = None) -> Response:
    status = status or STATUS_OF.get(problems[0].code, 409)
    if as_json:
        errors = [{"field": list(p.field) if p.field else None, "message": p.message, "code": p.code.value}
                  for p in problems]  # fmt: skip
        return JSONResponse({"userErrors": errors}, status_code=status, headers=HEADERS)
    items = "".join(
        f'<li class="reason" data-code="{escape(p.code.value)}">{escape(p.message)}</li>' for p in problems
    )
    body = f"<h1>This quote could not be signed</h1><ul>{items}</ul>"
    return HTMLResponse(_page("Quote not signed", body), status_code=status, headers=HEADERS)


async def sign_quote_page(request: Request) -> Response:
    """POST /quotes/<token>/sign with name and email: signs once. A browser is sent back to the page
    (303); a JSON client gets the signed quote, or `userErrors` with the refusal's code and status."""
    services: Services = request.app.state.services
    token = str(request.path_params["token"])
    as_json = _wants_json(request)
    signer = await _signer(request)
    if signer is None:
        message = "Send name and email as a form or as a JSON object."
        return _refused((Problem(message, RuleCode.INVALID),), as_json, 400)
    if not TOKEN.match(token):
        return _refused(
            (Problem("This quote does not exist or was withdrawn.", RuleCode.NOT_FOUND),), as_json
        )
    result = await sign_quote(services, token, *signer)
    if not isinstance(result, Ok):
        return _refused(result.problems, as_json)
    if not as_json:
        return RedirectResponse(f"/quotes/{token}", status_code=303, headers=HEADERS)
    q = result.value
    signed = {"id": str(q.id), "status": q.status.value, "signedAt": q.signed_at.isoformat() if q.signed_at else None,
              "signerName": q.signer_name, "signerEmail": q.signer_email}  # fmt: skip
    return JSONResponse({"quote": signed, "userErrors": []}, headers=HEADERS)
