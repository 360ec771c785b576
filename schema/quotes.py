"""Quote types, the quote query, the quote mutations and the quote approval setting (seed 001)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.dataloader import DataLoader
from strawberry.scalars import JSON

from db import quotes as quote_store
from db import records as record_store
from domain.quotes import LineItem as DomainLineItem
from domain.quotes import Quote as DomainQuote
from domain.quotes import QuoteAction, QuoteSettings, line_total
from domain.records import ObjectType, Record
from domain.visibility import visible_owner_ids
from resolvers import quotes as use_cases
from resolvers.context import Context
from resolvers.result import Result

from .enums import QuoteStatus
from .errors import UserError, user_errors, value_or_none
from .info import Info
from .node_ids import Node, node_id
from .pagination import AFTER, BEFORE, FIRST, LAST, Connection, window
from .permissions import IsSuperAdmin
from .quote_lists import quote_page
from .record_queries import FILTER_GROUPS, SORT, FilterGroup, SortInput
from .users import User, load_user

if TYPE_CHECKING:
    from .records import Deal

UNSET: Any = strawberry.UNSET
PAGE_PATH = "/quotes/"


def quote_loader(ctx: Context) -> DataLoader[int, DomainQuote | None]:
    """Quotes the viewer may see, by id; others load as None (out of scope reads as not found)."""

    async def load(ids: Sequence[int]) -> list[DomainQuote | None]:
        owners = visible_owner_ids(ctx.me, ctx.me.user.view_scope)
        found = {q.id: q for q in await quote_store.get_quotes(ctx.pool, list(ids), owners, ctx.me.id)}
        return [found.get(i) for i in ids]

    return ctx.loader("quote", lambda: DataLoader(load_fn=load))


def deal_quotes_loader(ctx: Context) -> DataLoader[int, list[DomainQuote]]:
    """The quotes of deals already shown, oldest first, within the viewer's scope now: all of a deal
    the viewer sees, or only those awaiting the viewer's decision (the quote approver, DESIGN 2)."""

    async def load(ids: Sequence[int]) -> list[list[DomainQuote]]:
        by_deal: dict[int, list[DomainQuote]] = defaultdict(list)
        owners = visible_owner_ids(ctx.me, ctx.me.user.view_scope)
        for q in await quote_store.list_deal_quotes(ctx.pool, list(ids), owners, ctx.me.id):
            by_deal[q.deal_id].append(q)
        return [by_deal[i] for i in ids]

    return ctx.loader("deal_quotes", lambda: DataLoader(load_fn=load))


def quote_deal_loader(ctx: Context) -> DataLoader[int, Record | None]:
    """The deal of a quote already shown: seen with it, as an approver sees what awaits them."""

    async def load(ids: Sequence[int]) -> list[Record | None]:
        found = {r.id: r for r in await record_store.get_records(ctx.pool, ObjectType.DEAL, list(ids), None)}
        return [found.get(i) for i in ids]

    return ctx.loader("quote_deal", lambda: DataLoader(load_fn=load))


@strawberry.type(description="One line of a quote: a product or service, its quantity and price.")
class LineItem:
    name: str = strawberry.field(description="What is sold.")
    quantity: int = strawberry.field(description="How many units.")
    unit_price: Decimal = strawberry.field(description="The price of one unit, in the quote's currency.")
    discount_percent: float = strawberry.field(
        description="The discount on this line, in percent (0 to 100)."
    )
    amount: Decimal = strawberry.field(
        description="Quantity times unit price less the discount, to the cent."
    )

    @classmethod
    def from_domain(cls, i: DomainLineItem) -> LineItem:
        return cls(name=i.name, quantity=i.quantity, unit_price=i.unit_price,
                   discount_percent=float(i.discount_percent), amount=line_total(i))  # fmt: skip


