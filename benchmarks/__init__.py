"""Benchmarks: how close the app runs to the least work its job needs (docs/performance.md).

Every figure is a ratio of two runs in the same script, printed by the script; nothing here is
a timed assertion. One command each:

    .venv/bin/python -m benchmarks.cold_start
    .venv/bin/python -m benchmarks.upstream_calls
    .venv/bin/python -m benchmarks.lookup_latency
    .venv/bin/python -m benchmarks.throughput
    .venv/bin/python -m benchmarks.memory
"""
