# One image for every process of roger-xero; the command chooses which one runs:
#   docker run IMAGE ingest --host 0.0.0.0      (also: projector, writer, sandbox, and the SRE
#   tools: lag, replay, dlq, rebuild)
# deploy/docker-compose.yml builds it and runs each service from it.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---- build: the dependencies, into a virtualenv that the runtime stage copies whole ----------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
# Only pyproject.toml: the dependency layer is rebuilt when the dependencies change, not the code.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > requirements.txt \
 && pip install -r requirements.txt

# ---- runtime: the virtualenv and our source, run as an unprivileged user ---------------------
FROM ${PYTHON_IMAGE} AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN groupadd --system --gid 10001 rx \
 && useradd --system --uid 10001 --gid rx --no-create-home --home-dir /nonexistent rx \
 && mkdir -p /data && chown rx:rx /data
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
# The source as it is in the repository (package data such as the contract's JSON Schema
# included), owned by root: the service user can read it, not change it.
COPY shared ./shared
COPY services ./services
COPY xero_sandbox ./xero_sandbox
# deploy/topics.py: the one-shot topic creation of deploy/docker-compose.yml.
COPY deploy/__init__.py deploy/topics.py ./deploy/
RUN printf '#!/bin/sh\nexec python -m services.cli "$@"\n' > /usr/local/bin/roger-xero \
 && chmod 0755 /usr/local/bin/roger-xero \
 && python -m compileall -q /app
USER 10001:10001
# ingest, projector (read API), writer, sandbox
EXPOSE 8080 8081 8082 9090
# The sandbox keeps its state under /data (a volume in deploy/docker-compose.yml).
VOLUME ["/data"]
ENTRYPOINT ["roger-xero"]
CMD ["--help"]