@strawberry.type(description="A priced offer for a deal, sent to the prospect to sign once published.")
class Quote(Node):
    quote: strawberry.Private[DomainQuote]
    id: strawberry.ID = strawberry.field(description="The quote's global id.")
    title: str = strawberry.field(description="The quote's title, as the prospect sees it.")
    status: QuoteStatus = strawberry.field(
        description="Where the quote is in its life: draft, awaiting approval, published, signed, ..."
    )
    line_items: list[LineItem] = strawberry.field(description="The quote's lines, in order.")
    subtotal: Decimal = strawberry.field(
        description="The sum of the lines before discounts, in the quote's currency."
    )
    discount_total: Decimal = strawberry.field(
        description="The sum of the line discounts, in the quote's currency."
    )
    total: Decimal = strawberry.field(description="The sum of the line amounts, exact to the cent.")
    currency: str = strawberry.field(description="The ISO 4217 code of the quote's currency (the deal's).")
    terms: str | None = strawberry.field(description="The terms shown to the prospect; null when none.")
    expires_at: datetime | None = strawberry.field(
        description="When the offer expires; null when it does not."
    )
    published_at: datetime | None = strawberry.field(
        description="When the quote was published; null while it is not."
    )
    change_notes: str | None = strawberry.field(
        description="The approver's notes when changes were requested."
    )
    properties: JSON = strawberry.field(description="Custom properties, set by workflows among others.")
    version: int = strawberry.field(description="Incremented by every change of the quote.")
    share_url: str | None = strawberry.field(
        description="The published (or signed) quote's page, for the prospect to read and sign."
    )
    signed_at: datetime | None = strawberry.field(description="When the prospect signed it (status SIGNED).")
    signer_name: str | None = strawberry.field(description="The name the prospect signed with.")
    signer_email: str | None = strawberry.field(description="The email address the prospect signed with.")

    @classmethod
    def from_domain(cls, q: DomainQuote) -> Quote:
        totals = q.totals
        shared = q.status in (QuoteStatus.PUBLISHED, QuoteStatus.SIGNED) and bool(q.public_token)
        properties: Any = q.properties
        return cls(
            quote=q, id=node_id("Quote", q.id), title=q.title, status=q.status,
            line_items=[LineItem.from_domain(i) for i in q.line_items], subtotal=totals.subtotal,
            discount_total=totals.discount, total=totals.total, currency=q.currency, terms=q.terms,
            expires_at=q.expires_at, published_at=q.published_at, change_notes=q.change_notes,
            properties=properties, version=q.version,
            share_url=f"{PAGE_PATH}{q.public_token}" if shared else None, signed_at=q.signed_at,
            signer_name=q.signer_name, signer_email=q.signer_email,
        )  # fmt: skip

    @strawberry.field(description="The deal the quote is for.")
    async def deal(self, info: Info) -> Annotated[Deal, strawberry.lazy("schema.records")]:
        from .records import Deal

        found = await quote_deal_loader(info.context).load(self.quote.deal_id)
        assert found is not None, "a quote is shown only with its deal"
        return Deal(record=found)

    @strawberry.field(description="The user who created the quote.")
    async def created_by(self, info: Info) -> User:
        user = await load_user(info, self.quote.created_by)
        assert user is not None
        return user

    @strawberry.field(description="Who decides on it: set when it is sent for approval.")
    async def approver(self, info: Info) -> User | None:
        return await load_user(info, self.quote.approver_id)

    @strawberry.field(
        description="The quote's approval page in the front end (APP_URL/quotes/<id>/approval), to copy "
        "and open to approve or request changes; shown to its creator and its approver, null when "
        "APP_URL is not set."
    )
    def approval_url(self, info: Info) -> str | None:
        base = info.context.services.app_url
        if base is None or info.context.me.id not in (self.quote.created_by, self.quote.approver_id):
            return None
        return f"{base}{PAGE_PATH}{self.id}/approval"


async def load_quote(info: Info, quote_id: int | None) -> Quote | None:
    found = await quote_loader(info.context).load(quote_id) if quote_id is not None else None
    return Quote.from_domain(found) if found else None


async def deal_quotes(info: Info, deal_id: int) -> list[Quote]:
    return [Quote.from_domain(q) for q in await deal_quotes_loader(info.context).load(deal_id)]


@strawberry.type(description="Whether quotes need approval before they are published.")
class QuoteApprovalSettings:
    settings: strawberry.Private[QuoteSettings]

    @strawberry.field(description="Whether every quote needs approval.")
    def required(self) -> bool:
        return self.settings.approval_required

    @strawberry.field(description="Who approves quotes; null when approval is not required.")
    async def approver(self, info: Info) -> User | None:
        return await load_user(info, self.settings.approver_id)


@strawberry.input(description="One line of a quote.")
class LineItemInput:
    name: str = strawberry.field(description="What is sold.")
    quantity: int = strawberry.field(description="How many units, at least 1.")
    unit_price: Decimal = strawberry.field(description="The price of one unit, in the quote's currency.")
    discount_percent: float = strawberry.field(
        default=0.0, description="The discount on this line, in percent (0 to 100)."
    )

    def to_domain(self) -> DomainLineItem:
        return DomainLineItem(
            self.name.strip(), self.quantity, self.unit_price, Decimal(str(self.discount_percent))
        )


def _items(items: list[LineItemInput] | None) -> tuple[DomainLineItem, ...]:
    return tuple(i.to_domain() for i in items or ())


