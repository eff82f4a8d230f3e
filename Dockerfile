# syntax=docker/dockerfile:1
# The model registry server (`model-registry serve`), REST on 8080 and gRPC on 9090.
#   docker build -t aio-model-registry .
#   docker run -p 8080:8080 -p 9090:9090 -v registry-data:/data aio-model-registry
# Without arguments it serves a SQLite file on the /data volume; for PostgreSQL:
#   docker run ... aio-model-registry serve --host 0.0.0.0 --database-url postgresql://...
# See docs/deployment.md.

ARG PYTHON_VERSION=3.12

# -- build: one wheel from the checkout (the build tools stay in this stage) -------------------
FROM python:${PYTHON_VERSION}-slim AS build
WORKDIR /src
COPY pyproject.toml README.md LICENSE CHANGELOG.md ./
COPY src ./src
RUN python -m pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

# -- runtime: the wheel with the server, cli and s3 extras, run as an unprivileged user ---------
FROM python:${PYTHON_VERSION}-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
COPY --from=build /wheels /tmp/wheels
# DL3013 (pin pip versions): what is installed is this build's own wheel; its dependencies'
# ranges are the ones pyproject.toml gives every other install.
# hadolint ignore=DL3013
RUN set -eux; \
    wheel="$(ls /tmp/wheels/*.whl)"; \
    python -m pip install --no-cache-dir "${wheel}[server,cli,s3]"; \
    rm -rf /tmp/wheels; \
    groupadd --system --gid 10001 registry; \
    useradd --system --uid 10001 --gid registry --home-dir /data --no-create-home registry; \
    mkdir -p /data; \
    chown registry:registry /data
USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8080 9090
# /healthz answers while the process serves; /readyz also needs the database (probes in deploy/).
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4)"]
ENTRYPOINT ["model-registry"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8080", "--grpc-port", "9090", "--database-url", "sqlite:////data/registry.db"]
