"""The flag store the settings name (``CLOUDFOLIO_FLAG_STORE``): file, env or Key Vault. One place."""

from __future__ import annotations

from rollout.stores import EnvFlagStore, FileFlagStore, FlagStore
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
