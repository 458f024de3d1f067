"""Return eligibility, following the store's returns policy."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Literal

from pydantic import BaseModel

from tools.catalog import Catalog
from tools.orders import Order, OrdersTool

RETURN_WINDOW_DAYS = 30

def return_deadline(delivered_on: date) -> date:
    """Last day to return: 30 days from delivery; holiday deliveries (Nov 15-Dec 24) until Jan 31."""
    deadline = delivered_on + timedelta(days=RETURN_WINDOW_DAYS)
    if date(delivered_on.year, 11, 15) <= delivered_on <= date(delivered_on.year, 12, 24):
        deadline = max(deadline, date(delivered_on.year + 1, 1, 31))
    return deadline


Reason = Literal[
    "eligible",
    "window_passed",
    "not_delivered_yet",
    "can_cancel_instead",
    "already_returned",
    "cancelled",
    "digital_item",
]


class ItemEligibility(BaseModel):
    """Whether one item of an order can be returned, and why."""

    asin: str
    eligible: bool
    reason: Reason


class ReturnEligibility(BaseModel):
    """Eligibility of an order's items on a given day."""

    order_id: str
    status: str
    eligible: bool
    reason: Reason
    days_left: int | None = None
    items: list[ItemEligibility]


class ReturnsTool:
    """Checks the caller's orders against the returns policy."""

    def __init__(self, orders: OrdersTool, catalog: Catalog) -> None:
        self._orders = orders
        self._catalog = catalog

    def assess(self, order: Order, today: date) -> ReturnEligibility:
        """Apply the policy to one order."""
        days_left = None
        if order.status == "returned":
            reason: Reason = "already_returned"
        elif order.status == "cancelled":
            reason = "cancelled"
        elif order.status == "placed":
            reason = "can_cancel_instead"
        elif order.status != "delivered" or order.delivered_on is None:
            reason = "not_delivered_yet"
        else:
            days_left = (return_deadline(order.delivered_on) - today).days
            reason = "eligible" if days_left >= 0 else "window_passed"
        items = []
        for item in order.items:
            product = self._catalog.product(item.asin)
            if product is not None and product.format == "digital":
                items.append(ItemEligibility(asin=item.asin, eligible=False, reason="digital_item"))
            else:
                items.append(ItemEligibility(asin=item.asin, eligible=reason == "eligible", reason=reason))
        return ReturnEligibility(
            order_id=order.order_id,
            status=order.status,
            eligible=any(i.eligible for i in items),
            reason=reason,
            days_left=max(days_left, 0) if days_left is not None else None,
            items=items,
        )

    async def check(self, user_id: str | None, order_ids: list[str], today: date) -> tuple[bool, list[ReturnEligibility], list[str]]:
        """Eligibility for the caller's named orders (or recent delivered ones)."""
        lookup = await self._orders.lookup(user_id, order_ids, limit=10)
        orders = lookup.orders
        if not order_ids:
            orders = [o for o in orders if o.status == "delivered"][:3] or orders[:3]
        return lookup.signed_in, [self.assess(o, today) for o in orders], lookup.not_found
