"""`voxnote serve`: the local engine behind Mistral's transcription API (and OpenAI's dialect), on uvicorn.

`create_app(settings, transcriber)` builds the FastAPI app around any Transcriber (tests hand in a
shared engine or a scripted one); `serve()` builds the real engine and runs it."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import ipaddress
import logging
from collections.abc import AsyncIterator
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from bot.config import Settings
from bot.errors import ConfigError, VoxnoteError
from bot.service.api_errors import ApiError, from_voxnote_error
from bot.service.auth import authenticate
from bot.service.catalog import ModelCatalog
from bot.service.disconnect import ClientGone
from bot.service.fetch import Allowlist, Fetcher
from bot.service.files import FileStore
from bot.service.files_api import router as files_router
from bot.service.realtime import router as realtime_router
from bot.service.intake import (
    BodyTooLarge,
    BodyTooSlow,
    ByteBudget,
    Intake,
    MemoryBusy,
    memory_busy,
    too_large,
    too_slow,
)
from bot.service.limits import Limiter, QueueFull
from bot.service.state import Service, engine_model_id, service_of
from bot.service.transcriptions import router as transcriptions_router
from bot.engine.transcriber import Transcriber

log = logging.getLogger("voxnote.service")
# Multipart framing and text fields around the audio part.
FORM_OVERHEAD = 256 * 1024
PURGE_EVERY_S = 600.0
STATUS_TYPES = {401: "authentication_error", 403: "permission_error", 404: "not_found_error",
                405: "invalid_request_error", 429: "rate_limit_error"}


def create_app(
    settings: Settings,
    transcriber: Transcriber,
    *,
    fetcher: Fetcher | None = None,
    store: FileStore | None = None,
    warm: bool = False,
) -> FastAPI:
    """The app; the caller closes `transcriber`, the app closes its fetcher when it shuts down."""
    service = Service(
        settings=settings,
        transcriber=transcriber,
        fetcher=fetcher
        or Fetcher(
            allowlist=Allowlist.parse(settings.url_allowlist),
            max_bytes=settings.max_audio_bytes,
            connect_timeout_s=settings.connect_timeout_s,
            total_timeout_s=settings.fetch_timeout_s,
        ),
        store=store
        or FileStore(
            settings.files_dir,
            max_file_bytes=settings.max_audio_bytes,
            max_total_bytes=settings.files_max_total_bytes,
            ttl_s=settings.file_ttl_hours * 3600,
        ),
        limiter=Limiter(settings.max_concurrent, settings.max_queue),
        catalog=ModelCatalog(
            engine_id=lambda: engine_model_id(transcriber),
            diarization=lambda: getattr(transcriber, "diarizer", None) is not None,
        ),
        api_keys=[key.get_secret_value() for key in settings.api_keys],
        budget=ByteBudget(settings.service_max_bytes_in_flight),
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if warm and hasattr(transcriber, "warm"):
            log.info("loading the speech model...")
            result = transcriber.warm()
            if inspect.isawaitable(result):
                await result
        purger = asyncio.create_task(_purge_loop(service.store))
        log.info("serving model %s", service.catalog.model_id)
        try:
            yield
        finally:
            purger.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await purger
            await service.fetcher.aclose()

    app = FastAPI(
        title="voxnote transcription service",
        summary="voxnote's local speech engine over Mistral's transcription API (OpenAI's dialect too)",
        version="1",
        lifespan=lifespan,
        # FastAPI's /docs and /redoc pages load their scripts from a CDN: on an offline network they are
        # blank, and every visit tells a third party about the service. /openapi.json stays.
        docs_url=None,
        redoc_url=None,
    )
    app.state.service = service
    app.add_middleware(
        Intake,
        upload_limit=settings.max_audio_bytes + FORM_OVERHEAD,
        api_keys=service.api_keys,
        budget=service.budget,
        min_rate=settings.service_body_min_rate,
        grace_s=settings.service_body_grace_s,
    )
    _add_error_handlers(app)
    app.include_router(transcriptions_router, tags=["audio"])
    app.include_router(files_router)
    app.include_router(realtime_router, tags=["audio"])

    @app.get("/v1/models", tags=["models"], summary="List the models this service serves")
    async def list_models(request: Request, _owner: str = Depends(authenticate)) -> dict[str, Any]:
        return service_of(request).catalog.listing()

    @app.get("/v1/models/{model_id:path}", tags=["models"], summary="Retrieve a model")
    async def retrieve_model(request: Request, model_id: str, _owner: str = Depends(authenticate)) -> dict[str, Any]:
        return service_of(request).catalog.get(model_id)

    @app.get("/health", tags=["health"], summary="Liveness and load (no auth)")
    async def health(request: Request) -> dict[str, Any]:
        limiter = service_of(request).limiter
        return {"status": "ok", "running": limiter.running, "waiting": limiter.waiting}

    return app


async def _purge_loop(store: FileStore) -> None:
    interval = max(1.0, min(PURGE_EVERY_S, store.ttl_s / 4))
    while True:
        try:
            await store.purge_expired()
        except OSError as exc:
            log.warning("could not purge expired files: %s", exc)
        await asyncio.sleep(interval)


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(_request: Request, exc: ApiError) -> Response:
        return exc.response()

    @app.exception_handler(VoxnoteError)
    async def voxnote_error(_request: Request, exc: VoxnoteError) -> Response:
        return from_voxnote_error(exc).response()

    @app.exception_handler(QueueFull)
    async def queue_full(_request: Request, exc: QueueFull) -> Response:
        log.info("busy: refused a request (retry after %d s)", exc.retry_after)
        return ApiError(
            429, str(exc), type="rate_limit_error", code="queue_full", headers={"Retry-After": str(exc.retry_after)}
        ).response()

    @app.exception_handler(BodyTooLarge)
    async def body_too_large(_request: Request, exc: BodyTooLarge) -> Response:
        return too_large(exc.limit).response()

    @app.exception_handler(BodyTooSlow)
    async def body_too_slow(_request: Request, exc: BodyTooSlow) -> Response:
        log.info("refused a request whose body arrived slower than %d bytes/s", exc.min_rate)
        return too_slow(exc.min_rate).response()

    @app.exception_handler(MemoryBusy)
    async def busy(_request: Request, exc: MemoryBusy) -> Response:
        log.info("busy: refused a request over the in-memory audio budget (retry after %d s)", exc.retry_after)
        return memory_busy(exc).response()

    @app.exception_handler(ClientDisconnect)
    async def client_left_mid_body(_request: Request, _exc: ClientDisconnect) -> Response:
        log.info("client disconnected while sending its request body")
        return Response(status_code=499)

    @app.exception_handler(ClientGone)
    async def client_gone(_request: Request, _exc: ClientGone) -> Response:
        log.info("client disconnected before its answer; its work was stopped")
        return Response(status_code=499)

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        loc = [str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path", "header")]
        param = ".".join(loc) or None
        message = f"{param}: {first.get('msg')}" if param else str(first.get("msg"))
        return ApiError(422, message, code="invalid_value", param=param).response()

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> Response:
        return ApiError(
            exc.status_code,
            str(exc.detail),
            type=STATUS_TYPES.get(exc.status_code, "invalid_request_error"),
            headers=dict(exc.headers or {}),
        ).response()

    @app.exception_handler(Exception)
    async def unexpected(_request: Request, exc: Exception) -> Response:
        log.exception("unexpected error", exc_info=exc)
        return JSONResponse(
            {"object": "error", "message": "internal error", "type": "server_error", "code": None, "param": None},
            status_code=500,
        )


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_exposure(settings: Settings, host: str) -> None:
    """Refuse to serve everyone by accident: beyond loopback, keys are required unless explicitly waived."""
    if settings.api_keys:
        log.info("API keys set: every /v1 request needs `Authorization: Bearer <key>`")
    elif is_loopback(host):
        log.info("no VOXNOTE_API_KEYS: no authentication, listening on loopback (%s) only", host)
    elif settings.service_allow_anonymous:
        log.warning(
            "no VOXNOTE_API_KEYS while binding %s (VOXNOTE_SERVICE_ALLOW_ANONYMOUS is set): anyone who can reach "
            "this address can use the service, and all their uploads share one owner",
            host,
        )
    else:
        raise ConfigError(
            f"refusing to serve {host} without API keys: anyone who can reach it could use the service and "
            "read or delete everyone's uploads. Set VOXNOTE_API_KEYS, bind 127.0.0.1, or set "
            "VOXNOTE_SERVICE_ALLOW_ANONYMOUS=true if an open service is really what you want"
        )


def build_engine(settings: Settings) -> Transcriber:
    """The local engine with its speaker model loaded up front: a shared service pays that once, at start."""
    from bot.engine.local import LocalTranscriber

    engine = LocalTranscriber.from_settings(settings)
    engine.speaker_model()
    return engine


def serve(settings: Settings, host: str | None = None, port: int | None = None) -> int:
    """Run the service until interrupted; returns the process exit code."""
    import uvicorn

    host = host or settings.service_host
    port = port or settings.service_port
    check_exposure(settings, host)
    engine = build_engine(settings)
    app = create_app(settings, engine, warm=True)
    try:
        uvicorn.run(app, host=host, port=port, log_level=settings.log_level.lower(), proxy_headers=False)
    finally:
        asyncio.run(engine.aclose())
    return 0
