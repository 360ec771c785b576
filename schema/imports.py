"""Imports: startImport (a CSV string or an uploaded file), import(id) and the progress stream."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from typing import Annotated, Any

import strawberry
from strawberry.file_uploads import Upload

from domain.codes import RuleCode
from domain.imports import ImportJob
from domain.records import ObjectType
from resolvers import imports as use_cases
from resolvers.imports import CHUNK_BYTES
from resolvers.result import Refused

from .errors import UserError, user_errors, value_or_none
from .info import Info
from .node_ids import Node, node_id


@strawberry.type(description="A row that was not imported.")
class ImportRowError:
    line: int = strawberry.field(description="The file line the row starts on; line 1 is the header.")
    message: str = strawberry.field(description="Why, for people.")
    code: str = strawberry.field(description="Why, as a stable code.")


@strawberry.type(description="A CSV import and its progress.")
class Import(Node):
    id: strawberry.ID = strawberry.field(description="The import's global id.")
    object_type: ObjectType = strawberry.field(description="The kind of record the rows become.")
    status: str = strawberry.field(description="QUEUED, RUNNING, DONE or FAILED.")
    rows_total: int | None = strawberry.field(description="How many rows the file has; null until counted.")
    rows_processed: int = strawberry.field(description="How many rows were handled so far.")
    rows_created: int = strawberry.field(description="How many rows created a record.")
    rows_updated: int = strawberry.field(description="How many rows updated an existing record.")
    error_count: int = strawberry.field(description="How many rows were not imported.")
    warnings: list[str] = strawberry.field(description="Columns that were ignored, and why.")
    failure: str | None = strawberry.field(
        description="Why the whole import failed (status FAILED); null otherwise."
    )
    job: strawberry.Private[ImportJob]

    @strawberry.field(description="Rows that were not imported, in line order, with the reason.")
    async def errors(
        self,
        info: Info,
        first: Annotated[
            int | None, strawberry.argument(description="At most this many rows (all of them when left out).")
        ] = None,
        after_line: Annotated[
            int, strawberry.argument(description="Only rows after this line of the file (0: from the start).")
        ] = 0,
    ) -> list[ImportRowError]:
        found = await use_cases.list_errors(info.context, self.job, first, after_line)
        return [ImportRowError(line=e.line, message=e.message, code=e.code.value) for e in found]

    @classmethod
    def from_domain(cls, job: ImportJob) -> Import:
        return cls(
            id=node_id("Import", job.id),
            object_type=job.object_type,
            status=job.status.value,
            rows_total=job.rows_total,
            rows_processed=job.rows_processed,
            rows_created=job.rows_created,
            rows_updated=job.rows_updated,
            error_count=job.error_count,
            warnings=list(job.warnings),
            failure=job.failure,
            job=job,
        )


@strawberry.input(description="A CSV file to import: give its text in `csv` or upload it as `file`.")
class StartImportInput:
    object_type: ObjectType = strawberry.field(description="The kind of record the rows become.")
    csv: str | None = strawberry.field(default=None, description="The file's text, header line first.")
    file: Upload | None = strawberry.field(
        default=None, description="The file, sent per the GraphQL multipart request spec."
    )


@strawberry.type(description="The result of startImport.")
class StartImportPayload:
    import_: Import | None = strawberry.field(
        description="The new import as it is now; null when nothing was done (see userErrors).", name="import"
    )
    user_errors: list[UserError] = strawberry.field(description="Why nothing was done; empty on success.")


async def _text(csv: str) -> AsyncIterator[bytes]:
    yield csv.encode()


async def _upload(file: Any) -> AsyncIterator[bytes]:
    while chunk := await file.read(CHUNK_BYTES):
        yield chunk


@strawberry.type
class ImportQueries:
    @strawberry.field(name="import", description="An import you started (any import, for super admins).")
    async def import_(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The import's id, from startImport.")],
    ) -> Import | None:
        job = await use_cases.get_import(info.context, int(id))
        return Import.from_domain(job) if job else None


@strawberry.type
class ImportMutations:
    @strawberry.mutation(description="Queue a CSV import of one object type; follow it with importProgress.")
    async def start_import(
        self,
        info: Info,
        input: Annotated[
            StartImportInput,
            strawberry.argument(description="The object type and the CSV, as text or as an uploaded file."),
        ],
    ) -> StartImportPayload:
        uploaded = input.file is not None and hasattr(input.file, "read")
        if (input.csv is None) == (input.file is None) or (input.file is not None and not uploaded):
            refused = Refused.one(RuleCode.INVALID, "send either csv or an uploaded file", ("csv",))
            return StartImportPayload(import_=None, user_errors=user_errors(refused))
        source = _text(input.csv) if input.csv is not None else _upload(input.file)
        try:
            result = await use_cases.start_import(info.context, input.object_type, source)
        finally:
            if uploaded:
                await input.file.close()  # type: ignore[union-attr]  # a starlette UploadFile
        return StartImportPayload(
            import_=value_or_none(result, Import.from_domain), user_errors=user_errors(result)
        )


async def follow_import(info: Info, import_id: strawberry.ID) -> AsyncGenerator[Import, None]:
    """The import now, then each batch's progress, until it is DONE or FAILED."""
    async for job in use_cases.follow(info.context, int(import_id)):
        yield Import.from_domain(job)
