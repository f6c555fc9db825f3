"""The hooks' HTTP edge: thin FastAPI routes over the pure functions in `cluster`, `backup`, ...

Each route parses the body, calls one pure function and serialises its answer. Anything but a 200
makes Metacontroller apply nothing and retry, so a request we cannot read is refused with a 4xx
(and a message), never answered with a guess.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, ValidationError

from hooks import backup, cluster, pod_role
from hooks.envelope import (
    CustomizeRequest,
    CustomizeResponse,
    DecoratorRequest,
    SyncRequest,
    describe_error,
)
from hooks.metrics import HookMetrics

__all__ = ["app", "create_app", "dumps"]

MAX_BODY = 8 * 1024 * 1024


def dumps(payload: Any) -> bytes:
    """Compact JSON in a fixed key order: the same answer is the same bytes."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def _error(status: int, message: str) -> Response:
    return Response(dumps({"error": message}), status_code=status, media_type="application/json")


def _sync_cluster(req: SyncRequest) -> BaseModel:
    return cluster.sync(req)


def _sync_backup(req: SyncRequest) -> BaseModel:
    return backup.sync(req)


def _customize_cluster(req: CustomizeRequest) -> BaseModel:
    return CustomizeResponse(relatedResources=cluster.customize(req.parent))


def _customize_backup(req: CustomizeRequest) -> BaseModel:
    return CustomizeResponse(relatedResources=backup.customize(req.parent))


HOOKS: dict[str, tuple[type[BaseModel], Callable[[Any], BaseModel]]] = {
    "/sync/databasecluster": (SyncRequest, _sync_cluster),
    "/customize/databasecluster": (CustomizeRequest, _customize_cluster),
    "/sync/databasebackup": (SyncRequest, _sync_backup),
    "/customize/databasebackup": (CustomizeRequest, _customize_backup),
    "/sync/pod-role": (DecoratorRequest, pod_role.sync),
}


def create_app() -> FastAPI:
    app = FastAPI(title="database-operator hooks", docs_url=None, redoc_url=None)
    metrics = HookMetrics()
    app.state.metrics = metrics

    def route(path: str, model: type[BaseModel], handler: Callable[[Any], BaseModel]) -> None:
        hook = path.strip("/").replace("/", "-")

        async def call(request: Request) -> Response:
            started = time.perf_counter()
            response = await _answer(request, model, handler)
            if response.status_code != 200:
                metrics.errors.labels(hook).inc()
            metrics.calls.labels(hook, str(response.status_code)).inc()
            metrics.latency.labels(hook).observe(time.perf_counter() - started)
            return response

        app.add_api_route(path, call, methods=["POST"], name=hook)

    for path, (model, handler) in HOOKS.items():
        route(path, model, handler)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/metrics")
    def prometheus() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return app


async def _answer(
    request: Request, model: type[BaseModel], handler: Callable[[Any], BaseModel]
) -> Response:
    body = await request.body()
    if len(body) > MAX_BODY:
        return _error(413, f"request body over {MAX_BODY} bytes")
    try:
        payload = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        return _error(400, f"request body is not JSON: {error}")
    if not isinstance(payload, dict):
        return _error(400, "request body must be a JSON object")
    try:
        parsed = model.model_validate(payload)
    except ValidationError as error:
        return _error(422, describe_error(error).replace("spec.", "", 1))
    answer = handler(parsed)
    return Response(dumps(answer.model_dump()), media_type="application/json")


# For `uvicorn hooks.app:app`; `python -m hooks serve` builds its own.
app = create_app()
