"""Prometheus metrics of one replica, in a registry of its own.

A per-app `CollectorRegistry` (not the process-global one) lets tests build many apps in one
process without "duplicated timeseries" errors, and keeps `/metrics` to exactly this replica.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CONTENT_TYPE_LATEST as CONTENT_TYPE
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

__all__ = ["CONTENT_TYPE", "Metrics"]

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "database_http_requests",
            "HTTP requests handled, by route template, method and status code.",
            ["method", "route", "status"],
            registry=r,
        )
        self.request_seconds = Histogram(
            "database_http_request_duration_seconds",
            "Time to answer an HTTP request (to the last byte, streams included).",
            ["method", "route"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.writes = Counter(
            "database_writes",
            "Committed (durable) write operations, by operation.",
            ["operation"],
            registry=r,
        )
        self.write_failures = Counter(
            "database_write_failures",
            "Write operations refused or failed, by operation and error.",
            ["operation", "error"],
            registry=r,
        )
        self.commit_batch_size = Histogram(
            "database_commit_batch_operations",
            "Operations per commit (group commit: one fsync per batch).",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512),
            registry=r,
        )
        self.commit_seconds = Histogram(
            "database_commit_duration_seconds",
            "Time to apply and durably commit one batch.",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.sequence = Gauge(
            "database_sequence", "Last committed (leader) or applied (follower) change.", registry=r
        )
        self.is_leader = Gauge("database_is_leader", "1 on the leader, 0 on followers.", registry=r)
        self.replication_lag_seconds = Gauge(
            "database_replication_lag_seconds",
            "Follower: how far behind the leader this replica may be, in seconds (0: caught up).",
            registry=r,
        )
        self.replication_lag_changes = Gauge(
            "database_replication_lag_changes",
            "Follower: changes the leader had committed that this replica had not applied yet.",
            registry=r,
        )
        self.replication_delay_seconds = Histogram(
            "database_replication_apply_delay_seconds",
            "Follower: time from the leader's commit to this replica's commit of each change.",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.snapshot_resyncs = Counter(
            "database_replication_snapshot_resyncs",
            "Follower: full resynchronisations from a leader snapshot.",
            registry=r,
        )
        self.replication_errors = Counter(
            "database_replication_errors",
            "Follower: failed pulls from the leader, by reason.",
            ["reason"],
            registry=r,
        )
        self.snapshots_served = Counter(
            "database_snapshots_served", "Snapshot streams started.", registry=r
        )

    def follow_lag(self, seconds: Callable[[], float], changes: Callable[[], float]) -> None:
        """Compute the lag gauges when scraped, so they are never stale."""
        self.replication_lag_seconds.set_function(seconds)
        self.replication_lag_changes.set_function(changes)

    def render(self) -> bytes:
        return generate_latest(self.registry)
