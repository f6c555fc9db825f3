"""Prometheus metrics of the hooks: calls, latency and errors per hook.

A registry of our own (not the process-global one), so that every app instance, and every test,
counts from zero.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

__all__ = ["HookMetrics"]


class HookMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.calls = Counter(
            "database_operator_hook_calls",
            "Hook calls by hook and HTTP status code.",
            ["hook", "code"],
            registry=self.registry,
        )
        self.errors = Counter(
            "database_operator_hook_errors",
            "Hook calls answered with an error (4xx or 5xx), by hook.",
            ["hook"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "database_operator_hook_duration_seconds",
            "Time to answer a hook call, by hook.",
            ["hook"],
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
            registry=self.registry,
        )
