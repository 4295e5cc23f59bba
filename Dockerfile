# syntax=docker/dockerfile:1
# The vram Slack bot: `docker build -t vram .` then
#   docker run --rm -p 3000:3000 -e SLACK_BOT_TOKEN -e SLACK_SIGNING_SECRET -e DATABASE_URL vram
# (add -e SLACK_APP_TOKEN for Socket Mode; without DATABASE_URL it keeps a SQLite file in /data).

# --- build: a virtualenv with vram and its dependencies (Postgres driver included) ------------------
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/vram
WORKDIR /src
# Dependencies first, so a code change does not reinstall them.
COPY pyproject.toml README.md ./
RUN mkdir -p common sources estimator bot store migrations \
    && touch common/__init__.py sources/__init__.py estimator/__init__.py bot/__init__.py store/__init__.py migrations/__init__.py \
    && /opt/vram/bin/pip install ".[postgres]" \
    && /opt/vram/bin/pip uninstall -y vram
COPY common common
COPY sources sources
COPY estimator estimator
COPY bot bot
COPY store store
COPY migrations migrations
# Bytecode compiled now and kept: /opt/vram is read-only to the runtime user, who would otherwise
# compile every import again on each start (and on each `docker exec ... vram history`).
RUN /opt/vram/bin/pip install --no-deps . \
    && /opt/vram/bin/python -m compileall -q /opt/vram/lib

# --- runtime: the virtualenv only, run as an unprivileged user --------------------------------------
FROM python:3.11-slim
RUN groupadd --system --gid 10001 vram \
    && useradd --system --uid 10001 --gid vram --home-dir /home/vram --create-home --shell /usr/sbin/nologin vram \
    && mkdir -p /data && chown vram:vram /data
COPY --from=build /opt/vram /opt/vram
ENV PATH=/opt/vram/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PORT=3000 \
    XDG_DATA_HOME=/data \
    HF_HOME=/home/vram/.cache/huggingface \
    HF_HUB_DISABLE_TELEMETRY=1
USER vram
WORKDIR /home/vram
VOLUME ["/data"]
EXPOSE 3000
# /healthz answers 503 when the database is down (in Socket Mode too: PORT serves only the health check).
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '3000'), timeout=4)" || exit 1
ENTRYPOINT ["vram"]
CMD ["serve"]
