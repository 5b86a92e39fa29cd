"""Distributed mode (``-s REDIS_URL=...``): the add-on, the Redis keys, the worker registry and the Redis archive."""
