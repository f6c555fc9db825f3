"""Run one replica's HTTP server with uvicorn, programmatically.

Shutdown (SIGTERM from the kubelet, Ctrl-C locally): uvicorn stops accepting connections and waits
for open requests to finish. Followers' long polls would hold it for up to their wait, so the signal
also releases them at once; the writer then drains its queue and the database closes cleanly.
"""

from __future__ import annotations

import asyncio
import logging
from types import FrameType

import uvicorn
from fastapi import FastAPI

from database_service.api import create_app
from database_service.settings import Settings

__all__ = ["serve"]


class _Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, app: FastAPI) -> None:
        super().__init__(config)
        self._app = app

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        replica = getattr(self._app.state, "replica", None)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        if replica is not None:
            # A signal handler may interrupt the loop anywhere: hand the work to the loop.
            loop.call_soon_threadsafe(replica.begin_shutdown)


def serve(settings: Settings) -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # httpx logs every request at INFO: one line per follower poll is noise, not news.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        # Our logging above; no per-request access log (requests are counted in /metrics).
        log_config=None,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=10,
    )
    _Server(config, app).run()
