# comms: the worker by default (`comms worker`); `comms serve` is the HTTP API (port 8000) and
# `comms bounces serve` the bounce receiver (port 8026). docs/operations.md says how to run them.
#
# Five stages, all on Debian bookworm's own Python 3.11. `requirements` reads the dependency list
# out of pyproject.toml; `tools` holds pip and the build backend; `deps` installs the locked
# dependencies into /opt/comms; `wheel` builds comms as a wheel and installs it (never editable)
# into a prefix of its own; the runtime copies the dependencies, then the code, beside the system
# libraries only. A code edit rebuilds the last stage's few-MB code layer; the runtime carries no
# pip, setuptools, build backend, sources or apt cache (docs/operations.md, "The image").

FROM debian:bookworm-slim AS base
ENV LANG=C.UTF-8 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 \
 && apt-get clean && rm -rf /var/lib/apt/lists/*

FROM base AS requirements
COPY pyproject.toml /src/pyproject.toml
RUN python3 -c 'import tomllib; print(*tomllib.load(open("/src/pyproject.toml", "rb"))["project"]["dependencies"], sep="\n")' > /requirements.txt

FROM base AS tools
COPY constraints.txt /src/constraints.txt
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3-venv \
 && apt-get clean && rm -rf /var/lib/apt/lists/* \
 && python3 -m venv /opt/build \
 && /opt/build/bin/pip install -c /src/constraints.txt hatchling

# The dependencies, in their own layer: only a changed dependency list or lock reinstalls them
# (the list is copied by content, so other edits of pyproject.toml do not count).
FROM tools AS deps
COPY --from=requirements /requirements.txt /src/requirements.txt
RUN python3 -m venv --without-pip /opt/comms \
 && /opt/build/bin/pip --python /opt/comms/bin/python install \
      -r /src/requirements.txt -c /src/constraints.txt

FROM deps AS wheel
COPY pyproject.toml README.md /src/
COPY comms /src/comms
COPY channels /src/channels
COPY templates /src/templates
RUN /opt/build/bin/pip wheel --no-deps --no-build-isolation -w /dist /src \
 && /opt/build/bin/pip --python /opt/comms/bin/python install --no-deps --no-index \
      --prefix /opt/code /dist/*.whl

FROM base
# WeasyPrint's system libraries (Pango, HarfBuzz subsetting) and the fonts the templates embed.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core \
 && apt-get clean && rm -rf /var/lib/apt/lists/*
# Data (ledger files, archive, outboxes: a volume), home (caches) and secrets (mounted read-only
# by the orchestrator under /run/secrets) are three places; the service's uid owns the first two.
RUN groupadd --system --gid 10001 comms \
 && useradd --system --uid 10001 --gid comms --home-dir /home/comms --create-home \
      --shell /usr/sbin/nologin comms \
 && install -d -o comms -g comms -m 0750 /var/lib/comms
COPY --from=deps /opt/comms /opt/comms
COPY --from=wheel /opt/code /opt/comms
COPY ops/healthcheck.py /opt/comms/bin/comms-healthcheck

# Inside the image the API, the bounce receiver and a worker's metrics listen on every address,
# so that published ports lead somewhere; outside it they default to 127.0.0.1.
ENV PATH=/opt/comms/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    HOME=/home/comms \
    COMMS_DATA_DIR=/var/lib/comms \
    COMMS_API_HOST=0.0.0.0 \
    COMMS_API_PORT=8000 \
    COMMS_BOUNCE_LISTEN_HOST=0.0.0.0 \
    COMMS_WORKER_METRICS_HOST=0.0.0.0 \
    COMMS_WORKER_METRICS_PORT=9100
USER comms
WORKDIR /home/comms
VOLUME ["/var/lib/comms"]
EXPOSE 8000 8026 9100
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["python3", "/opt/comms/bin/comms-healthcheck"]
CMD ["comms", "worker"]
