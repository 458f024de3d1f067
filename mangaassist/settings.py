"""All service settings in one object, read from `MANGAASSIST_*` environment variables."""

from __future__ import annotations

import os
import secrets
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_DATA_DIR = Path(__file__).resolve().parent.parent / "data"

DEFAULT_COMPETITORS = (
    "Amazon",
    "Kindle",
    "Barnes & Noble",
    "Barnes and Noble",
    "BookWalker",
    "Book Walker",
    "Kinokuniya",
    "紀伊國屋",
    "Rakuten",
    "楽天",
    "Kobo",
    "eBay",
    "Right Stuf",
    "RightStuf",
    "Crunchyroll Store",
    "Mandarake",
    "まんだらけ",
    "Book-Off",
    "BookOff",
    "ブックオフ",
    "Yodobashi",
    "ヨドバシ",
    "Honto",
    "ebookjapan",
    "コミックシーモア",
    "Comixology",
    "Walmart",
    "Target",
    "Mercari",
    "メルカリ",
    "Animate",
    "アニメイト",
    "Tsutaya",
    "TSUTAYA",
    "Yahoo Shopping",
    "Yahoo!ショッピング",
    "Zozo",
    "Shopee",
    "AliExpress",
    "Temu",
    "Google Play Books",
    "Apple Books",
)


