"""`dealflow seed-demo`: a demo account, so that GraphiQL shows a living board from the first run.

A super admin, eight users in two teams (primary and additional members, two approvers, some with
TEAM or OWNED scopes), the default "Sales pipeline" and a "Renewals" pipeline, 50 companies, 200
contacts (each with one primary company), 300 deals with amounts, owners, close dates, contacts
and companies, and one approval process on the Sales pipeline (two approvers, ANY) with a few
deals awaiting a decision.

The bulk (records, associations, their creation history) is written in one transaction with a few
set-based statements. The approval process, the moves into the approval stage and the decisions go
through the resolvers, as a client's mutations would, so approvals, history, notifications, emails
and events are exactly what the app itself writes. Deterministic for a given `seed`. A second run
finds the demo admin and refuses with `DemoExists`, changing nothing.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

import asyncpg
from broadcaster import Broadcast

from db import events as event_store
from db import pipelines as pipeline_store
from db import records as record_store
from db import users as user_store
from db.pool import Conn
from domain.approvals import Action
from domain.lifecycle import ORDER, LifecycleStage
from domain.records import ChangeSource, ObjectType, Pipeline, Record, Scope, StageKind, User, Viewer
from resolvers import approval_process, approvals, snapshots
from resolvers import records as record_cases
from resolvers.context import Context, Services
from resolvers.mailer import Mailer
from resolvers.result import Ok, Refused, Result
from subscriptions.bus import EventBus
from subscriptions.relay import Relay

DEMO_DOMAIN = "demo.dealflow.example"
ADMIN_EMAIL = f"admin@{DEMO_DOMAIN}"
SALES_PIPELINE = "Sales pipeline"  # made by migration 0002; created here only if it is gone
RENEWALS_PIPELINE = "Renewals"
TEAMS = ("Enterprise", "Mid-market")
CONTACTS = 200
COMPANIES = 50
ACCOUNTS = 36  # companies with deals; the others (and their contacts) are still prospects
DEALS = 300
RENEWAL_DEALS = 70
PENDING_DEALS = 6  # moved into the approval stage; one is then approved, one sent back for changes
APPROVAL_NOTE = "Check the discount and the payment terms before approving; over $50k needs a signed MSA."
T = TypeVar("T")
SEED_LOCK = 7_362_010_001  # an advisory lock key: two seed-demo runs at once do not both seed

SALES_STAGES: Sequence[tuple[str, float, StageKind]] = (
    ("Appointment scheduled", 0.2, StageKind.OPEN),
    ("Qualified to buy", 0.4, StageKind.OPEN),
    ("Presentation scheduled", 0.6, StageKind.OPEN),
    ("Decision maker bought-in", 0.8, StageKind.OPEN),
    ("Contract sent", 0.9, StageKind.OPEN),
    ("Closed won", 1.0, StageKind.CLOSED_WON),
    ("Closed lost", 0.0, StageKind.CLOSED_LOST),
)
RENEWAL_STAGES: Sequence[tuple[str, float, StageKind]] = (
    ("Renewal due", 0.5, StageKind.OPEN),
    ("In negotiation", 0.7, StageKind.OPEN),
    ("Renewed", 1.0, StageKind.CLOSED_WON),
    ("Churned", 0.0, StageKind.CLOSED_LOST),
)
SALES_WEIGHTS = (20, 18, 15, 12, 12, 13, 10)  # deals per stage, by display order, relatively
RENEWAL_WEIGHTS = (30, 25, 30, 15)


@dataclass(frozen=True, slots=True)
class DemoUser:
    name: str
    email: str
    approver: bool = False
    view: Scope = Scope.ALL
    edit: Scope = Scope.ALL
    primary_team: str | None = None
    additional_teams: tuple[str, ...] = ()


def _role(u: DemoUser) -> str:
    teams = [f"{u.primary_team} (primary)"] if u.primary_team else []
    teams += [f"{t} (additional)" for t in u.additional_teams]
    approver = "approver, " if u.approver else ""
    return f"{approver}view {u.view.value}, edit {u.edit.value}; " + ", ".join(teams)


def _email(first: str) -> str:
    return f"{first.lower()}@{DEMO_DOMAIN}"


ENTERPRISE, MID = TEAMS
USERS: tuple[DemoUser, ...] = (
    DemoUser("Grace Hopper", _email("grace"), approver=True, primary_team=ENTERPRISE, additional_teams=(MID,)),
    DemoUser("Alan Turing", _email("alan"), view=Scope.TEAM, edit=Scope.TEAM, primary_team=ENTERPRISE),
    DemoUser("Barbara Liskov", _email("barbara"), view=Scope.OWNED, edit=Scope.OWNED, primary_team=ENTERPRISE),
    DemoUser("Katherine Johnson", _email("katherine"), edit=Scope.TEAM, primary_team=ENTERPRISE,
             additional_teams=(MID,)),
    DemoUser("Margaret Hamilton", _email("margaret"), approver=True, edit=Scope.TEAM, primary_team=MID),
    DemoUser("Dennis Ritchie", _email("dennis"), view=Scope.TEAM, edit=Scope.OWNED, primary_team=MID),
    DemoUser("Frances Allen", _email("frances"), view=Scope.OWNED, edit=Scope.OWNED, primary_team=MID,
             additional_teams=(ENTERPRISE,)),
    DemoUser("Ken Thompson", _email("ken"), view=Scope.TEAM, edit=Scope.TEAM, primary_team=MID),
)  # fmt: skip

FIRST_NAMES = (
    "Ada", "Alice", "Amir", "Ana", "Ben", "Carla", "Chen", "Daniel", "Elena", "Emeka", "Farah", "Felix",
    "Grete", "Hana", "Hugo", "Ines", "Ivan", "Jamal", "Jonas", "Julia", "Kenji", "Lara", "Leo", "Lucia",
    "Malik", "Maya", "Nadia", "Nils", "Olga", "Omar", "Paula", "Priya", "Rafael", "Rosa", "Sami", "Sofia",
    "Tariq", "Tomas", "Uma", "Vera", "Wei", "Yara", "Yusuf", "Zoe",
)  # fmt: skip
LAST_NAMES = (
    "Andersen", "Baker", "Costa", "Dubois", "Eriksen", "Fischer", "Garcia", "Haddad", "Ivanova", "Jensen",
    "Kowalski", "Larsen", "Moreau", "Nakamura", "Okafor", "Petrov", "Quinn", "Rossi", "Schmidt", "Tanaka",
    "Usman", "Varga", "Weber", "Xu", "Yilmaz", "Zhang",
)  # fmt: skip
COMPANY_HEADS = (
    "Acme", "Northwind", "Globex", "Initech", "Umbrella", "Stark", "Wayne", "Tyrell", "Soylent", "Cyberdyne",
    "Hooli", "Vandelay", "Wonka", "Gringotts", "Oscorp", "Aperture", "Massive", "Blue Sun", "Monarch", "Pied Piper",
)  # fmt: skip
COMPANY_TAILS = (
    "Robotics",
    "Logistics",
    "Labs",
    "Foods",
    "Health",
    "Energy",
    "Analytics",
    "Systems",
    "Media",
)
PRODUCTS = ("Platform licence", "Support plan", "Onboarding", "Analytics add-on", "Seats expansion", "Pilot")
LEAD_SOURCES = ("Inbound", "Referral", "Outbound", "Event", "Partner")


class DemoExists(Exception):
    """The database already holds the demo account."""


class SeedFailed(Exception):
    """A resolver refused a step of the seed (the bulk data is already committed)."""


@dataclass(frozen=True, slots=True)
class SeedSummary:
    admin_token: str
    tokens: dict[str, str]  # every demo user's email -> API token (the admin's included)
    roles: dict[str, str]  # every demo user's email -> what it is for (permissions, scopes, teams)
    pipeline_ids: tuple[int, ...]
    companies: int
    contacts: int
    deals: int
    pending_deal_ids: tuple[int, ...]


# ---------------------------------------------------------------------------------------------
# Generated data (pure, from random.Random(seed))


@dataclass
class CompanyRow:
    name: str
    domain: str
    owner_id: int
    created_at: datetime
    lifecycle_stage: str | None = None
    close_date: datetime | None = None
    days_to_close: int | None = None


@dataclass
class ContactRow:
    email: str
    first_name: str
    last_name: str
    company: int  # index into the companies; its primary company
    owner_id: int
    created_at: datetime
    lifecycle_stage: str | None = None
    close_date: datetime | None = None
    days_to_close: int | None = None
    other_company: int | None = None  # a second, non-primary company association


@dataclass
class DealRow:
    name: str
    amount: Decimal
    pipeline_id: int
    stage_id: int
    owner_id: int
    close_date: datetime
    created_at: datetime
    company: int
    contacts: list[int]
    source: str
    won: bool


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text.lower()).strip("-")


def _later(stage: str | None, other: str | None) -> str | None:
    """The later of two lifecycle stages in display order (automation moves only forward)."""
    if stage is None or other is None:
        return stage or other
    return max(stage, other, key=lambda s: ORDER.index(LifecycleStage(s)))


def _days_before(now: datetime, rng: random.Random, low: int, high: int) -> datetime:
    return now - timedelta(days=rng.randint(low, high), minutes=rng.randint(0, 24 * 60 - 1))


def make_companies(rng: random.Random, owners: Sequence[int], now: datetime) -> list[CompanyRow]:
    names = [f"{h} {t}" for h in COMPANY_HEADS for t in COMPANY_TAILS]
    picked = rng.sample(names, COMPANIES)
    return [
        CompanyRow(name, f"{_slug(name)}.example", rng.choice(owners), _days_before(now, rng, 200, 400))
        for name in picked
    ]


def make_contacts(rng: random.Random, companies: Sequence[CompanyRow], now: datetime) -> list[ContactRow]:
    contacts: list[ContactRow] = []
    emails: set[str] = set()
    for i in range(CONTACTS):
        company = i % COMPANIES if i < 2 * COMPANIES else rng.randrange(COMPANIES)  # each has some
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        local, n = f"{first}.{last}".lower(), 1
        while f"{local}@{companies[company].domain}" in emails:
            n += 1
            local = f"{first}.{last}{n}".lower()
        email = f"{local}@{companies[company].domain}"
        emails.add(email)
        other = rng.randrange(COMPANIES) if rng.random() < 0.1 else None
        contacts.append(
            ContactRow(
                email=email,
                first_name=first,
                last_name=last,
                company=company,
                owner_id=companies[company].owner_id,
                created_at=_days_before(now, rng, 150, 300),
                lifecycle_stage=rng.choice(ORDER[:4]).value,  # subscriber .. sales qualified lead
                other_company=other if other != company else None,
            )
        )
    return contacts


def _weighted_stages(rng: random.Random, pipeline: Pipeline, weights: Sequence[int], n: int) -> list[int]:
    stages = [s.id for s in pipeline.stages if not s.is_approval_stage]
    return rng.choices(stages, weights=weights[: len(stages)], k=n)


def make_deals(
    rng: random.Random,
    sales: Pipeline,
    renewals: Pipeline,
    companies: Sequence[CompanyRow],
    contacts: Sequence[ContactRow],
    owners: Sequence[int],
    now: datetime,
) -> list[DealRow]:
    kinds = {s.id: s.kind for p in (sales, renewals) for s in p.stages}
    by_company: dict[int, list[int]] = {}
    for i, c in enumerate(contacts):
        by_company.setdefault(c.company, []).append(i)
    placed = [(sales.id, s) for s in _weighted_stages(rng, sales, SALES_WEIGHTS, DEALS - RENEWAL_DEALS)]
    placed += [(renewals.id, s) for s in _weighted_stages(rng, renewals, RENEWAL_WEIGHTS, RENEWAL_DEALS)]
    deals = []
    for pipeline_id, stage_id in placed:
        company = rng.randrange(ACCOUNTS)
        people = by_company.get(company, [])
        chosen = rng.sample(people, min(len(people), rng.randint(1, 3)))
        created = _days_before(now, rng, 1, 150)
        kind = kinds[stage_id]
        if kind is StageKind.OPEN:
            close = now + timedelta(days=rng.randint(5, 120))
        else:
            close = min(now - timedelta(hours=1), created + timedelta(days=rng.randint(10, 90)))
        label = "Renewal" if pipeline_id == renewals.id else rng.choice(PRODUCTS)
        deals.append(
            DealRow(
                name=f"{companies[company].name} - {label}",
                amount=Decimal(rng.randrange(10, 1500) * 100),
                pipeline_id=pipeline_id,
                stage_id=stage_id,
                owner_id=companies[company].owner_id if rng.random() < 0.7 else rng.choice(owners),
                close_date=close.replace(hour=17, minute=0, second=0, microsecond=0),
                created_at=created,
                company=company,
                contacts=chosen,
                source=rng.choice(LEAD_SOURCES),
                won=kind is StageKind.CLOSED_WON,
            )
        )
    return deals


def apply_lifecycle(
    companies: Sequence[CompanyRow], contacts: Sequence[ContactRow], deals: Sequence[DealRow]
) -> None:
    """What lifecycle automation (seeds 002, 004, default settings) would have made of this history:
    records with a deal become opportunities, with a won deal customers (with close date and days to
    close); a contact follows its primary company forward."""
    for deal in deals:
        stage = LifecycleStage.CUSTOMER.value if deal.won else LifecycleStage.OPPORTUNITY.value
        records: list[CompanyRow | ContactRow] = [
            companies[deal.company],
            *(contacts[i] for i in deal.contacts),
        ]
        for r in records:
            r.lifecycle_stage = _later(r.lifecycle_stage, stage)
            if deal.won and (r.close_date is None or deal.close_date > r.close_date):
                r.close_date = deal.close_date
                r.days_to_close = max(0, (deal.close_date - r.created_at).days)
    for contact in contacts:
        contact.lifecycle_stage = _later(contact.lifecycle_stage, companies[contact.company].lifecycle_stage)


# ---------------------------------------------------------------------------------------------
# Writing it


async def _insert(conn: Conn, object_type: ObjectType, columns: Sequence[str], arrays: Sequence[str],
                  values: Sequence[Sequence[Any]]) -> list[Record]:  # fmt: skip
    """One INSERT ... SELECT FROM unnest(...) for a whole batch; the records back, in input order."""
    table = record_store.TABLES[object_type].name
    params = ", ".join(f"${i}::{t}[]" for i, t in enumerate(arrays, start=1))
    rows = await conn.fetch(
        f"""
        INSERT INTO {table} AS r ({", ".join(columns)})
        SELECT {", ".join(f"t.{c}" for c in columns)}
          FROM unnest({params}) WITH ORDINALITY AS t ({", ".join(columns)}, n)
         ORDER BY t.n
        RETURNING {record_store.select_list(object_type)}
        """,  # noqa: S608 (names from TABLES and constants here)
        *values,
    )
    # INSERT ... SELECT ... ORDER BY hands out serial ids in that order; RETURNING order is not promised.
    return sorted((record_store.record_from_row(object_type, r) for r in rows), key=lambda r: r.id)


async def _history(conn: Conn, object_type: ObjectType, records: Sequence[Record], admin_id: int) -> None:
    """Each created record's values in its property history, as create_record writes them (source IMPORT)."""
    rows = [row for r in records for row in snapshots.history_rows(None, r)]
    await record_store.insert_history(
        conn, object_type, rows, source=ChangeSource.IMPORT, changed_by=admin_id
    )


