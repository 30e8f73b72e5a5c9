"""Prometheus metrics and the `/healthz` + `/metrics` endpoint (optional port, `VOXNOTE_HEALTH_PORT`)."""

from __future__ import annotations

import logging
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from storage import Store

log = logging.getLogger(__name__)
STORE_KEY: web.AppKey[Store] = web.AppKey("store")

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
    store: Store = request.app[STORE_KEY]
    counts = await store.job_counts()
    return web.json_response({"status": "ok", "jobs": counts})


async def _metrics(request: web.Request) -> web.Response:
    store: Store = request.app[STORE_KEY]
    counts = await store.job_counts()
    for status in ("queued", "running", "done", "failed"):
        JOBS.labels(status).set(counts.get(status, 0))
    return web.Response(body=generate_latest(REGISTRY), headers={"Content-Type": CONTENT_TYPE_LATEST})


async def start_health_server(store: Store, host: str, port: int) -> web.AppRunner:
    app = web.Application()
    app[STORE_KEY] = store
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/metrics", _metrics)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    log.info("health and metrics on http://%s:%d/healthz and /metrics", host, port)
    return runner
