"""Signing a published quote on its page, by the prospect holding its link (seed 001)."""

from __future__ import annotations

from datetime import UTC, datetime

from db import events as event_store
from db import quotes as quote_store
from db import records as record_store
from db import users as user_store
from domain.codes import RuleCode
from domain.quote_signing import sign_blocker, signer_problems
from domain.quotes import Quote, QuoteAction, QuoteStatus
from domain.records import ObjectType, Viewer

from . import workflows
from .context import Context, Services
from .notifications import notify
from .quotes import STATUS, status_event
from .result import Ok, Problem, Refusal, Refused, Result, use_case


@use_case
async def sign_quote(
    services: Services, token: str, name: str, email: str, now: datetime | None = None
) -> Result[Quote]:
    """DESIGN 6: the prospect signs a published quote once, giving a name and an email address:
    SIGNED with the time and the signer, an event, a notification to the creator, and the QUOTE
    workflows its status change triggers (run on the creator's behalf, as nobody signs in)."""
    found = signer_problems(name, email)
    if found:
        return Refused(tuple(Problem(p.message, p.code, (p.field,) if p.field else None) for p in found))
    now = now or datetime.now(UTC)
    async with services.pool.acquire() as conn, conn.transaction():
        quote = await quote_store.lock_quote_by_token(conn, token)
        if quote is None:
            raise Refusal.one(RuleCode.NOT_FOUND, "This quote does not exist or was withdrawn.")
        blocker = sign_blocker(quote.status, quote.expires_at, now)
        if blocker is not None:
            raise Refusal.of(blocker)
        ctx = Context(
            services=services, viewer=Viewer(user=await user_store.get_user(conn, quote.created_by))
        )
        deal = (await record_store.get_records(conn, ObjectType.DEAL, [quote.deal_id], None))[0]
        signer = {"name": name.strip(), "email": email.strip()}
        after = await quote_store.update_quote(conn, quote.id, {
            "status": QuoteStatus.SIGNED.value, "signed_at": now, "signer_name": signer["name"],
            "signer_email": signer["email"],
        })  # fmt: skip
        events = [status_event(quote.status, after, deal, None, QuoteAction.SIGN)]
        events += await notify(
            conn, [quote.created_by], kind="QUOTE_SIGNED", deal_id=deal.id, quote_id=quote.id,
            message=f"Quote '{quote.title}' was signed by {signer['name']} <{signer['email']}>.",
        )  # fmt: skip
        _, more = await workflows.enroll_quote(ctx, conn, after, deal, created=False, changed=STATUS)
        await event_store.append(conn, [*events, *more])
        after = await quote_store.lock_quote_by_token(conn, token) or after
    ctx.committed()
    return Ok(after)
