"""`/v1/files`: upload audio once, transcribe it later by `file_id` (Mistral's files API, audio only)."""

from __future__ import annotations

import mimetypes
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from starlette.datastructures import UploadFile
from starlette.requests import ClientDisconnect
from starlette.types import Message, Receive

from bot.config import Settings
from bot.errors import VoxnoteError
from bot.service.api_errors import ApiError, from_voxnote_error
from bot.service.auth import authenticate
from bot.service.disconnect import ClientGone
from bot.service.intake import DRAIN_LIMIT, drain
from bot.service.files import QuotaExceeded, Upload, UploadQuota, UploadsBusy
from bot.service.state import service_of

router = APIRouter(prefix="/v1/files", tags=["files"])

UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "purpose": {"type": "string", "default": "audio"},
                    },
                }
            }
        },
    }
}


@router.post("", summary="Upload a file", openapi_extra=UPLOAD_BODY)
async def upload_file(request: Request, owner: str = Depends(authenticate)) -> dict[str, Any]:
    service = service_of(request)
    # Admitted (a slot, a reservation of the declared size) or refused before one body byte is read.
    try:
        upload = await service.store.begin_upload(owner, _declared_length(request), upload_quota(service.settings))
    except VoxnoteError as exc:
        raise files_error(exc) from exc
    try:
        body = Request(request.scope, _within_allowance(request.receive, upload))
        async with body.form(max_files=1, max_fields=10, max_part_size=4096) as form:
            file = form.get("file")
            if not isinstance(file, UploadFile):
                raise ApiError(422, "file: send the file as a multipart part named `file`", code="invalid_value",
                               param="file")
            purpose = form.get("purpose")
            purpose = purpose.strip() if isinstance(purpose, str) and purpose.strip() else "audio"
            filename = file.filename or "audio"
            mimetype = file.content_type
            if not mimetype or mimetype == "application/octet-stream":
                mimetype = mimetypes.guess_type(filename)[0] or mimetype
            stored = await service.store.save(
                file.file, filename=filename, purpose=purpose, mimetype=mimetype, owner=owner, upload=upload
            )
    except ClientDisconnect as exc:
        raise ClientGone() from exc
    except VoxnoteError as exc:
        raise files_error(exc, "file") from exc
    finally:
        upload.release()  # after the form closed: the spooled temp file counted until it was gone
    return stored.public()


def upload_quota(settings: Settings) -> UploadQuota:
    return UploadQuota(
        max_bytes_per_key=settings.files_max_bytes_per_key,
        max_count_per_key=settings.files_max_count_per_key,
        max_concurrent=settings.files_max_concurrent_uploads,
    )


def files_error(exc: VoxnoteError, source_param: str | None = None) -> ApiError:
    """Quota and busy refusals are 429s (with `Retry-After` when waiting helps); the rest as elsewhere."""
    if isinstance(exc, UploadsBusy):
        return ApiError(429, str(exc), type="rate_limit_error", code="too_many_uploads",
                        headers={"Retry-After": str(exc.retry_after)})
    if isinstance(exc, QuotaExceeded):
        return ApiError(429, str(exc), type="insufficient_quota", code="quota_exceeded", param="file")
    return from_voxnote_error(exc, source_param)


def _declared_length(request: Request) -> int | None:
    declared = request.headers.get("content-length", "")
    return int(declared) if declared.isdigit() and "transfer-encoding" not in request.headers else None


def _within_allowance(receive: Receive, upload: Upload) -> Receive:
    """The body, refused once it passes what the upload reserved (a chunked body has no length to check)."""
    received = 0

    async def bounded() -> Message:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > upload.allowance:
                if message.get("more_body", False):
                    await drain(receive, DRAIN_LIMIT)
                raise upload.overflow
        return message

    return bounded


@router.get("", summary="List files")
async def list_files(
    request: Request,
    page: int = Query(0, ge=0),
    page_size: int = Query(100, ge=1, le=1000),
    owner: str = Depends(authenticate),
) -> dict[str, Any]:
    files = await service_of(request).store.list(owner)
    chunk = files[page * page_size : (page + 1) * page_size]
    return {"object": "list", "data": [f.public() for f in chunk], "total": len(files)}


@router.get("/{file_id}", summary="Retrieve a file's metadata")
async def retrieve_file(request: Request, file_id: str, owner: str = Depends(authenticate)) -> dict[str, Any]:
    try:
        stored = await service_of(request).store.get(file_id, owner)
    except VoxnoteError as exc:
        raise from_voxnote_error(exc) from exc
    return stored.public(deleted=False)


@router.delete("/{file_id}", summary="Delete a file")
async def delete_file(request: Request, file_id: str, owner: str = Depends(authenticate)) -> dict[str, Any]:
    try:
        stored = await service_of(request).store.delete(file_id, owner)
    except VoxnoteError as exc:
        raise from_voxnote_error(exc) from exc
    return {"id": stored.id, "object": "file", "deleted": True}
