"""Prometheus metrics and the `/healthz` + `/metrics` endpoint (optional port, `VOXNOTE_HEALTH_PORT`)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from storage import Store

log = logging.getLogger(__name__)
STORE_KEY: web.AppKey[Store] = web.AppKey("store")
WORKERS_KEY: web.AppKey[Callable[[], int] | None] = web.AppKey("workers")

REGISTRY = CollectorRegistry()
JOBS_FINISHED = Counter("voxnote_jobs_finished", "Notes finished, by outcome", ["outcome"], registry=REGISTRY)
JOBS_RETRIED = Counter("voxnote_jobs_retried", "Notes put back in the queue after a failure", registry=REGISTRY)
JOBS = Gauge("voxnote_jobs", "Jobs in the queue, by status", ["status"], registry=REGISTRY)
FIRST_TEXT = Histogram(
    "voxnote_first_text_seconds", "Job start to first partial text in the reply", registry=REGISTRY,
    buckets=(0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 30),
)
JOB_SECONDS = Histogram(
    "voxnote_job_seconds", "Job start to final transcript", registry=REGISTRY,
    buckets=(0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900),
)


async def _healthz(request: web.Request) -> web.Response:
    """200 while job workers run and the store answers; 503 otherwise (an orchestrator restarts us)."""
    store: Store = request.app[STORE_KEY]
    workers = request.app[WORKERS_KEY]
    live = workers() if workers is not None else None
    try:
        counts = await store.job_counts()
    except Exception as exc:
        log.warning("health check: the store failed: %s", exc)
        return web.json_response({"status": "failing", "workers": live, "error": "store unavailable"}, status=503)
    ok = live is None or live > 0
    return web.json_response({"status": "ok" if ok else "failing", "workers": live, "jobs": counts},
                             status=200 if ok else 503)


async def _metrics(request: web.Request) -> web.Response:
    store: Store = request.app[STORE_KEY]
    counts = await store.job_counts()
    for status in ("queued", "running", "done", "failed"):
        JOBS.labels(status).set(counts.get(status, 0))
    return web.Response(body=generate_latest(REGISTRY), headers={"Content-Type": CONTENT_TYPE_LATEST})


async def start_health_server(
    store: Store, host: str, port: int, workers: Callable[[], int] | None = None
) -> web.AppRunner:
    """Serve `/healthz` (live `workers()`, job counts) and `/metrics` until the runner is cleaned up."""
    app = web.Application()
    app[STORE_KEY] = store
    app[WORKERS_KEY] = workers
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/metrics", _metrics)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    log.info("health and metrics on http://%s:%d/healthz and /metrics", host, port)
    return runner
