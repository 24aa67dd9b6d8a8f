# briefbot: the bot on the embedded defaults (SQLite, offline summarizer), Slack, Discord,
# OpenAI-compatible models and PostgreSQL included, switched on by environment variables.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY adapters ./adapters
COPY summarizer ./summarizer
RUN pip install --no-cache-dir --prefix=/install ".[all]"

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    BRIEFBOT_DATA_DIR=/data \
    BRIEFBOT_SEEDS=/app/seeds
RUN groupadd --system briefbot && useradd --system --gid briefbot --home-dir /app --shell /usr/sbin/nologin briefbot \
    && mkdir -p /data /app && chown briefbot:briefbot /data
COPY --from=build /install /usr/local
COPY --chown=briefbot:briefbot seeds /app/seeds
WORKDIR /app
USER briefbot
VOLUME ["/data"]
EXPOSE 3000
CMD ["briefbot", "run"]
