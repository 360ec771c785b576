"""The read-only page a published quote is shared as: GET /quotes/<token>, every value escaped."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from html import escape

from starlette.requests import Request
from starlette.responses import HTMLResponse

from db import quotes as quote_store
from db import users as user_store
from domain.quotes import Quote, line_total
from resolvers.context import Services

TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex",
    "Cache-Control": "no-store",
}
STYLE = """body{font-family:system-ui,sans-serif;max-width:52rem;margin:2rem auto;padding:0 1rem;color:#222}
table{border-collapse:collapse;width:100%}th,td{padding:.4rem .6rem;border-bottom:1px solid #ddd}
td.n,th.n{text-align:right}tfoot td{border:none}.total td{font-weight:bold;font-size:1.1em}
.expired{color:#a00}.terms{white-space:pre-wrap}"""


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
        f"{money(totals.total, quote.currency)}</td></tr></tfoot></table>{terms}"
    )
    return _page(quote.title, body)


async def quote_page(request: Request) -> HTMLResponse:
    """A published quote by its token; an unknown, recalled or unpublished one is a 404."""
    services: Services = request.app.state.services
    token = str(request.path_params["token"])
    quote = await quote_store.get_published_quote(services.pool, token) if TOKEN.match(token) else None
    if quote is None:
        return HTMLResponse(NOT_FOUND, status_code=404, headers=HEADERS)
    creator = await user_store.list_users(services.pool, [quote.created_by])
    name = creator[0].name if creator else None
    return HTMLResponse(render_quote(quote, name, datetime.now(UTC)), headers=HEADERS)
