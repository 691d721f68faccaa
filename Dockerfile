# The project's image for docker-compose (worker, migrations, topic set-up, QBO sandbox).
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY bottleneck_qbo ./bottleneck_qbo
COPY connectors ./connectors
COPY streams ./streams
COPY mappers ./mappers
COPY sinks ./sinks
COPY infra ./infra
RUN pip install --no-cache-dir . && rm -rf infra/lib infra/connect-plugins
ENV BQ_RUN_DIR=/var/lib/bottleneck-qbo
ENTRYPOINT ["bottleneck-qbo"]
CMD ["worker"]