async def _pipelines(conn: Conn) -> tuple[Pipeline, Pipeline]:
    existing = await pipeline_store.list_pipelines(conn)
    sales = next((p for p in existing if p.label == SALES_PIPELINE), None)
    if sales is None:
        sales = await pipeline_store.insert_pipeline(conn, SALES_PIPELINE, SALES_STAGES)
    renewals = await pipeline_store.insert_pipeline(conn, RENEWALS_PIPELINE, RENEWAL_STAGES)
    return sales, renewals


async def _users(conn: Conn) -> tuple[User, list[User], dict[str, str]]:
    admin = await user_store.insert_user(conn, email=ADMIN_EMAIL, name="Demo Admin", is_super_admin=True)
    tokens = {admin.email: await user_store.insert_token(conn, admin.id)}
    users: list[User] = []
    for u in USERS:
        user = await user_store.insert_user(
            conn,
            email=u.email,
            name=u.name,
            can_approve_deals=u.approver,
            view_scope=u.view,
            edit_scope=u.edit,
        )
        tokens[user.email] = await user_store.insert_token(conn, user.id)
        users.append(user)
    for team_name in TEAMS:
        team = await user_store.insert_team(conn, team_name)
        members = list(zip(USERS, users, strict=True))
        primary = [user.id for spec, user in members if spec.primary_team == team_name]
        additional = [user.id for spec, user in members if team_name in spec.additional_teams]
        await user_store.insert_team_members(conn, team.id, primary, primary=True)
        await user_store.insert_team_members(conn, team.id, additional, primary=False)
    return admin, users, tokens


