"""A local HTTP pricing + orders service that can be told to fail, for tool fault injection.

It answers the store-services contract (README, "Store services over HTTP") from the shipped data
through the real in-process tools, so the service's HTTP clients see real answers, and an admin API
injects faults per service: an HTTP status, a delay, for the next N calls or until reset.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mangaassist.settings import REPO_DATA_DIR
from tools.catalog import Catalog
from tools.orders import SqliteOrdersTool
from tools.pricing import CatalogPricingTool, QuoteRequest


@dataclass
class Fault:
    status: int | None = None
    delay_s: float = 0.0
    times: int | None = None  # None: until reset


class _State:
    def __init__(self) -> None:
        self.faults: dict[str, Fault] = {}
        self.calls: dict[str, int] = {"pricing": 0, "orders": 0}
        self.pricing = CatalogPricingTool(Catalog(REPO_DATA_DIR))
        self.orders = SqliteOrdersTool(REPO_DATA_DIR / "orders.sqlite")

    async def fault(self, service: str) -> Response | None:
        """Apply the injected fault of `service`, if any: sleep, then maybe answer with an error."""
        self.calls[service] += 1
        fault = self.faults.get(service)
        if fault is None:
            return None
        if fault.times is not None:
            fault.times -= 1
            if fault.times <= 0:
                del self.faults[service]
        if fault.delay_s:
            await asyncio.sleep(fault.delay_s)
        if fault.status is not None:
            return JSONResponse({"error": "injected"}, status_code=fault.status)
        return None


def _app(state: _State) -> Starlette:
    async def quotes(request: Request) -> Response:
        body = QuoteRequest.model_validate(await request.json())
        if (failed := await state.fault("pricing")) is not None:
            return failed
        found = await state.pricing.quote(body.asins)
        return JSONResponse({"quotes": [q.model_dump(mode="json") for q in found.values()]})

    async def customer(request: Request) -> Response:
        if (failed := await state.fault("orders")) is not None:
            return failed
        user = request.path_params["user"]
        if not await state.orders.customer_exists(user):
            return JSONResponse({"error": "unknown customer"}, status_code=404)
        return JSONResponse({"customer_id": user})

    async def orders(request: Request) -> Response:
        if (failed := await state.fault("orders")) is not None:
            return failed
        found = await state.orders.customer_orders(
            request.path_params["user"], request.query_params.getlist("order_id")
        )
        return JSONResponse({"orders": [o.model_dump(mode="json") for o in found]})

    async def purchased(request: Request) -> Response:
        if (failed := await state.fault("orders")) is not None:
            return failed
        return JSONResponse({"asins": await state.orders.purchased_asins(request.path_params["user"])})

    async def set_fault(request: Request) -> Response:
        body = await request.json()
        state.faults[body["service"]] = Fault(
            status=body.get("status"), delay_s=body.get("delay_ms", 0) / 1000, times=body.get("times")
        )
        return JSONResponse({"ok": True})

    async def reset(request: Request) -> Response:
        state.faults.clear()
        state.calls = {"pricing": 0, "orders": 0}
        return JSONResponse({"ok": True})

    async def calls(request: Request) -> Response:
        return JSONResponse(state.calls)

    return Starlette(routes=[
        Route("/pricing/quotes", quotes, methods=["POST"]),
        Route("/orders/customers/{user}", customer),
        Route("/orders/customers/{user}/orders", orders),
        Route("/orders/customers/{user}/purchased", purchased),
        Route("/_admin/fault", set_fault, methods=["POST"]),
        Route("/_admin/reset", reset, methods=["POST"]),
        Route("/_admin/calls", calls),
    ])


class StoreServices:
    """The pricing and orders services on a free loopback port, in a background thread."""

    def __init__(self) -> None:
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(128)
        self.root = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        config = uvicorn.Config(_app(_State()), log_level="warning", access_log=False, lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=lambda: asyncio.run(self._server.serve(sockets=[self._sock])), daemon=True
        )
        self._admin = httpx.Client(base_url=self.root, timeout=10, trust_env=False)

    @property
    def pricing_url(self) -> str:
        return f"{self.root}/pricing"

    @property
    def orders_url(self) -> str:
        return f"{self.root}/orders"

    def fail(self, service: str, *, status: int | None = None, delay_ms: float = 0, times: int | None = None) -> None:
        """From now on `service` sleeps `delay_ms` and then answers `status` (if given)."""
        self._admin.post("/_admin/fault", json={
            "service": service, "status": status, "delay_ms": delay_ms, "times": times,
        }).raise_for_status()

    def reset(self) -> None:
        self._admin.post("/_admin/reset").raise_for_status()

    def calls(self) -> dict[str, Any]:
        return self._admin.get("/_admin/calls").json()

    def __enter__(self) -> StoreServices:
        self._thread.start()
        deadline = time.monotonic() + 20
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("store services did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self._admin.close()
        self._server.should_exit = True
        self._thread.join(10)
        self._sock.close()
