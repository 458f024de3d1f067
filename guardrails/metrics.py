"""In-process guardrail counters (injections refused, PII redacted, stage failures).

Counters never carry message text: only event names and a language or stage label.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter

log = logging.getLogger("mangaassist.guardrails")

_lock = threading.Lock()
_counts: Counter[str] = Counter()


def count(event: str, label: str | None = None) -> None:
    """Add one to `event` (and to `event:label` when a label is given)."""
    with _lock:
        _counts[event] += 1
        if label:
            _counts[f"{event}:{label}"] += 1


def snapshot() -> dict[str, int]:
    """A copy of every counter."""
    with _lock:
        return dict(_counts)


def reset() -> None:
    """Zero every counter (tests, benchmarks)."""
    with _lock:
        _counts.clear()
