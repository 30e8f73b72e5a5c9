"""Bearer keys: when `VOXNOTE_API_KEYS` is set every /v1 call needs one of them; files belong to their key."""

from __future__ import annotations

import hashlib
import hmac

from fastapi import Request

from bot.service.api_errors import ApiError


def owner_id(key: str) -> str:
    """A stable, non-secret name for a key: it tags the files uploaded with it."""
    return "key-" + hashlib.sha256(key.encode()).hexdigest()[:16]


def check_bearer(authorization: str | None, keys: list[str]) -> str:
    """The caller's owner id ("" when auth is off), or a 401 `ApiError`."""
    if not keys:
        return ""
    if not authorization:
        raise _unauthorized("missing_api_key", "this service needs an API key: send `Authorization: Bearer <key>`")
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise _unauthorized("invalid_api_key", "send the key as `Authorization: Bearer <key>`")
    # Compare with every key in constant time, so timing tells nothing about which prefix matched.
    matched = [hmac.compare_digest(token.encode(), key.encode()) for key in keys]
    if not any(matched):
        raise _unauthorized("invalid_api_key", "the API key is not valid")
    return owner_id(token)


def _unauthorized(code: str, message: str) -> ApiError:
    return ApiError(401, message, type="authentication_error", code=code, headers={"WWW-Authenticate": "Bearer"})


async def authenticate(request: Request) -> str:
    """FastAPI dependency: the caller's owner id."""
    keys: list[str] = request.app.state.service.api_keys
    return check_bearer(request.headers.get("authorization"), keys)
