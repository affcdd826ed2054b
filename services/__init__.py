"""CloudFolio services: shared core, queue actors (sync, merge, train) and the legacy orchestrator."""
