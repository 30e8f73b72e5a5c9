"""`/v1/files`: upload audio once, transcribe it later by `file_id` (Mistral's files API, audio only)."""

from __future__ import annotations

import mimetypes
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from starlette.datastructures import UploadFile

from bot.errors import VoxnoteError
from bot.service.api_errors import ApiError, from_voxnote_error
from bot.service.auth import authenticate
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
    async with request.form(max_files=1, max_fields=10, max_part_size=4096) as form:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise ApiError(422, "file: send the file as a multipart part named `file`", code="invalid_value",
                           param="file")
        purpose = form.get("purpose")
        purpose = purpose.strip() if isinstance(purpose, str) and purpose.strip() else "audio"
        filename = upload.filename or "audio"
        mimetype = upload.content_type
        if not mimetype or mimetype == "application/octet-stream":
            mimetype = mimetypes.guess_type(filename)[0] or mimetype
        try:
            stored = await service.store.save(
                upload.file, filename=filename, purpose=purpose, mimetype=mimetype, owner=owner
            )
        except VoxnoteError as exc:
            raise from_voxnote_error(exc, "file") from exc
    return stored.public()


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
