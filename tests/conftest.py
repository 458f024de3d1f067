"""Shared fixtures. Unit tests never reach a model: the tiers are switched off for the session."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from graph.breakers import get_breakers
from graph.models import get_model_tiers
from mangaassist.settings import get_settings
from tools.registry import get_services

FIXTURE_TODAY = "2026-11-20"


def _clear_caches() -> None:
    get_settings.cache_clear()
    get_services.cache_clear()
    get_model_tiers.cache_clear()
    get_breakers.cache_clear()


@pytest.fixture(scope="session", autouse=True)
def offline_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Embedded defaults, a private data dir, no model tiers, and a pinned 'today'."""
    data_dir = tmp_path_factory.mktemp("var")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MANGAASSIST_DATA_DIR", str(data_dir))
        mp.setenv("MANGAASSIST_LLM_MODE", "off")
        mp.setenv("MANGAASSIST_TODAY", FIXTURE_TODAY)
        mp.setenv("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        _clear_caches()
        yield data_dir
    _clear_caches()


@pytest.fixture(scope="session")
def services(offline_settings: Path):  # type: ignore[no-untyped-def]
    return get_services()


@pytest.fixture
async def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[object]:
    """A turn runner over a fresh SQLite checkpointer and sessions table."""
    from graph.runner import TurnRunner

    settings = get_settings().model_copy(update={"data_dir": tmp_path})
    async with TurnRunner(settings) as turn_runner:
        yield turn_runner
