"""Model tiers: one litellm-backed chat model per tier, each behind its own breaker and retries."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import httpx  # noqa: E402
import litellm  # noqa: E402
import openai  # noqa: E402
import pybreaker  # noqa: E402
from langchain_core.messages import BaseMessage  # noqa: E402
from langchain_litellm import ChatLiteLLM  # noqa: E402
from tenacity import (  # noqa: E402
    AsyncRetrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from mangaassist.settings import Settings, get_settings  # noqa: E402

litellm.suppress_debug_info = True
litellm.telemetry = False

TierName = Literal["primary", "secondary"]
RETRYABLE = (
    litellm.exceptions.RateLimitError,
    litellm.exceptions.InternalServerError,
    litellm.exceptions.ServiceUnavailableError,
    litellm.exceptions.Timeout,
    litellm.exceptions.APIConnectionError,
    asyncio.TimeoutError,
    httpx.TransportError,
)


class TierUnavailable(RuntimeError):
    """The tier cannot answer this turn (no credentials, breaker open, or it failed)."""


def _aws_credentials_present() -> bool:
    # Only cheap local checks: probing instance metadata would stall every start-up off AWS.
    env = os.environ
    if env.get("AWS_ACCESS_KEY_ID") or env.get("AWS_PROFILE") or env.get("AWS_WEB_IDENTITY_TOKEN_FILE"):
        return True
    if env.get("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") or env.get("AWS_CONTAINER_CREDENTIALS_FULL_URI"):
        return True
    return (Path.home() / ".aws" / "credentials").exists()


def credentials_present(model: str, api_base: str | None, api_key: str | None) -> bool:
    """Whether a call to this tier could authenticate, decided without calling it."""
    if not model:
        return False
    if api_key or api_base:
        return True
    provider = model.split("/", 1)[0]
    if provider in ("bedrock", "bedrock_converse", "sagemaker"):
        return _aws_credentials_present()
    try:
        return bool(litellm.validate_environment(model=model).get("keys_in_environment"))
    except Exception:  # noqa: BLE001 - litellm raises assorted errors for unknown providers
        return False


@dataclass
class ModelTier:
    """One model tier with its breaker."""

    name: TierName
    model: str
    api_base: str | None
    api_key: str | None
    enabled: bool
    breaker: pybreaker.CircuitBreaker
    settings: Settings

    def chat_model(self) -> ChatLiteLLM:
        """A LangChain chat model; LangGraph's `messages` stream mode sees its tokens."""
        kwargs: dict[str, object] = {}
        if self.api_base:
            kwargs["api_base"] = self.api_base
        if self.api_key:
            kwargs["api_key"] = self.api_key
        return ChatLiteLLM(
            model=self.model,
            streaming=True,
            temperature=self.settings.llm_temperature,
            max_tokens=self.settings.llm_max_tokens,
            request_timeout=self.settings.llm_timeout_s,
            max_retries=0,
            # Retries are ours (tenacity, before the first token only); the HTTP client's are off.
            model_kwargs={"max_retries": 0},
            tags=[f"tier:{self.name}"],
            **kwargs,
        )

    @property
    def breaker_state(self) -> str:
        """closed, open or half-open."""
        return str(self.breaker.current_state)

    async def generate(
        self, messages: list[BaseMessage], on_token: Callable[[str], Awaitable[None]]
    ) -> str:
        """Stream an answer, calling `on_token` per delta; raise `TierUnavailable` on failure.

        Retries (jittered exponential back-off) happen only for retryable errors and only
        before the first token: once text has reached the shopper a retry would repeat it.
        """
        if not self.enabled:
            raise TierUnavailable(f"{self.name}: no credentials configured")
        if self.breaker.current_state == pybreaker.STATE_OPEN:
            raise TierUnavailable(f"{self.name}: circuit open")
        model = self.chat_model()
        emitted = False

        def retryable(exc: BaseException) -> bool:
            return isinstance(exc, RETRYABLE) and not emitted

        async def attempt() -> str:
            nonlocal emitted
            parts: list[str] = []
            stream = model.astream(messages).__aiter__()
            first = True
            while True:
                try:
                    if first:
                        chunk = await asyncio.wait_for(
                            stream.__anext__(), timeout=self.settings.llm_first_token_timeout_s
                        )
                    else:
                        chunk = await stream.__anext__()
                except StopAsyncIteration:
                    break
                first = False
                delta = chunk.content if isinstance(chunk.content, str) else ""
                if delta:
                    emitted = True
                    parts.append(delta)
                    await on_token(delta)
            text = "".join(parts).strip()
            if not text:
                raise litellm.exceptions.APIConnectionError(
                    message="empty completion", llm_provider="", model=self.model
                )
            return text

        try:
            with self.breaker.calling():
                async for retry in AsyncRetrying(
                    retry=retry_if_exception(retryable),
                    stop=stop_after_attempt(self.settings.llm_max_retries + 1),
                    wait=wait_exponential_jitter(initial=0.2, max=2.0),
                    reraise=True,
                ):
                    with retry:
                        return await attempt()
        except pybreaker.CircuitBreakerError as exc:
            raise TierUnavailable(f"{self.name}: circuit opened") from exc
        except (openai.OpenAIError, asyncio.TimeoutError, httpx.HTTPError) as exc:
            raise TierUnavailable(f"{self.name}: {type(exc).__name__}") from exc
        raise TierUnavailable(f"{self.name}: no attempt made")


def _tier(settings: Settings, name: TierName) -> ModelTier:
    model = getattr(settings, f"llm_{name}")
    api_base = getattr(settings, f"llm_{name}_api_base")
    secret = getattr(settings, f"llm_{name}_api_key")
    api_key = secret.get_secret_value() if secret else None
    if settings.llm_mode == "off":
        enabled = False
    elif settings.llm_mode == "on":
        enabled = bool(model)
    else:
        enabled = credentials_present(model, api_base, api_key)
    breaker = pybreaker.CircuitBreaker(
        fail_max=settings.breaker_fail_max, reset_timeout=settings.breaker_reset_s, name=f"model:{name}"
    )
    return ModelTier(name, model, api_base, api_key, enabled, breaker, settings)


@lru_cache(maxsize=1)
def get_model_tiers() -> dict[TierName, ModelTier]:
    """The process's model tiers, built once so breakers keep their state across turns."""
    settings = get_settings()
    return {"primary": _tier(settings, "primary"), "secondary": _tier(settings, "secondary")}
