"""Rollout control: flag stores (file, env, Key Vault), alert evaluation, the rollback runbook."""
