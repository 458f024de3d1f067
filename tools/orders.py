"""Order look-ups, answered only for the order's owner."""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import date
from pathlib import Path
from typing import Literal
from urllib.parse import quote

import aiosqlite
import httpx
from pydantic import BaseModel


class OrderItem(BaseModel):
    """One line of an order."""

    asin: str
    quantity: int
    unit_price: float


class Order(BaseModel):
    """An order as its owner may see it."""

    order_id: str
    status: Literal["placed", "shipped", "in_transit", "delivered", "delayed", "cancelled", "returned"]
    placed_on: date
    shipped_on: date | None = None
    estimated_delivery: date | None = None
    delivered_on: date | None = None
    tracking_number: str | None = None
    shipping_method: str
    currency: str
    total: float
    note: str | None = None
    items: list[OrderItem]


class OrderLookup(BaseModel):
    """What the order tool found for a caller."""

    signed_in: bool
    orders: list[Order] = []
    # An order id the caller named that is not theirs (or does not exist): never told apart.
    not_found: list[str] = []


class OrdersTool(ABC):
    """The customers/orders system, read-only; `lookup` answers only for the order's owner."""

    @abstractmethod
    async def customer_orders(self, user_id: str, order_ids: list[str]) -> list[Order]:
        """The customer's orders among `order_ids` (all of them when empty), newest first."""

    @abstractmethod
    async def purchased_asins(self, user_id: str) -> list[str]:
        """Everything the customer bought (not cancelled), newest first."""

    @abstractmethod
    async def customer_exists(self, user_id: str) -> bool:
        """Whether the id names a customer of the store."""

    async def lookup(self, user_id: str | None, order_ids: list[str], *, limit: int = 5) -> OrderLookup:
        """The caller's named orders, or their most recent ones when none is named."""
        if not user_id:
            return OrderLookup(signed_in=False, not_found=list(order_ids))
        found = await self.customer_orders(user_id, order_ids)
        if order_ids:
            # Filtered again here: a remote service that ignored the filter must not widen the answer.
            found = [o for o in found if o.order_id in order_ids]
            found_ids = {f.order_id for f in found}
            missing = [o for o in order_ids if o not in found_ids]
            return OrderLookup(signed_in=True, orders=found, not_found=missing)
        return OrderLookup(signed_in=True, orders=found[:limit])


class SqliteOrdersTool(OrdersTool):
    """Reads the store's orders database file (the shipped fixture by default)."""

    def __init__(self, db_path: Path) -> None:
        self._uri = f"file:{db_path}?mode=ro"

    async def _fetch(self, sql: str, params: tuple[object, ...]) -> list[aiosqlite.Row]:
        async with aiosqlite.connect(self._uri, uri=True) as db:
            db.row_factory = aiosqlite.Row
            async with db.execute(sql, params) as cur:
                return list(await cur.fetchall())

    async def customer_orders(self, user_id: str, order_ids: list[str]) -> list[Order]:
        """The customer's orders among `order_ids` (all of them when empty), newest first."""
        where, params = "customer_id = ?", (user_id,)
        if order_ids:
            where += f" AND order_id IN ({','.join('?' for _ in order_ids)})"
            params = (user_id, *order_ids)
        # One connection and two queries: a connection per order costs a thread and a file open each.
        async with aiosqlite.connect(self._uri, uri=True) as db:
            db.row_factory = aiosqlite.Row
            sql = f"SELECT * FROM orders WHERE {where} ORDER BY placed_on DESC, order_id DESC"
            async with db.execute(sql, params) as cur:
                rows = list(await cur.fetchall())
            items: dict[str, list[OrderItem]] = {row["order_id"]: [] for row in rows}
            if items:
                sql = (
                    "SELECT order_id, asin, quantity, unit_price FROM order_items "
                    f"WHERE order_id IN ({','.join('?' for _ in items)}) ORDER BY rowid"
                )
                async with db.execute(sql, tuple(items)) as cur:
                    for item in await cur.fetchall():
                        items[item["order_id"]].append(
                            OrderItem(asin=item["asin"], quantity=item["quantity"], unit_price=item["unit_price"])
                        )
        return [Order(**dict(row), items=items[row["order_id"]]) for row in rows]

    async def purchased_asins(self, user_id: str) -> list[str]:
        """Everything the customer bought (not cancelled), newest first."""
        rows = await self._fetch(
            "SELECT i.asin FROM order_items i JOIN orders o USING (order_id) "
            "WHERE o.customer_id = ? AND o.status != 'cancelled' ORDER BY o.placed_on DESC",
            (user_id,),
        )
        return [r["asin"] for r in rows]

    async def customer_exists(self, user_id: str) -> bool:
        """Whether the id names a customer of the store."""
        return bool(await self._fetch("SELECT 1 FROM customers WHERE customer_id = ?", (user_id,)))


class CustomerOrders(BaseModel):
    """The orders service's answer for one customer."""

    orders: list[Order] = []


class PurchasedAsins(BaseModel):
    """The orders service's answer: store ids a customer bought."""

    asins: list[str] = []


class HttpOrdersTool(OrdersTool):
    """The store's orders service over HTTP (`MANGAASSIST_ORDERS_URL`); contract in the README.

    Errors surface as `httpx.HTTPError`, which the graph's breaker counts as the dependency failing.
    """

    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    async def customer_orders(self, user_id: str, order_ids: list[str]) -> list[Order]:
        """The customer's orders among `order_ids` (all of them when empty), newest first."""
        response = await self._client.get(
            f"customers/{quote(user_id, safe='')}/orders", params=[("order_id", o) for o in order_ids]
        )
        if response.status_code == 404:
            return []
        response.raise_for_status()
        return CustomerOrders.model_validate_json(response.content).orders

    async def purchased_asins(self, user_id: str) -> list[str]:
        """Everything the customer bought (not cancelled), newest first."""
        response = await self._client.get(f"customers/{quote(user_id, safe='')}/purchased")
        if response.status_code == 404:
            return []
        response.raise_for_status()
        return PurchasedAsins.model_validate_json(response.content).asins

    async def customer_exists(self, user_id: str) -> bool:
        """Whether the id names a customer of the store."""
        response = await self._client.get(f"customers/{quote(user_id, safe='')}")
        if response.status_code == 404:
            return False
        response.raise_for_status()
        return True
