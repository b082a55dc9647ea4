"""Clients for the data providers wump reads: GitHub, ecosyste.ms, Libraries.io and deps.dev.

Each client is a thin class around an injected HTTP client with one method per
endpoint; `registry` names them and falls back from one to the next.
"""
