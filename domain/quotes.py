"""Quotes: the status machine, who may act, line-item checks and exact totals (seed 001)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Any

from .codes import Refusal, RuleCode

CENT = Decimal("0.01")
HUNDRED = Decimal(100)
MAX_LINE_ITEMS = 200
MAX_TITLE = 500
MAX_TERMS = 20_000
MAX_QUANTITY = 1_000_000_000
MAX_UNIT_PRICE = Decimal("1e12")


class QuoteStatus(StrEnum):
    DRAFT = "DRAFT"
    PENDING_APPROVAL = "PENDING_APPROVAL"
    CHANGES_REQUESTED = "CHANGES_REQUESTED"
    APPROVED = "APPROVED"
    PUBLISHED = "PUBLISHED"
    RECALLED = "RECALLED"
    SIGNED = "SIGNED"


class QuoteAction(StrEnum):
    EDIT = "EDIT"
    PUBLISH = "PUBLISH"
    APPROVE = "APPROVE"
    REQUEST_CHANGES = "REQUEST_CHANGES"
    RECALL = "RECALL"
    SIGN = "SIGN"


EDITABLE = frozenset({QuoteStatus.DRAFT, QuoteStatus.CHANGES_REQUESTED, QuoteStatus.RECALLED})
RECALLABLE = frozenset({QuoteStatus.PUBLISHED, QuoteStatus.PENDING_APPROVAL})


@dataclass(frozen=True, slots=True)
class LineItem:
    name: str
    quantity: int
    unit_price: Decimal
    discount_percent: Decimal = Decimal(0)


@dataclass(frozen=True, slots=True)
class Totals:
    subtotal: Decimal
    discount: Decimal
    total: Decimal


@dataclass(frozen=True, slots=True)
class Quote:
    id: int
    deal_id: int
    title: str
    status: QuoteStatus
    line_items: tuple[LineItem, ...]
    currency: str
    terms: str | None
    expires_at: datetime | None
    created_by: int
    approver_id: int | None
    change_notes: str | None
    public_token: str
    published_at: datetime | None
    properties: dict[str, Any] = field(default_factory=dict)
    created_at: datetime | None = None
    updated_at: datetime | None = None
    version: int = 1
    signed_at: datetime | None = None
    signer_name: str | None = None
    signer_email: str | None = None

    @property
    def totals(self) -> Totals:
        return totals(self.line_items)


@dataclass(frozen=True, slots=True)
class QuoteSettings:
    approval_required: bool = False
    approver_id: int | None = None


def cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def line_total(item: LineItem) -> Decimal:
    """Seed 001: quantity times unit price less the line's discount, rounded half up to the cent."""
    gross = item.unit_price * item.quantity
    return cents(gross - gross * item.discount_percent / HUNDRED)


def totals(items: Sequence[LineItem]) -> Totals:
    """The sums of the lines' rounded gross amounts and net amounts, and the discount between them."""
    subtotal = sum((cents(i.unit_price * i.quantity) for i in items), Decimal("0.00"))
    total = sum((line_total(i) for i in items), Decimal("0.00"))
    return Totals(subtotal=subtotal, discount=subtotal - total, total=total)


def line_item_problems(items: Sequence[LineItem]) -> list[tuple[str, str]]:
    """Bad input on line items: (field path, message) for names, quantities, prices and discounts."""
    if len(items) > MAX_LINE_ITEMS:
        return [("lineItems", f"a quote has at most {MAX_LINE_ITEMS} line items")]
    found: list[tuple[str, str]] = []
    for n, item in enumerate(items):
        where = f"lineItems.{n}"
        if not item.name.strip():
            found.append((f"{where}.name", "a line item needs a name"))
        if item.quantity < 0:
            found.append((f"{where}.quantity", f"quantity must not be negative, not {item.quantity}"))
        elif item.quantity > MAX_QUANTITY:
            found.append((f"{where}.quantity", f"quantity must be at most {MAX_QUANTITY}"))
        price = item.unit_price
        if not price.is_finite() or price < 0 or price >= MAX_UNIT_PRICE:
            found.append((f"{where}.unitPrice", f"unit price must be between 0 and {MAX_UNIT_PRICE:f}"))
        discount = item.discount_percent
        if not discount.is_finite() or not Decimal(0) <= discount <= HUNDRED:
            found.append((f"{where}.discountPercent", f"discount must be between 0 and 100, not {discount}"))
    return found


