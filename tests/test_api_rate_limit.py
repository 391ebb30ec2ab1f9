"""Where the write API's per-key limit counts (issue 21, point 7).

Under the default ``memory://`` each worker process counts on its own (the README's write-API
section says so); with ``RATELIMIT_STORAGE_URI=redis://...`` every worker counts in the one
Redis, so a key gets ``API_RATE_LIMIT`` requests across all of them. Two app instances
stand for two workers; the Redis is the one this machine runs (skipped without it, as in
test_security.py).
"""

from __future__ import annotations

import pytest

from statuspage import api_keys
from statuspage.extensions import db

from .test_security import REDIS_URL, redis_prefix  # noqa: F401 (a fixture)

LIMIT = "4 per minute"


@pytest.fixture
def key(app, admin, clock) -> str:
    _, key = api_keys.create_key("PagerDuty", actor=admin, now=clock())
    db.session.commit()
    return key


def _statuses(apps, key: str, rounds: int) -> list[int]:
    """``rounds`` times: one GET of the components through each app in turn."""
    codes = []
    for _ in range(rounds):
        for app in apps:
            with app.app_context():
                client = app.test_client()
                page = client.get("/api/v2/status.json").get_json()["page"]["id"]
                codes.append(client.get(f"/api/v1/pages/{page}/components",
                                        headers={"Authorization": f"OAuth {key}"}).status_code)
    return codes


def test_under_memory_each_worker_counts_the_key_on_its_own(make_app, key):
    workers = [make_app(API_RATE_LIMIT=LIMIT) for _ in range(2)]
    assert workers[0].config["RATELIMIT_STORAGE_URI"] == "memory://"
    # 4 each: twice the limit across the two (what the README warns of).
    assert _statuses(workers, key, 5) == [200] * 8 + [429, 429]


def test_with_redis_every_worker_counts_the_key_in_one_place(make_app, key, redis_prefix):
    import redis

    workers = [make_app(API_RATE_LIMIT=LIMIT, RATELIMIT_STORAGE_URI=REDIS_URL,
                        RATELIMIT_KEY_PREFIX=redis_prefix) for _ in range(2)]
    assert _statuses(workers, key, 3) == [200, 200, 200, 200, 429, 429]
    # The count is in Redis, under the API's key (hashed, never the key itself).
    client = redis.Redis.from_url(REDIS_URL)
    try:
        stored = [k.decode() for k in client.scan_iter(match=f"*{redis_prefix}*")]
    finally:
        client.close()
    assert stored and all("api-key:" in k for k in stored), stored
    assert not any(key in k for k in stored)
