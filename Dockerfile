# The one image every DuraGraph service runs: `docker run <image> api|worker|relay|migrate`.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# libpq: procrastinate's psycopg driver loads it at import time (pure-Python psycopg, no binary wheel)
RUN apt-get update \
    && apt-get install -y --no-install-recommends libpq5 \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
# only what the package needs: a stray .venv or .duragraph/ in the build context stays out of the image
COPY pyproject.toml README.md ./
COPY duragraph ./duragraph
COPY engine ./engine
COPY api ./api
COPY relay ./relay
COPY sql ./sql
# with the otel extra: setting OTEL_EXPORTER_OTLP_ENDPOINT is enough to export traces
RUN pip install ".[otel]"

# the graphs: replace with your own (and point DURAGRAPH_CONFIG at their config file)
COPY examples ./examples

RUN useradd --system --uid 10001 --home-dir /app duragraph
USER duragraph

ENV DURAGRAPH_CONFIG=/app/examples/duragraph.json \
    DURAGRAPH_HOST=0.0.0.0 \
    PORT=8123
EXPOSE 8123

ENTRYPOINT ["duragraph"]
CMD ["api"]
