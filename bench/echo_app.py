"""The baseline of the hooks benchmark: a bare FastAPI route that parses and echoes the body."""

from __future__ import annotations

import json

from fastapi import FastAPI, Request, Response

app = FastAPI()


@app.post("/echo")
async def echo(request: Request) -> Response:
    payload = json.loads(await request.body())
    return Response(json.dumps(payload, separators=(",", ":")), media_type="application/json")
