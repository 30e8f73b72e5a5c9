# voxnote in one image for every role: the bot (`voxnote run`, the default: Slack Socket Mode, Slack HTTP
# events on port 3000, Discord, from the environment) and the engine as a service (`voxnote serve`, port
# 8000, keys required). All state lives under /data: the SQLite database, the joined speech model and the
# service's uploaded files. Commands and paths: docs/docker.md.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1

# State under /data, never relative to the working directory (the Python defaults are, for a clone).
ENV VOXNOTE_DB_PATH=/data/voxnote.db \
    VOXNOTE_MODEL_CACHE_DIR=/data/models \
    VOXNOTE_FILES_DIR=/data/files
# `voxnote serve` must be reachable through -p; it still refuses to start without VOXNOTE_API_KEYS on
# this address unless VOXNOTE_SERVICE_ALLOW_ANONYMOUS=true.
ENV VOXNOTE_SERVICE_HOST=0.0.0.0
# The bot's /healthz for the HEALTHCHECK, on the container's loopback (VOXNOTE_HEALTH_HOST=0.0.0.0 and
# -p 8080:8080 to scrape /metrics from outside).
ENV VOXNOTE_HEALTH_PORT=8080

WORKDIR /src
# Dependencies first, from pyproject.toml alone (empty packages stand in for the code), so a code change
# rebuilds in seconds instead of installing every dependency again.
COPY pyproject.toml README.md ./
RUN mkdir bot adapters storage \
    && touch bot/__init__.py adapters/__init__.py storage/__init__.py \
    && pip install --no-cache-dir . \
    && pip uninstall -y -q voxnote \
    && rm -rf bot adapters storage build ./*.egg-info
COPY bot ./bot
COPY adapters ./adapters
COPY storage ./storage
RUN pip install --no-cache-dir --no-deps . \
    && rm -rf /src/build /src/*.egg-info

COPY docker/entrypoint.sh /usr/local/bin/voxnote-entrypoint
COPY docker/healthcheck.py docker/prepare.py /usr/local/lib/voxnote/
COPY samples /app/samples
RUN chmod 0755 /usr/local/bin/voxnote-entrypoint \
    && useradd --create-home --uid 10001 voxnote \
    && mkdir -p /data \
    && chown voxnote:voxnote /data

USER voxnote
WORKDIR /app
# Join the base model into /data/models and check every model's SHA-256 now, so a container starts in
# seconds. Before VOLUME: a new named volume starts as a copy of this, joined model included (a bind
# mount starts empty, and the first start joins the model again, about a second).
RUN python /usr/local/lib/voxnote/prepare.py
VOLUME /data

EXPOSE 3000 8000
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
    CMD ["python", "/usr/local/lib/voxnote/healthcheck.py"]
ENTRYPOINT ["voxnote-entrypoint"]
CMD ["run"]
