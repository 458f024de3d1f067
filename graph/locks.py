"""Per-session turn locks that do not outlive their use."""

from __future__ import annotations

import asyncio
import weakref


class SessionLocks:
    """`locks[session_id]` is that session's asyncio lock within this process.

    Weak values: a lock lives only while a turn holds or waits for it, so a long-running server
    does not keep one per session it has ever seen.
    """

    def __init__(self) -> None:
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    def __getitem__(self, session_id: str) -> asyncio.Lock:
        lock = self._locks.get(session_id)
        if lock is None:
            lock = self._locks[session_id] = asyncio.Lock()
        return lock
