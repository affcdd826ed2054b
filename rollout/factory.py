"""The rollout parts the settings name, built in one place: the flag store (``CLOUDFOLIO_FLAG_STORE``:
file, env or Key Vault) and the plan run (``CLOUDFOLIO_ROLLOUT_PLAN`` with the metric provider
``CLOUDFOLIO_ROLLOUT_METRICS``), shared by the CLI and the router's dashboard."""

from __future__ import annotations

from typing import Any

from rollout.azure_monitor_provider import AzureMonitorProvider
from rollout.measure import DirectScrape, MetricsProvider
from rollout.notify import WebhookNotifier
from rollout.plan import load_plan
from rollout.progression import Progression
from rollout.prometheus_provider import PrometheusProvider
from rollout.stores import EnvFlagStore, FileFlagStore, FlagStore
from services.core.errors import SettingsError
from services.core.settings import Settings


def make_flag_store(settings: Settings) -> FlagStore:
    if settings.flag_store == "env":
        return EnvFlagStore(settings.flag_seed)
    if settings.flag_store == "keyvault":
        from rollout.keyvault_store import KeyVaultFlagStore, StaticTokenCredential

        credential = StaticTokenCredential(settings.keyvault_static_token) if settings.keyvault_static_token else None
        options = {"connection_verify": settings.keyvault_ca_bundle} if settings.keyvault_ca_bundle else {}
        return KeyVaultFlagStore(settings.keyvault_url, credential,
                                 verify_challenge_resource=settings.keyvault_verify_challenge,
                                 read_timeout=settings.keyvault_timeout, read_retries=settings.keyvault_read_retries,
                                 **options)
    return FileFlagStore(settings.data_path / "flags.json", seed=settings.flag_seed)


def make_notifier(settings: Settings) -> WebhookNotifier | None:
    return WebhookNotifier(settings.notify_webhook_url, settings.notify_style) if settings.notify_webhook_url else None


def build_progression(settings: Settings, store: FlagStore) -> Progression:
    """The plan run the settings describe (raises :class:`~rollout.plan.InvalidPlan`)."""
    urls = [u.strip() for u in settings.router_metrics_urls.split(",") if u.strip()]
    provider: MetricsProvider
    if settings.rollout_metrics == "prometheus":
        provider = PrometheusProvider(settings.prometheus_url)
    elif settings.rollout_metrics == "azure-monitor":
        if not settings.appinsights_resource_id:
            raise SettingsError("CLOUDFOLIO_APPINSIGHTS_RESOURCE_ID",
                                "required with CLOUDFOLIO_ROLLOUT_METRICS=azure-monitor")
        provider = AzureMonitorProvider(settings.appinsights_resource_id)
    else:  # snapshots persist in the data dir, so `rollout watch --once` from cron sees a window too
        provider = DirectScrape(urls, state_path=settings.data_path / "plan-metrics.json")
    return Progression(store, load_plan(settings.rollout_plan), provider, notifier=make_notifier(settings))


def plan_view(progression: Progression) -> dict[str, Any]:
    """The plan's stage as ``rollout status``, ``rollout plan show`` and the dashboard show it."""
    state = progression.state()
    step = progression.plan.steps[min(state.step, len(progression.plan.steps) - 1)]
    return {"status": state.status, "step": state.step + 1, "of": len(progression.plan.steps),
            "percentage": step.percentage,
            "seconds_in_step": None if state.entered_at is None else round(progression.clock() - state.entered_at),
            "min_dwell_seconds": step.min_dwell_seconds, "last_analysis": state.last,
            "provider": progression.provider.name}