def quote_problems(title: str | None, terms: str | None, currency: str | None) -> list[tuple[str, str]]:
    """Bad input on the quote's own fields; None means 'not given' (an update leaving it alone)."""
    found: list[tuple[str, str]] = []
    if title is not None and not title.strip():
        found.append(("title", "a quote needs a title"))
    if title is not None and len(title) > MAX_TITLE:
        found.append(("title", f"title must be at most {MAX_TITLE} characters"))
    if terms is not None and len(terms) > MAX_TERMS:
        found.append(("terms", f"terms must be at most {MAX_TERMS} characters"))
    if currency is not None and not (len(currency) == 3 and currency.isascii() and currency.isupper()):
        found.append(("currency", f"{currency!r} is not a three-letter ISO 4217 currency code"))
    return found


def decide(
    status: QuoteStatus,
    action: QuoteAction,
    *,
    actor_id: int,
    approver_id: int | None,
    approval_required: bool,
    notes: str | None = None,
) -> tuple[QuoteStatus, ...] | Refusal:
    """Seed 001: the statuses a quote passes through when `action` is taken, or why it may not be.

    An edit in DRAFT or CHANGES_REQUESTED keeps the status; a recalled quote edited becomes a
    draft again. Publishing goes through PENDING_APPROVAL when approval is required. Only the
    quote's approver approves (APPROVED, then PUBLISHED) or requests changes, with notes.
    A published quote is read-only until recalled; the prospect signs it once (SIGNED is final).
    """
    if action is QuoteAction.SIGN:
        return _sign(status)
    if action is QuoteAction.EDIT:
        if status not in EDITABLE:
            return Refusal(RuleCode.QUOTE_NOT_EDITABLE, _read_only(status))
        return (QuoteStatus.DRAFT,) if status is QuoteStatus.RECALLED else ()
    if action is QuoteAction.PUBLISH:
        if status not in EDITABLE:
            return Refusal(RuleCode.QUOTE_WRONG_STATUS, f"A {_label(status)} quote cannot be published.")
        if approval_required:
            return (QuoteStatus.PENDING_APPROVAL,)
        return (QuoteStatus.PUBLISHED,)
    if action is QuoteAction.RECALL:
        if status not in RECALLABLE:
            return Refusal(RuleCode.QUOTE_WRONG_STATUS, f"A {_label(status)} quote cannot be recalled.")
        return (QuoteStatus.RECALLED,)
    if status is not QuoteStatus.PENDING_APPROVAL:
        return Refusal(RuleCode.QUOTE_WRONG_STATUS, f"A {_label(status)} quote is not awaiting approval.")
    if actor_id != approver_id:
        return Refusal(RuleCode.NOT_APPROVER, "Only the quote's approver may approve it or request changes.")
    if action is QuoteAction.APPROVE:
        return (QuoteStatus.APPROVED, QuoteStatus.PUBLISHED)
    if not (notes or "").strip():
        return Refusal(RuleCode.QUOTE_NOTES_REQUIRED, "A request for changes needs notes.", field="notes")
    return (QuoteStatus.CHANGES_REQUESTED,)


def _sign(status: QuoteStatus) -> tuple[QuoteStatus, ...] | Refusal:
    """DESIGN 6: only a published quote is signed, once; a recalled one says so."""
    if status is QuoteStatus.SIGNED:
        return Refusal(RuleCode.QUOTE_ALREADY_SIGNED, "This quote is already signed.")
    if status is QuoteStatus.RECALLED:
        return Refusal(
            RuleCode.QUOTE_RECALLED, "This quote was recalled by the seller.", "Ask them for a new one."
        )
    if status is not QuoteStatus.PUBLISHED:
        return Refusal(RuleCode.QUOTE_WRONG_STATUS, "This quote is not published, so it cannot be signed.")
    return (QuoteStatus.SIGNED,)


def settings_problem(required: bool, approver_active: bool | None) -> Refusal | None:
    """Seed 001: requiring approval needs one approver, an active user (None: no approver given)."""
    if required and approver_active is None:
        return Refusal(
            RuleCode.QUOTE_APPROVER_REQUIRED, "Requiring approval needs an approver.", field="approverId"
        )
    if approver_active is False:
        return Refusal(
            RuleCode.INACTIVE_USER, "A deactivated user cannot approve quotes.", field="approverId"
        )
    return None


