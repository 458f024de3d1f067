"""How many turns this process has in flight, for work that may borrow otherwise idle cores."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

_turns = 0


@contextmanager
def turn_in_flight() -> Iterator[None]:
    """Count one turn while the block runs."""
    global _turns
    _turns += 1
    try:
        yield
    finally:
        _turns -= 1


def turns_in_flight() -> int:
    """The turns running now (on this process's event loop)."""
    return _turns
