# The product's image: the worker, `migrate` and `topics` (and, for docker-compose's local stand-in, the
# QBO sandbox). Dependencies come from the hash-checked lock, then the project without resolving again.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY requirements.lock ./
RUN pip install --require-hashes -r requirements.lock

COPY pyproject.toml README.md ./
COPY bottleneck_qbo ./bottleneck_qbo
COPY connectors ./connectors
COPY streams ./streams
COPY mappers ./mappers
COPY sinks ./sinks
# infra/ (the local QBO sandbox and stack helpers) is for docker-compose's stand-ins, not the product: it is
# kept as source on PYTHONPATH whether or not the wheel packages it.
COPY infra ./infra
# The product, and infra/ (migrations of the contract schema, topic set-up and the QBO sandbox for compose)
RUN pip install --no-deps --no-build-isolation . ./infra \
    && rm -rf build *.egg-info infra/lib infra/connect-plugins
ENV PYTHONPATH=/app

# Not root: the worker needs no privilege, only its state directory.
RUN useradd --system --uid 10001 --user-group --home-dir /var/lib/bottleneck-qbo --create-home bottleneck-qbo
USER 10001:10001
ENV BQ_RUN_DIR=/var/lib/bottleneck-qbo \
    BQ_WORKER_WEB_HOST=0.0.0.0 \
    BQ_WORKER_WEB_PORT=6066
EXPOSE 6066

# The worker's /health (200 once its agents run). One-shot commands (migrate, topics) exit before it matters.
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('BQ_WORKER_WEB_PORT', '6066'), timeout=4)"]

ENTRYPOINT ["bottleneck-qbo"]
CMD ["worker"]
