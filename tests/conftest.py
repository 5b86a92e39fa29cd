"""Shared fixtures. Replica fixtures first; keep each group together."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.replica.site import Site
from tests.replica.testing import serve_replica

# ---- replica ------------------------------------------------------------------------------------------------

REPLICA_SMALL_ARTICLES = 60  # the smallest site that still carries every layout, feature and fault


@pytest.fixture(scope="session")
def replica_site() -> Site:
    """A small fault-free replica (every layout and feature, both editions)."""
    return Site(articles=REPLICA_SMALL_ARTICLES, seed=0)


@pytest.fixture(scope="session")
def replica_truth(replica_site: Site) -> list[dict[str, object]]:
    return list(replica_site.truth())


@pytest.fixture
def replica_url() -> Iterator[str]:
    """Base URL of a fault-free replica served over HTTP in a subprocess."""
    with serve_replica(articles=REPLICA_SMALL_ARTICLES, seed=0) as base_url:
        yield base_url
