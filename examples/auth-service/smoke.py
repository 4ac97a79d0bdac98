"""Smoke test and login burst against a running demo auth-service.

    python smoke.py [--url http://127.0.0.1:8000] [--burst 60] [--password demo-password]

It checks login, validate, the 401s, /metrics and /debug/pool (exit status 1 when one of those
fails; with ERROR_RATE > 0 or a leaked-dry pool some of them fail, as they should), then fires
--burst concurrent logins while sampling /metrics every 50 ms, and prints the answers' status
codes and what the pools' metrics showed: peak pending checkouts, peak used connections,
timeouts, connections created. What the burst should show depends on how the service was started
(see README.md); the burst itself never fails the run. Only ever point it at a service you run
yourself.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import sys
import time

import httpx
from prometheus_client.parser import text_string_to_metric_families

POOLS = ("async", "sync")


def parse_metrics(body: str) -> dict[tuple[str, tuple], float]:
    """{(sample name, sorted label items): value} from a Prometheus text exposition."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(body) for s in family.samples}


def sample(metrics: dict, name: str, **labels: str) -> float:
    return metrics.get((name, tuple(sorted(labels.items()))), 0.0)


async def scrape(client: httpx.AsyncClient) -> dict:
    response = await client.get("/metrics")
    response.raise_for_status()
    return parse_metrics(response.text)


async def functional_checks(client: httpx.AsyncClient, password: str) -> list[str]:
    failures = []

    def expect(what: str, response: httpx.Response, status: int) -> None:
        ok = response.status_code == status
        print(f"  {'ok  ' if ok else 'FAIL'} {what}: {response.status_code} {response.text[:100]!r}")
        if not ok:
            failures.append(what)

    expect("health", await client.get("/health"), 200)
    login = await client.post("/auth/login", json={"email": "user1@demo.test", "password": password})
    expect("login (JSON)", login, 200)
    token = login.json().get("access_token", "none") if login.status_code == 200 else "none"
    expect("validate", await client.get("/auth/validate", headers={"Authorization": f"Bearer {token}"}), 200)
    expect("login (form)", await client.post("/auth/login", data={"email": "user2@demo.test",
                                                                    "password": password}), 200)
    expect("wrong password", await client.post("/auth/login", json={"email": "user1@demo.test",
                                                                      "password": "wrong"}), 401)
    expect("unknown token", await client.get("/auth/validate", headers={"Authorization": "Bearer nope"}), 401)
    metrics_response = await client.get("/metrics")
    expect("metrics", metrics_response, 200)
    if not metrics_response.headers.get("content-type", "").startswith("text/plain; version=0.0.4"):
        failures.append("metrics content type")
    expect("debug/pool", await client.get("/debug/pool"), 200)
    return failures


async def burst(client: httpx.AsyncClient, size: int, password: str) -> None:
    before = await scrape(client)
    peaks = collections.Counter()
    done = asyncio.Event()

    async def watch() -> None:  # peak pending/used while the burst runs
        while not done.is_set():
            metrics = await scrape(client)
            for pool in POOLS:
                for key, name, labels in (
                    ("pending", "db_client_connection_pending_requests", {}),
                    ("used", "db_client_connection_count", {"state": "used"}),
                ):
                    value = sample(metrics, name, pool_name=pool, **labels)
                    peaks[pool, key] = max(peaks[pool, key], value)
            await asyncio.sleep(0.05)

    async def one(n: int) -> tuple[int, float]:
        started = time.perf_counter()
        try:
            response = await client.post("/auth/login", json={"email": f"user{n}@demo.test",
                                                              "password": password})
            return response.status_code, time.perf_counter() - started
        except httpx.HTTPError:
            return 0, time.perf_counter() - started

    watcher = asyncio.create_task(watch())
    started = time.perf_counter()
    results = await asyncio.gather(*(one(n) for n in range(1, size + 1)))
    elapsed = time.perf_counter() - started
    done.set()
    await watcher
    after = await scrape(client)

    statuses = collections.Counter(status for status, _ in results)
    print(f"  {size} concurrent logins in {elapsed:.2f} s: "
          + ", ".join(f"{status or 'error'}: {count}" for status, count in sorted(statuses.items())))
    print(f"  slowest answer {max(t for _, t in results):.2f} s")
    for pool in POOLS:
        def delta(name: str, pool: str = pool) -> float:
            return sample(after, name, pool_name=pool) - sample(before, name, pool_name=pool)

        print(f"  {pool:5} pool: peak pending {peaks[pool, 'pending']:.0f}, "
              f"peak used {peaks[pool, 'used']:.0f}, "
              f"timeouts +{delta('db_client_connection_timeouts_total'):.0f}, "
              f"connections created +{delta('db_client_connection_create_time_seconds_count'):.0f}, "
              f"checkouts +{delta('db_client_connection_wait_time_seconds_count'):.0f}; now used "
              f"{sample(after, 'db_client_connection_count', pool_name=pool, state='used'):.0f}, idle "
              f"{sample(after, 'db_client_connection_count', pool_name=pool, state='idle'):.0f}")


async def compare_with_debug_pool(client: httpx.AsyncClient) -> list[str]:
    """The scraped used/idle counts must equal SQLAlchemy's own checkedout()/checkedin()."""
    metrics = await scrape(client)
    debug = (await client.get("/debug/pool")).json()
    failures = []
    for pool in POOLS:
        used = sample(metrics, "db_client_connection_count", pool_name=pool, state="used")
        idle = sample(metrics, "db_client_connection_count", pool_name=pool, state="idle")
        same = (used, idle) == (debug[pool]["checked_out"], debug[pool]["checked_in"])
        print(f"  {'ok  ' if same else 'FAIL'} {pool}: metrics used={used:.0f} idle={idle:.0f}; "
              f"SQLAlchemy: {debug[pool]['status']}")
        if not same:
            failures.append(f"{pool} pool metrics differ from /debug/pool")
    return failures


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--burst", type=int, default=60, help="concurrent logins (0: none)")
    parser.add_argument("--password", default="demo-password", help="the service's SEED_PASSWORD")
    parser.add_argument("--timeout", type=float, default=120.0, help="per-request timeout, seconds")
    args = parser.parse_args()

    limits = httpx.Limits(max_connections=args.burst + 10, max_keepalive_connections=args.burst + 10)
    async with httpx.AsyncClient(base_url=args.url, timeout=args.timeout, limits=limits) as client:
        print("functional checks")
        failures = await functional_checks(client, args.password)
        if args.burst > 0:
            print("burst")
            await burst(client, args.burst, args.password)
        print("metrics vs /debug/pool")
        failures += await compare_with_debug_pool(client)
    print("FAILED: " + ", ".join(failures) if failures else "smoke checks passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