class Settings(BaseSettings):
    """Service configuration; every field can be set as `MANGAASSIST_<FIELD>`."""

    model_config = SettingsConfigDict(env_prefix="MANGAASSIST_", extra="ignore")

    # Where the shipped store data lives (catalog, policies, reviews, orders fixture).
    store_data_dir: Path = REPO_DATA_DIR
    # Where the service writes: checkpoints, sessions, analytics.
    data_dir: Path = Path("var")

    host: str = "127.0.0.1"
    port: int = 8000

    llm_primary: str = "bedrock/anthropic.claude-3-5-sonnet-20240620-v1:0"
    llm_primary_api_base: str | None = None
    llm_primary_api_key: SecretStr | None = None
    llm_secondary: str = "bedrock/anthropic.claude-3-haiku-20240307-v1:0"
    llm_secondary_api_base: str | None = None
    llm_secondary_api_key: SecretStr | None = None
    # "auto" uses a tier only when credentials for it are found; "on"/"off" force it.
    llm_mode: str = Field(default="auto", pattern="^(auto|on|off)$")
    llm_timeout_s: float = Field(default=20.0, gt=0)
    llm_first_token_timeout_s: float = Field(default=8.0, gt=0)
    llm_max_retries: int = Field(default=1, ge=0, le=5)
    llm_temperature: float = Field(default=0.2, ge=0, le=2)
    llm_max_tokens: int = Field(default=600, gt=0)

    breaker_fail_max: int = Field(default=3, ge=1)
    breaker_reset_s: float = Field(default=30.0, gt=0)
    # Sliding-window breaker policy: a dependency opens when more than `breaker_failure_rate` of its
    # calls in the last `breaker_window_s` failed or timed out (once `breaker_min_calls` were made),
    # or after `breaker_fail_max` consecutive failures. Half-open admits `breaker_half_open_fraction`
    # of the traffic. Per-dependency overrides as JSON, e.g. '{"pricing": {"failure_rate": 0.5}}'.
    breaker_window_s: float = Field(default=60.0, gt=0)
    breaker_failure_rate: float = Field(default=0.2, gt=0, le=1)
    breaker_min_calls: int = Field(default=10, ge=1)
    breaker_half_open_fraction: float = Field(default=0.2, gt=0, le=1)
    breaker_overrides: dict[str, dict[str, float]] = Field(default_factory=dict)

    # The turn's budget: the final frame within `turn_deadline_s`; a model whose first token takes
    # longer than `ttft_target_s` counts as stalled. A retry is only started when
    # `retry_min_budget_s` would remain for it.
    turn_deadline_s: float = Field(default=3.0, gt=0)
    ttft_target_s: float = Field(default=1.5, gt=0)
    retry_min_budget_s: float = Field(default=0.5, ge=0)
    # Kept back from the model tiers so the fallback responders still finish inside the deadline.
    deadline_reserve_s: float = Field(default=0.25, ge=0)
    # Per-tool call timeouts (seconds), by dependency; JSON to override one.
    tool_timeouts_s: dict[str, float] = Field(
        default_factory=lambda: {
            "catalog": 0.8, "pricing": 0.5, "orders": 0.8, "recommendations": 0.8, "retrieval": 0.8,
        }
    )

    # Intents answered from the response cache before any model; and intents sent straight to the
    # secondary (cheaper) model instead of the primary.
    cache_first_intents: list[str] = Field(default_factory=lambda: ["store_faq", "shipping_info"])
    secondary_first_intents: list[str] = Field(default_factory=list)
    # Cosine similarity (character n-grams) a question needs to be served a cached answer, per
    # language: Japanese questions share fewer n-grams with their paraphrases.
    cache_min_similarity: dict[str, float] = Field(default_factory=lambda: {"en": 0.55, "ja": 0.45})
    # Semantic cache of model answers: entry lifetime and the early re-expiration factor (XFetch beta).
    answer_cache_ttl_s: float = Field(default=600.0, gt=0)
    answer_cache_beta: float = Field(default=1.0, ge=0)
    answer_cache_min_similarity: float = Field(default=0.9, gt=0, le=1)
    # After the model path has been unavailable this long, every answer carries the degraded banner.
    degraded_banner_after_s: float = Field(default=900.0, gt=0)

    max_message_chars: int = Field(default=4000, gt=0)
    history_turns: int = Field(default=6, ge=1)
    session_ttl_hours: float = Field(default=24.0, gt=0)

    retrieval_k: int = Field(default=8, ge=1, le=50)
    max_product_cards: int = Field(default=5, ge=1, le=20)
    intent_min_confidence: float = Field(default=0.35, ge=0, le=1)

    competitors: list[str] = Field(default_factory=lambda: list(DEFAULT_COMPETITORS))
    # What the competitor guard does with a competitor's name: drop its sentence, or name the store instead.
    guard_competitor_action: str = Field(default="remove", pattern="^(remove|replace)$")
    # Output guard stages fail closed (answer withheld) when they error; a stage listed here as
    # "fail_open" passes the answer on instead. JSON, e.g. '{"scope": "fail_open"}'.
    guard_stage_policy: dict[str, Literal["fail_closed", "fail_open"]] = Field(default_factory=dict)
    # How long the price guard waits for the pricing tool before removing every price.
    guard_pricing_timeout_ms: float = Field(default=200.0, gt=0)

    # HS256 key that signs bearer tokens (`mangaassist token`). Unset: a random key created once
    # per data dir in `<data_dir>/auth_secret` (0600), so tokens survive restarts and every process
    # sharing the data dir (CLI, server, MCP) accepts the same tokens. Read it via `token_secret`.
    auth_secret: SecretStr | None = None
    # Bearer token naming the customer of a `mangaassist mcp` (stdio) session; unset means a guest.
    mcp_token: SecretStr | None = None
    # Full assistant turns (`ask_assistant`) one MCP caller may start per minute.
    mcp_turns_per_minute: int = Field(default=30, ge=1)

    log_level: str = "INFO"
    # Pin "today" (ISO date) for reproducible return-window answers; unset means the real date.
    today: date | None = None

    @property
    def checkpoint_path(self) -> Path:
        """SQLite file that holds LangGraph checkpoints (one thread per session)."""
        return self.data_dir / "checkpoints.sqlite"

    @property
    def sessions_path(self) -> Path:
        """SQLite file of the service's own session bookkeeping."""
        return self.data_dir / "sessions.sqlite"

    @property
    def token_secret(self) -> str:
        """The bearer-token signing key: `auth_secret`, else the data dir's own key (made on first use)."""
        if self.auth_secret is not None:
            return self.auth_secret.get_secret_value()
        return _data_dir_secret(self.data_dir / "auth_secret")

    @property
    def intent_model_path(self) -> Path:
        """Trained intent classifier, produced by `mangaassist train-intent`."""
        return self.store_data_dir / "build" / "intent_model.joblib"


@lru_cache(maxsize=8)
def _data_dir_secret(path: Path) -> str:
    """Read the key file, creating it (owner-only) if no process has yet."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(secrets.token_urlsafe(48))
        # link() publishes the complete file atomically and fails if another process won the race.
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return path.read_text(encoding="ascii").strip()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Process-wide settings, read once from the environment."""
    return Settings()
