"""Reproducible performance benchmark of the read API and the loader (`python -m bench.perf`).

Builds a synthetic dependency graph, loads it through wump's own loader into a
database it creates and drops, serves it with uvicorn and measures the API from a
separate load-driver process. See `bench/README.md`.
"""
