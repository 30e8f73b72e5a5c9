# voxnote: the bot and its embedded engine in one image; state (SQLite, joined model) lives in /data.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    VOXNOTE_DB_PATH=/data/voxnote.db \
    VOXNOTE_MODEL_CACHE_DIR=/data/models

WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY adapters ./adapters
COPY storage ./storage
COPY samples ./samples
RUN pip install --no-cache-dir . \
    && useradd --create-home --uid 10001 voxnote \
    && mkdir -p /data && chown voxnote /data

USER voxnote
VOLUME /data
# `voxnote run` picks Slack and/or Discord from SLACK_* / DISCORD_TOKEN; `voxnote serve` runs the API.
EXPOSE 3000 8000
CMD ["voxnote", "run"]
