"""Load tests and benchmarks: Locust scenarios (to come) and pipeline benchmarks (``bench_*.py``)."""
