# comms: worker by default (`comms worker`); run `comms serve` for the HTTP API.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    COMMS_DATA_DIR=/var/lib/comms

# WeasyPrint's system libraries (Pango, HarfBuzz subsetting) and the fonts the templates embed.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml README.md ./
COPY comms ./comms
COPY channels ./channels
COPY templates ./templates
COPY samples ./samples
# Editable install: templates, samples and the routing policy are found beside the code in /app.
RUN pip install -e .

RUN useradd --system --uid 10001 --home-dir /var/lib/comms --create-home comms
USER comms

EXPOSE 8000
CMD ["comms", "worker"]
