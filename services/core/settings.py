"""All configuration, read once from environment variables into a :class:`Settings` object.

Every variable is declared in :data:`~services.core.variables.VARIABLES` with its default and
meaning; README's configuration table and ``cloudfolio config`` are made from the same list (a test
keeps README in step). An
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
from services.core.setting_values import auto_or_bool
from services.core.variables import VARIABLES

__all__ = ["VARIABLES", "Settings"]



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
    otlp_metrics_endpoint: str
    otel_service_name: str
    otel_traces_sampler: str
    traced_reads_per_second: float
    memory_snapshots_dir: str
    memory_snapshot_seconds: float
    memory_trace_python: bool
    malloc_trim_seconds: float
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
    github_budget_concurrency: int
    github_budget_pace_below: float
    github_budget_wait: float
    redis_url: str
    legacy_url: str
    legacy_function_key: str
    public_url: str
    max_body_bytes: int
    refresh_limit_per_client: Rate | None
    refresh_limit_per_user: Rate | None
    enable_quota_enforcement: bool
    quota_cache_mb: int
    quota_refreshes_per_day: int
    quota_trainings_per_week: int
    usage_flush_seconds: float
    gc_freeze: bool
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
    worker_processes: int
    worker_run_slots: int
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
    task_webhook_secret: str
    task_webhook_attempts: int
    task_webhook_allow_http: bool
    legacy_inline_training: bool
    search_model_cache: int
    dashboard_sample_seconds: float
    github_webhook_secret: str
    github_webhook_max_bytes: int
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
    appinsights_resource_id: str
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
