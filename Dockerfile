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
# The product and the development tools (migrations, topic set-up and the QBO sandbox run from this image).
RUN rm -rf infra/lib infra/connect-plugins && pip install --no-cache-dir . ./infra
ENV BQ_RUN_DIR=/var/lib/bottleneck-qbo
ENTRYPOINT ["bottleneck-qbo"]
CMD ["worker"]