@strawberry.input(description="A new draft quote.")
class CreateQuoteInput:
    deal_id: strawberry.ID = strawberry.field(description="The deal the quote is for.")
    title: str = strawberry.field(description="The quote's title.")
    line_items: list[LineItemInput] | None = strawberry.field(
        default=None, description="The quote's lines, in order."
    )
    expires_at: datetime | None = strawberry.field(
        default=None, description="When the offer expires; left out, never."
    )
    terms: str | None = strawberry.field(default=None, description="The terms shown to the prospect.")
    currency: str | None = strawberry.field(default=None, description="Defaults to the deal's currency.")
    client_mutation_id: str | None = strawberry.field(
        default=None,
        description="An idempotency key: sending the same key again returns the first result and creates nothing twice.",
    )


@strawberry.input(
    description="Changes to an editable quote (draft, changes requested or recalled); a field left out stays as it is."
)
class UpdateQuoteInput:
    id: strawberry.ID = strawberry.field(description="The quote's id.")
    title: str | None = strawberry.field(default=UNSET, description="The new title. Left out: unchanged.")
    line_items: list[LineItemInput] | None = strawberry.field(
        default=UNSET, description="The new lines, replacing all of them. Left out: unchanged."
    )
    expires_at: datetime | None = strawberry.field(
        default=UNSET, description="The new expiry; null: never. Left out: unchanged."
    )
    terms: str | None = strawberry.field(default=UNSET, description="The new terms. Left out: unchanged.")
    currency: str | None = strawberry.field(
        default=UNSET, description="The new ISO 4217 currency code. Left out: unchanged."
    )
    expected_version: int | None = strawberry.field(
        default=None,
        description="The version you read; when the quote has changed since, nothing is changed and the error is VERSION_CONFLICT.",
    )

    def fields(self) -> dict[str, Any]:
        """What the client sent: a null title or currency is refused as empty, null line items clear."""
        sent = {
            "title": self.title,
            "expires_at": self.expires_at,
            "terms": self.terms,
            "currency": self.currency,
        }
        fields: dict[str, Any] = {k: v for k, v in sent.items() if v is not UNSET}
        for name in ("title", "currency"):
            if name in fields and fields[name] is None:
                fields[name] = ""
        if self.line_items is not UNSET:
            fields["line_items"] = _items(self.line_items)
        return fields


@strawberry.input(description="The quote to publish.")
class PublishQuoteInput:
    id: strawberry.ID = strawberry.field(description="The quote's id.")


@strawberry.input(description="The quote approver's approval.")
class ApproveQuoteInput:
    id: strawberry.ID = strawberry.field(description="The quote's id.")
    message: str | None = strawberry.field(
        default=None, description="An optional message to the quote's author."
    )


@strawberry.input(description="The quote approver's request for changes.")
class RequestQuoteChangesInput:
    id: strawberry.ID = strawberry.field(description="The quote's id.")
    notes: str = strawberry.field(description="What should change; shown as the quote's changeNotes.")


@strawberry.input(description="The quote to take back.")
class RecallQuoteInput:
    id: strawberry.ID = strawberry.field(description="The quote's id.")


@strawberry.input(description="The quote approval settings.")
class SetQuoteApprovalSettingsInput:
    required: bool = strawberry.field(description="Whether every quote needs approval.")
    approver_id: strawberry.ID | None = strawberry.field(
        default=None, description="The approver's user id; needed when approval is required."
    )


@strawberry.type(description="The result of a quote mutation.")
class QuotePayload:
    quote: Quote | None = strawberry.field(
        description="The quote as it is now; null when nothing was done (see userErrors)."
    )
    user_errors: list[UserError] = strawberry.field(description="Why nothing was done; empty on success.")


@strawberry.type(description="The result of setQuoteApprovalSettings.")
class SetQuoteApprovalSettingsPayload:
    ok: bool = strawberry.field(description="True when the settings were saved.")
    settings: QuoteApprovalSettings | None = strawberry.field(description="The settings as they are now.")
    user_errors: list[UserError] = strawberry.field(description="Why nothing was done; empty on success.")


def _payload(result: Result[DomainQuote]) -> QuotePayload:
    return QuotePayload(
        quote=value_or_none(result, lambda q: Quote.from_domain(q)), user_errors=user_errors(result)
    )


