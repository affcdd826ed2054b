# CloudFolio queue worker, legacy replica, rollout watcher and rollback job: `cloudfolio worker ...`,
# `cloudfolio legacy`, `cloudfolio rollout ...`.
# Build from the repository root: docker build -f infra/docker/worker.Dockerfile -t cloudfolio-worker:0.1.0 .
FROM python:3.11.9-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 HF_HUB_OFFLINE=1
RUN groupadd --system --gid 10001 cloudfolio && useradd --system --uid 10001 --gid cloudfolio --home /app cloudfolio
WORKDIR /app
COPY pyproject.toml README.md ./
COPY cloudfolio ./cloudfolio
COPY router ./router
COPY services ./services
COPY rollout ./rollout
COPY loadtest ./loadtest
RUN pip install --no-cache-dir .
USER 10001:10001
EXPOSE 8081
# glibc's per-thread malloc caches off: they grow RSS with the thread count (cloudfolio/memory.py)
ENV GLIBC_TUNABLES=glibc.malloc.tcache_count=0
ENTRYPOINT ["cloudfolio"]
CMD ["worker", "all", "--health-port", "8081"]
