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

    # replicas: with a PostgreSQL DSN, conversations (LangGraph checkpoints), sessions, feedback and
    # tickets live there instead of SQLite files under `data_dir`, so several server processes share
    # them; with a Redis URL, rate limits are shared too. Replicas also need one `auth_secret`.
    database_url: SecretStr | None = None
    redis_url: str | None = None

    # Store services over HTTP: the store's pricing and orders services (contract in the README).
    # Unset means the shipped price book and orders database, in-process.
    pricing_url: str | None = None
    orders_url: str | None = None
    # Bearer key sent to those services, when they require one.
    store_api_key: SecretStr | None = None

    # HTTP API: largest request body accepted (413 above it), and where analytics events go
    # ("jsonl" writes `<data_dir>/analytics.jsonl`; "none" drops them).
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    analytics_sink: Literal["jsonl", "none"] = "jsonl"

    # OpenSearch backend, simulated latencies, speculative retrieval.
    # The cluster; `opensearch_index` is the alias searches go to, each build is `<alias>-<version>`.
    opensearch_url: str = "https://localhost:9200"
    opensearch_user: str | None = None
    opensearch_password: SecretStr | None = None
    opensearch_index: str = Field(default="mangaassist", pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    opensearch_verify_certs: bool = True
    # Per-request timeout of searches and admin calls; bulk requests get their own.
    opensearch_timeout_s: float = Field(default=2.0, gt=0)
    opensearch_bulk_timeout_s: float = Field(default=60.0, gt=0)
    # Transport retries on 502/503/504 and timeouts; bulk retries of documents rejected with 429.
    opensearch_max_retries: int = Field(default=2, ge=0, le=10)
    opensearch_bulk_retries: int = Field(default=3, ge=0, le=10)
    opensearch_bulk_backoff_s: float = Field(default=1.0, ge=0)
    opensearch_bulk_chunk: int = Field(default=500, ge=1, le=10_000)
    opensearch_shards: int = Field(default=1, ge=1)
    opensearch_replicas: int = Field(default=1, ge=0)
    # HNSW engine; faiss with cosine needs OpenSearch 2.19+, lucene works from 2.9.
    opensearch_knn_engine: Literal["lucene", "faiss"] = "lucene"
    # Built-in `cjk` (character bigrams) needs no plugin; `kuromoji` / `icu_analyzer` need theirs.
    opensearch_ja_analyzer: str = "cjk"
    opensearch_en_analyzer: str = "english"
    # Simulated downstream latencies (ms) by step, e.g. '{"intent": 15, "knn": 40}' (JSON); empty:
    # none. For benchmarks and load tests: every step named here sleeps that long when it runs.
    simulated_latency_ms: dict[str, float] = Field(default_factory=dict)
    # Retrieval starts beside intent routing; off, it runs after routing and only for intents
    # that use it (the sequential baseline `bench/speculative.py` compares against).
    speculative_retrieval: bool = True
    # How long the speculative search's query embedding (the costly part) waits for routing's
    # verdict before it starts anyway: routing here takes a millisecond or two, and a turn it sends
    # elsewhere (an order, a price, a greeting) then costs no embedding at all.
    speculative_routing_wait_ms: float = Field(default=30.0, ge=0)

    # streaming: chat messages per minute (token bucket: the whole minute may come as one burst)
    # per signed-in customer and per guest session, shared through Redis when `redis_url` is set;
    # model calls per second per process (a capped tier is skipped like an unavailable one);
    # WebSocket frames: the largest accepted, and how many a second close a socket (1008).
    rate_customer_per_min: int = Field(default=30, ge=1)
    rate_guest_per_min: int = Field(default=10, ge=1)
    model_calls_per_s: float = Field(default=50.0, gt=0)
    ws_max_frame_bytes: int = Field(default=16 * 1024, ge=1024)
    ws_max_frames_per_s: int = Field(default=20, ge=1)

    # retrieval: which backend serves searches; the embedding model an index is built with (its id
    # and version are part of the index identity); where the embedded index lives (unset:
    # `<store_data_dir>/build/index`, built by `mangaassist index`); Titan V2 settings, used only
    # with `embedding_model=titan` and AWS credentials; whether the fused top-10 is reranked.
    search_backend: Literal["embedded", "opensearch"] = "embedded"
    embedding_model: Literal["e5", "minilm", "titan"] = "e5"
    index_dir: Path | None = None
    titan_model_id: str = "amazon.titan-embed-text-v2:0"
    titan_region: str | None = None
    titan_dimensions: Literal[256, 512, 1024] = 1024
    rerank: bool = True
    # OpenMP threads a local query embedding may use while no other turn is in flight and the
    # cores are idle (never more than the idle cores; under load every embedding keeps to one
    # thread, beside the event loop's).
    embedding_idle_threads: int = Field(default=2, ge=1, le=16)

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

    @property
    def index_path(self) -> Path:
        """Root of the embedded search index (versions, live pointer, reranker)."""
        return self.index_dir or self.store_data_dir / "build" / "index"


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
