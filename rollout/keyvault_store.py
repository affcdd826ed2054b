"""Rollout flags as Azure Key Vault secrets, through the real ``azure-keyvault-secrets`` client.

Secret names are the flag names (``QUEUE-TRAFFIC-PCT``...: Key Vault allows only letters, digits
and hyphens). Every write creates a new secret version tagged with who changed it, why, and the
previous value, so the version history is the audit trail. A flag that was never set reads as
absent. Reads go through the TTL cache of :mod:`rollout.provider`, which keeps the last good
value when the vault is unreachable; Key Vault throttles with 429 and ``Retry-After``, which the
SDK's retry policy honours.

Authentication is ``DefaultAzureCredential`` (managed identity in Azure). For emulators and test
servers a fixed bearer token can be given instead, with the challenge-resource check switched off.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from azure.core.credentials import AccessToken
from azure.core.exceptions import AzureError, ResourceNotFoundError

from rollout.flags import FLAG_NAMES
from rollout.stores import FlagChange, FlagStore, FlagStoreError, FlagStoreUnavailable

log = logging.getLogger("cloudfolio.keyvault")

#: Key Vault tag values are at most 256 characters.
MAX_TAG = 256


def _store_error(exc: AzureError, what: str) -> FlagStoreError:
    """An outage (no connection, 5xx, throttled past the retries) or a refusal (4xx: auth, bad name)."""
    status = getattr(exc, "status_code", None)
    kind = FlagStoreError if status is not None and status < 500 and status != 429 else FlagStoreUnavailable
    return kind(f"{what}: {type(exc).__name__}: {exc}")


class StaticTokenCredential:
    """A credential that always returns one token (emulators and tests only)."""

    def __init__(self, token: str) -> None:
        self._token = token

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken(self._token, 2**31 - 1)


class KeyVaultFlagStore(FlagStore):
    """Flags in one Key Vault.

    Parameters:
      vault_url(str): ``https://<name>.vault.azure.net``.
      credential(TokenCredential | None): defaults to ``DefaultAzureCredential``.
      verify_challenge_resource(bool): check the 401 challenge's resource against the vault's domain;
        switch off only for emulators on localhost. Defaults to True.
      read_timeout(float): seconds to connect and to wait for an answer, per attempt, when reading
        (the router's refresh); writes keep the SDK's patient defaults. Defaults to 3.
      read_retries(int): retries of a failed read attempt (throttling honours ``Retry-After``). Defaults to 2.
      client_options: passed to ``SecretClient`` (e.g. ``connection_verify`` for a test CA).
    """

    name = "keyvault"

    def __init__(self, vault_url: str, credential: Any = None, *, verify_challenge_resource: bool = True,
                 read_timeout: float = 3.0, read_retries: int = 2, **client_options: Any) -> None:
        from azure.keyvault.secrets import SecretClient

        if credential is None:
            from azure.identity import DefaultAzureCredential

            credential = DefaultAzureCredential()
        self.vault_url = vault_url
        # per-call options of azure-core: bounded attempts, so a vault outage costs seconds, not minutes
        self._read_options = {"connection_timeout": read_timeout, "read_timeout": read_timeout,
                              "retry_total": read_retries, "retry_backoff_factor": 0.2}
        self._client = SecretClient(vault_url, credential, verify_challenge_resource=verify_challenge_resource,
                                    **client_options)

    def _get(self, name: str, **options: Any) -> Any | None:
        try:
            return self._client.get_secret(name, **options)
        except ResourceNotFoundError:
            return None

    def read(self) -> dict[str, str]:
        values: dict[str, str] = {}
        try:
            for name in FLAG_NAMES:
                secret = self._get(name, **self._read_options)
                if secret is not None and secret.value is not None:
                    values[name] = secret.value
        except AzureError as exc:
            raise _store_error(exc, f"Key Vault {self.vault_url} unreadable") from exc
        return values

    def write(self, values: Mapping[str, str], *, actor: str, reason: str) -> None:
        try:
            for name, value in values.items():
                previous = self._get(name)
                tags = {
                    "changed_by": actor[:MAX_TAG],
                    "reason": reason[:MAX_TAG],
                    "previous": (previous.value if previous is not None and previous.value else "")[:MAX_TAG],
                }
                self._client.set_secret(name, value, content_type="text/plain", tags=tags)
        except AzureError as exc:
            raise _store_error(exc, f"Key Vault {self.vault_url} write failed") from exc

    def history(self, name: str) -> list[dict[str, Any]]:
        """Every version of one flag, oldest first, with its tags (the audit trail)."""
        versions = [
            {"version": p.version, "updated_on": p.updated_on.isoformat() if p.updated_on else None,
             "tags": dict(p.tags or {})}
            for p in self._client.list_properties_of_secret_versions(name)
        ]
        return sorted(versions, key=lambda v: v["updated_on"] or "")

    def changes(self, limit: int = 20) -> list[FlagChange]:
        """The latest versions of every flag, from their tags (Key Vault keeps no value in a tag)."""
        found: list[FlagChange] = []
        try:
            for name in FLAG_NAMES:
                try:
                    versions = self.history(name)
                except ResourceNotFoundError:
                    continue  # never set
                for version in versions:
                    tags = version["tags"]
                    found.append(FlagChange(name, None, tags.get("previous") or None, tags.get("changed_by", ""),
                                            tags.get("reason", ""), version["updated_on"] or ""))
        except AzureError as exc:
            raise _store_error(exc, f"Key Vault {self.vault_url} history unreadable") from exc
        return sorted(found, key=lambda change: change.at, reverse=True)[:limit]

    def close(self) -> None:
        self._client.close()