@strawberry.type
class QuoteQueries:
    @strawberry.field(description="One quote; null when no quote has this id or the viewer may not see it.")
    async def quote(
        self, info: Info, id: Annotated[strawberry.ID, strawberry.argument(description="The quote's id.")]
    ) -> Quote | None:
        return await load_quote(info, int(id))

    @strawberry.field(
        description="Quotes of deals in the viewer's scope and those awaiting the viewer's approval, newest "
        "first; filter on status, dealId, createdById, approverId, title, total and dates. Awaiting my "
        "approval: status EQ PENDING_APPROVAL AND approverId EQ <my id>."
    )
    async def quotes(
        self,
        info: Info,
        filter_groups: Annotated[list[FilterGroup] | None, FILTER_GROUPS] = None,
        first: Annotated[int | None, FIRST] = None,
        after: Annotated[str | None, AFTER] = None,
        sort: Annotated[SortInput | None, SORT] = None,
        last: Annotated[int | None, LAST] = None,
        before: Annotated[str | None, BEFORE] = None,
    ) -> Connection[Quote]:
        page = window(first, after, last, before)
        return await quote_page(info, filter_groups, page, sort, Quote.from_domain)

    @strawberry.field(description="Whether quotes need approval before publishing, and who approves them.")
    async def quote_approval_settings(self, info: Info) -> QuoteApprovalSettings:
        return QuoteApprovalSettings(settings=await use_cases.get_settings(info.context))


@strawberry.type
class QuoteMutations:
    @strawberry.mutation(
        permission_classes=[IsSuperAdmin],
        description="Require approval on all quotes, with one approver; installs the approval workflows.",
    )
    async def set_quote_approval_settings(
        self,
        info: Info,
        input: Annotated[
            SetQuoteApprovalSettingsInput,
            strawberry.argument(description="Whether approval is required and the approver."),
        ],
    ) -> SetQuoteApprovalSettingsPayload:
        approver = int(input.approver_id) if input.approver_id is not None else None
        result = await use_cases.set_approval_settings(info.context, input.required, approver)
        settings = value_or_none(result, lambda s: QuoteApprovalSettings(settings=s))
        return SetQuoteApprovalSettingsPayload(
            ok=settings is not None, settings=settings, user_errors=user_errors(result)
        )

    @strawberry.mutation(description="Create a draft quote on a deal.")
    async def create_quote(
        self,
        info: Info,
        input: Annotated[
            CreateQuoteInput,
            strawberry.argument(description="The deal, the title, the line items and the expiry."),
        ],
    ) -> QuotePayload:
        draft = use_cases.QuoteDraft(
            title=input.title, line_items=_items(input.line_items), expires_at=input.expires_at,
            terms=input.terms, currency=input.currency,
        )  # fmt: skip
        key = input.client_mutation_id
        return _payload(
            await use_cases.create_quote(info.context, int(input.deal_id), draft, idempotency_key=key)
        )

    @strawberry.mutation(description="Change a draft quote's title, line items or expiry.")
    async def update_quote(
        self,
        info: Info,
        input: Annotated[
            UpdateQuoteInput,
            strawberry.argument(
                description="The quote and the fields to set; fields left out stay as they are."
            ),
        ],
    ) -> QuotePayload:
        result = await use_cases.update_quote(
            info.context, int(input.id), input.fields(), input.expected_version
        )
        return _payload(result)

    @strawberry.mutation(
        description="Straight to PUBLISHED, or to PENDING_APPROVAL when approval is required."
    )
    async def publish_quote(
        self,
        info: Info,
        input: Annotated[PublishQuoteInput, strawberry.argument(description="The quote to publish.")],
    ) -> QuotePayload:
        return _payload(await use_cases.act(info.context, int(input.id), QuoteAction.PUBLISH))

    @strawberry.mutation(description="The approver approves and publishes.")
    async def approve_quote(
        self,
        info: Info,
        input: Annotated[
            ApproveQuoteInput, strawberry.argument(description="The quote and an optional message.")
        ],
    ) -> QuotePayload:
        return _payload(await use_cases.act(info.context, int(input.id), QuoteAction.APPROVE, input.message))

    @strawberry.mutation(description="The approver sends a quote back to its author (CHANGES_REQUESTED).")
    async def request_quote_changes(
        self,
        info: Info,
        input: Annotated[
            RequestQuoteChangesInput, strawberry.argument(description="The quote and what should change.")
        ],
    ) -> QuotePayload:
        result = await use_cases.act(info.context, int(input.id), QuoteAction.REQUEST_CHANGES, input.notes)
        return _payload(result)

    @strawberry.mutation(description="Back to RECALLED: editable as a draft, needing approval again.")
    async def recall_quote(
        self,
        info: Info,
        input: Annotated[RecallQuoteInput, strawberry.argument(description="The quote to recall.")],
    ) -> QuotePayload:
        return _payload(await use_cases.act(info.context, int(input.id), QuoteAction.RECALL))