async def _bulk(
    conn: Conn, rng: random.Random
) -> tuple[User, list[User], dict[str, str], Pipeline, list[Record]]:
    """Users, teams, pipelines, companies, contacts, deals and their associations: one transaction."""
    await conn.execute("SELECT pg_advisory_xact_lock($1)", SEED_LOCK)
    if await conn.fetchval("SELECT 1 FROM users WHERE lower(email) = $1", ADMIN_EMAIL):
        raise DemoExists(
            f"the demo account is already here (user {ADMIN_EMAIL}); seed-demo changes nothing. "
            "Use a fresh database (or another DEALFLOW_DATA_DIR) to seed again."
        )
    now = datetime.now(UTC).replace(microsecond=0)
    admin, users, tokens = await _users(conn)
    sales, renewals = await _pipelines(conn)
    reps = [u.id for u in users]
    companies = make_companies(rng, reps, now)
    contacts = make_contacts(rng, companies, now)
    deals = make_deals(rng, sales, renewals, companies, contacts, reps, now)
    apply_lifecycle(companies, contacts, deals)

    company_records = await _insert(
        conn,
        ObjectType.COMPANY,
        ("name", "domain", "owner_id", "lifecycle_stage", "close_date", "days_to_close", "created_at", "updated_at"),
        ("text", "text", "bigint", "text", "timestamptz", "int", "timestamptz", "timestamptz"),
        [[c.name for c in companies], [c.domain for c in companies], [c.owner_id for c in companies],
         [c.lifecycle_stage for c in companies], [c.close_date for c in companies],
         [c.days_to_close for c in companies], [c.created_at for c in companies],
         [c.created_at for c in companies]],
    )  # fmt: skip
    company_ids = [r.id for r in company_records]
    contact_records = await _insert(
        conn,
        ObjectType.CONTACT,
        ("email", "first_name", "last_name", "company_name", "owner_id", "lifecycle_stage", "close_date",
         "days_to_close", "created_at", "updated_at"),
        ("text", "text", "text", "text", "bigint", "text", "timestamptz", "int", "timestamptz", "timestamptz"),
        [[c.email for c in contacts], [c.first_name for c in contacts], [c.last_name for c in contacts],
         [companies[c.company].name for c in contacts], [c.owner_id for c in contacts],
         [c.lifecycle_stage for c in contacts], [c.close_date for c in contacts],
         [c.days_to_close for c in contacts], [c.created_at for c in contacts],
         [c.created_at for c in contacts]],
    )  # fmt: skip
    contact_ids = [r.id for r in contact_records]
    deal_records = await _insert(
        conn,
        ObjectType.DEAL,
        ("name", "amount", "pipeline_id", "stage_id", "owner_id", "close_date", "properties", "created_at",
         "updated_at"),
        ("text", "numeric", "bigint", "bigint", "bigint", "timestamptz", "jsonb", "timestamptz", "timestamptz"),
        [[d.name for d in deals], [d.amount for d in deals], [d.pipeline_id for d in deals],
         [d.stage_id for d in deals], [d.owner_id for d in deals], [d.close_date for d in deals],
         [{"leadSource": d.source} for d in deals], [d.created_at for d in deals],
         [d.created_at for d in deals]],
    )  # fmt: skip

    links = [(contact_ids[i], company_ids[c.company], True) for i, c in enumerate(contacts)]
    links += [
        (contact_ids[i], company_ids[c.other_company], False)
        for i, c in enumerate(contacts)
        if c.other_company is not None
    ]
    await conn.execute(
        """
        INSERT INTO contact_companies (contact_id, company_id, is_primary)
        SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::boolean[])
        """,
        *(list(column) for column in zip(*links, strict=True)),
    )
    deal_contacts = [
        (r.id, contact_ids[i]) for r, d in zip(deal_records, deals, strict=True) for i in d.contacts
    ]
    deal_companies = [(r.id, company_ids[d.company]) for r, d in zip(deal_records, deals, strict=True)]
    for table, column, pairs in (
        ("deal_contacts", "contact_id", deal_contacts),
        ("deal_companies", "company_id", deal_companies),
    ):
        await conn.execute(
            f"INSERT INTO {table} (deal_id, {column}) SELECT * FROM unnest($1::bigint[], $2::bigint[])",  # noqa: S608
            [p[0] for p in pairs],
            [p[1] for p in pairs],
        )
    await _history(conn, ObjectType.COMPANY, company_records, admin.id)
    await _history(conn, ObjectType.CONTACT, contact_records, admin.id)
    await _history(conn, ObjectType.DEAL, deal_records, admin.id)
    return admin, users, tokens, sales, deal_records