NEEDS_APPROVAL = "quote-approval:needs-approval"
CHANGES_REQUESTED = "quote-approval:changes-requested"
APPROVED = "quote-approval:approved"


@dataclass(frozen=True, slots=True)
class Automation:
    """A workflow that requiring approval installs: on a quote entering `status`, run `actions`."""

    system_key: str
    name: str
    status: QuoteStatus
    actions: tuple[dict[str, Any], ...]

    @property
    def filter_groups(self) -> list[list[dict[str, object]]]:
        return [[{"property": "status", "operator": "EQ", "value": self.status.value}]]


def approval_automations(approver_id: int) -> tuple[Automation, ...]:
    """Seed 001: the three quote workflows. Actions without owner_ids act for the quote's creator."""
    approver = [approver_id]
    return (
        Automation(NEEDS_APPROVAL, "When a quote needs approval", QuoteStatus.PENDING_APPROVAL, (
            {"type": "CREATE_TASK", "owner_ids": approver, "title": "Review quote '{{title}}'",
             "body": "Approve and publish it, or request changes with notes."},
            {"type": "SEND_NOTIFICATION", "owner_ids": approver, "value": "Quote '{{title}}' needs your approval."},
        )),
        Automation(CHANGES_REQUESTED, "When changes are requested on a quote", QuoteStatus.CHANGES_REQUESTED, (
            {"type": "CREATE_TASK", "title": "Make the changes requested on quote '{{title}}'",
             "body": "{{notes}}"},
            {"type": "SEND_NOTIFICATION", "value": "Changes were requested on quote '{{title}}'."},
        )),
        Automation(APPROVED, "When a quote is approved", QuoteStatus.APPROVED, (
            {"type": "SEND_NOTIFICATION", "value": "Quote '{{title}}' was approved and published: share it."},
            {"type": "SET_PROPERTY", "property": "properties.approval_status", "value": "APPROVED"},
        )),
    )  # fmt: skip


def render(template: str | None, quote: Quote) -> str:
    """A workflow text with the quote's {{title}} and {{notes}} filled in."""
    text = (template or "").replace("{{title}}", quote.title)
    return text.replace("{{notes}}", quote.change_notes or "")


def to_snapshot(quote: Quote) -> dict[str, Any]:
    """Everything a subscriber is shown of a quote (never its public token), as JSON values."""
    return {
        "id": quote.id, "deal_id": quote.deal_id, "title": quote.title, "status": quote.status.value,
        "line_items": [[i.name, i.quantity, str(i.unit_price), str(i.discount_percent)] for i in quote.line_items],
        "currency": quote.currency, "terms": quote.terms, "created_by": quote.created_by,
        "expires_at": _iso(quote.expires_at), "approver_id": quote.approver_id,
        "change_notes": quote.change_notes, "published_at": _iso(quote.published_at),
        "properties": quote.properties, "created_at": _iso(quote.created_at),
        "updated_at": _iso(quote.updated_at), "version": quote.version,
        "signed_at": _iso(quote.signed_at), "signer_name": quote.signer_name, "signer_email": quote.signer_email,
    }  # fmt: skip


def from_snapshot(s: dict[str, Any]) -> Quote:
    items = tuple(LineItem(n, q, Decimal(p), Decimal(d)) for n, q, p, d in s["line_items"])
    return Quote(
        id=s["id"], deal_id=s["deal_id"], title=s["title"], status=QuoteStatus(s["status"]), line_items=items,
        currency=s["currency"], terms=s["terms"], expires_at=_time(s["expires_at"]), created_by=s["created_by"],
        approver_id=s["approver_id"], change_notes=s["change_notes"], public_token="",
        published_at=_time(s["published_at"]), properties=s.get("properties") or {},
        created_at=_time(s["created_at"]), updated_at=_time(s["updated_at"]), version=s["version"],
        signed_at=_time(s.get("signed_at")), signer_name=s.get("signer_name"), signer_email=s.get("signer_email"),
    )  # fmt: skip


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _label(status: QuoteStatus) -> str:
    return status.value.lower().replace("_", " ")


def _read_only(status: QuoteStatus) -> str:
    if status is QuoteStatus.PUBLISHED:
        return "A published quote is read-only: recall it to change it."
    if status is QuoteStatus.SIGNED:
        return "A signed quote is final: it cannot be edited."
    return f"A {_label(status)} quote cannot be edited."
