# CloudFolio trainer: single-task mode for the event-driven Container Apps Job
# (`cloudfolio train --from-queue`). torch is pinned to 2.13.0; pass PyTorch's CPU wheel index as
# TORCH_INDEX_URL so no multi-GB CUDA build is pulled (or its CUDA index for a GPU workload profile).
# Build from the repository root:
#   docker build -f infra/docker/trainer.Dockerfile --build-arg TORCH_INDEX_URL=<cpu wheel index> -t cloudfolio-trainer:0.1.0 .
FROM python:3.11.9-slim-bookworm
ARG TORCH_INDEX_URL

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
RUN groupadd --system --gid 10001 cloudfolio && useradd --system --uid 10001 --gid cloudfolio --home /app cloudfolio
WORKDIR /app
RUN pip install --no-cache-dir ${TORCH_INDEX_URL:+--index-url "$TORCH_INDEX_URL"} torch==2.13.0
COPY pyproject.toml README.md ./
COPY cloudfolio ./cloudfolio
COPY router ./router
COPY services ./services
COPY rollout ./rollout
COPY loadtest ./loadtest
RUN pip install --no-cache-dir ".[train]"
USER 10001:10001
ENTRYPOINT ["cloudfolio"]
CMD ["train", "--from-queue"]
