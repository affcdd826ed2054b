"""Shared domain for every CloudFolio service: names, fingerprints, records, sources, storage, jobs."""