# ---------------------------------------------------------------------------------------------
# Through the resolvers


def offline_services(pool: asyncpg.Pool) -> Services:
    """What the resolvers need outside a server: the pool, and a relay and mailer never started.

    The events and emails the resolvers write are in the outbox tables; whoever used these services
    stamps the events when done (db.events.stamp), which wakes a running server's relay to publish
    them (without one, the next server's relay stamps and publishes them), and its mailer sends them.
    """
    bus = EventBus(Broadcast("memory://"))
    return Services(pool=pool, bus=bus, relay=Relay(pool, bus), mailer=Mailer(pool, None))


def _ok(result: Result[T], step: str) -> T:
    if isinstance(result, Refused):
        raise SeedFailed(f"{step}: " + "; ".join(p.message for p in result.problems))
    assert isinstance(result, Ok)
    return result.value


async def _approvals(
    pool: asyncpg.Pool, services: Services, admin: User, users: Sequence[User], sales: Pipeline,
    deals: Sequence[Record],
) -> tuple[int, ...]:  # fmt: skip
    """Enable the Sales approval process, move a few deals into its stage, decide on two of them."""

    async def as_user(user: User) -> Context:
        teammates = await pool.fetchval(
            """
            SELECT ARRAY(SELECT DISTINCT other.user_id FROM team_members mine
                          JOIN team_members other ON other.team_id = mine.team_id WHERE mine.user_id = $1)
            """,
            user.id,
        )
        return Context(services=services, viewer=Viewer(user=user, teammate_ids=frozenset(teammates)))

    approvers = [u for u in users if u.can_approve_deals]
    admin_ctx = await as_user(admin)
    settings = approval_process.ProcessSettings(
        approver_ids=[u.id for u in approvers], mode="ANY", note=APPROVAL_NOTE, probability=0.9
    )
    pipeline = _ok(
        await approval_process.enable(admin_ctx, sales.id, settings), "enable the approval process"
    )
    gate = next(s for s in pipeline.stages if s.is_approval_stage)
    before_gate = {s.id for s in pipeline.stages if s.display_order < gate.display_order}
    # The latest stage before the gate first: those deals are about to go for approval.
    order = {s.id: s.display_order for s in pipeline.stages}
    candidates = sorted(
        (
            d
            for d in deals
            if d.get("pipeline_id") == sales.id
            and d.get("stage_id") in before_gate
            and d.owner_id not in {a.id for a in approvers}
        ),
        key=lambda d: (-order[d.ref("stage_id")], d.id),
    )
    moved: list[int] = []
    for deal in candidates[:PENDING_DEALS]:
        change = record_cases.Change(ObjectType.DEAL, deal.id, {"stage_id": gate.id})
        _ok(await record_cases.update_record(admin_ctx, change), f"move deal {deal.id} to {gate.label}")
        moved.append(deal.id)
    if len(moved) >= 2 and len(approvers) >= 2:
        first, second = await as_user(approvers[0]), await as_user(approvers[1])
        approved = await approvals.act(first, moved[0], Action.APPROVE, "Terms are fine. Go ahead.")
        _ok(approved, f"approve deal {moved[0]}")
        sent_back = await approvals.act(
            second, moved[1], Action.REQUEST_CHANGES, "The discount is over 20%: please justify it."
        )
        _ok(sent_back, f"request changes on deal {moved[1]}")
    return tuple(moved)


async def seed_demo(pool: asyncpg.Pool, *, seed: int = 1) -> SeedSummary:
    """Fill the database behind `pool` with the demo account; raise DemoExists if it is there already."""
    rng = random.Random(seed)
    async with pool.acquire() as conn, conn.transaction():
        admin, users, tokens, sales, deals = await _bulk(conn, rng)
    services = offline_services(pool)
    moved = await _approvals(pool, services, admin, users, sales, deals)
    await event_store.stamp(pool)
    pipelines = await pipeline_store.list_pipelines(pool)
    return SeedSummary(
        admin_token=tokens[admin.email],
        tokens=tokens,
        roles={ADMIN_EMAIL: "super admin", **{u.email: _role(u) for u in USERS}},
        pipeline_ids=tuple(p.id for p in pipelines),
        companies=COMPANIES,
        contacts=CONTACTS,
        deals=len(deals),
        pending_deal_ids=moved,
    )
