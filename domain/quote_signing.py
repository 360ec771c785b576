"""Signing a published quote on its page: who may sign, when, and what a signer must give (seed 001)."""

from __future__ import annotations

import re
from datetime import datetime

from .codes import Refusal, RuleCode
from .quotes import QuoteAction, QuoteStatus, decide

MAX_SIGNER_NAME = 200
MAX_EMAIL = 254
EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]+\.[^@\s]+")


def sign_blocker(status: QuoteStatus, expires_at: datetime | None, now: datetime) -> Refusal | None:
    """DESIGN 6: a published quote is signed once; not when expired, recalled, already signed or
    not published (the status machine's SIGN), and not once its expiry date has passed."""
    found = decide(status, QuoteAction.SIGN, actor_id=0, approver_id=None, approval_required=False)
    if isinstance(found, Refusal):
        return found
    if expires_at is not None and expires_at <= now:
        return Refusal(
            RuleCode.QUOTE_EXPIRED, "This quote has expired and can no longer be signed.",
            "Ask the seller for a new one.",
        )  # fmt: skip
    return None


def signer_problems(name: str, email: str) -> list[Refusal]:
    """Bad input from the signer: a name and an email address are both required."""
    found: list[Refusal] = []
    if not name.strip():
        found.append(Refusal(RuleCode.INVALID, "Your name is required to sign.", field="name"))
    elif len(name.strip()) > MAX_SIGNER_NAME:
        message = f"A name has at most {MAX_SIGNER_NAME} characters."
        found.append(Refusal(RuleCode.INVALID, message, field="name"))
    address = email.strip()
    if len(address) > MAX_EMAIL or not EMAIL.fullmatch(address):
        found.append(Refusal(RuleCode.INVALID, "A valid email address is required to sign.", field="email"))
    return found
