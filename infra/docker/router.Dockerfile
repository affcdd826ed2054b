# CloudFolio router: `cloudfolio serve` (no torch: the search endpoint loads models lazily and is
# served by the worker image in deployments that search; see docs/DEPLOY.md).
# Build from the repository root: docker build -f infra/docker/router.Dockerfile -t cloudfolio-router:0.1.0 .
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
EXPOSE 8000
# glibc's per-thread malloc caches off: they grow RSS with the thread count (cloudfolio/memory.py)
ENV GLIBC_TUNABLES=glibc.malloc.tcache_count=0
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health')"
ENTRYPOINT ["cloudfolio"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
