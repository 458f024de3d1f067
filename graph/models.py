"""Model tiers: one streamed litellm model per tier, each behind its own breaker and retries."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Literal, cast

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import httpx  # noqa: E402
import litellm  # noqa: E402
import openai  # noqa: E402
import pybreaker  # noqa: E402
from litellm import CustomStreamWrapper  # noqa: E402
from tenacity import (  # noqa: E402
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from graph.breakers import DependencyBreaker, get_breakers  # noqa: E402
from graph.token_bucket import TokenBucket  # noqa: E402
from mangaassist.settings import Settings, get_settings  # noqa: E402

litellm.suppress_debug_info = True
litellm.telemetry = False

TierName = Literal["primary", "secondary"]
# A chat message as litellm takes it: {"role": ..., "content": ...}.
ChatMessage = dict[str, str]
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


def _retry_after_s(exc: BaseException) -> float:
    """The server's Retry-After (seconds) on a throttling error, 0 when it gave none."""
    # litellm keeps the provider's headers on the exception; its synthetic `response` has none.
    for headers in (getattr(exc, "litellm_response_headers", None), getattr(getattr(exc, "response", None), "headers", None)):
        if headers and headers.get("retry-after"):
            try:
                return float(headers["retry-after"])
            except ValueError:  # an HTTP-date Retry-After: no hint, the back-off still applies
                return 0.0
    return 0.0


def _piece(chunk: object) -> tuple[str, bool] | None:
    """The text a streamed chunk adds and whether it ends the answer (carries the finish reason).

    Reads the shapes litellm's providers stream: OpenAI-style chunks (litellm's own
    `ModelResponseStream`, the OpenAI SDK's `ChatCompletionChunk`) and litellm's generic
    `{"text", "is_finished"}` chunks. Role-only, usage-only and tool chunks add no text. Any other
    shape is None: litellm's stream wrapper has to normalise it.
    """
    choices = getattr(chunk, "choices", None)
    if choices is not None:
        if not choices:
            return "", False
        choice = choices[0]
        content = getattr(choice.delta, "content", None) if choice.delta is not None else None
        return (content if isinstance(content, str) else ""), choice.finish_reason is not None
    if isinstance(chunk, dict) and "is_finished" in chunk:
        text = chunk.get("text")
        return (text if isinstance(text, str) else ""), bool(chunk["is_finished"])
    return None


# Who counts model calls refused by the cap (the served app's metrics). Graph code does not import
# the server: the server registers its counter here.
_cap_refusal_reporter: Callable[[str], None] | None = None


def report_cap_refusals_to(reporter: Callable[[str], None] | None) -> None:
    """Have `reporter("model")` called for each model call the cap refuses (None: nobody)."""
    global _cap_refusal_reporter
    _cap_refusal_reporter = reporter


@dataclass
class ModelTier:
    """One model tier with its breaker."""

    name: TierName
    model: str
    api_base: str | None
    api_key: str | None
    enabled: bool
    breaker: DependencyBreaker
    settings: Settings
    # Shared by every tier of the process: `model_calls_per_s`.
    call_cap: TokenBucket

    @cached_property
    def _request(self) -> dict[str, object]:
        """The litellm arguments every call of this tier shares, built once."""
        request: dict[str, object] = {
            "model": self.model,
            "stream": True,
            "temperature": self.settings.llm_temperature,
            "max_tokens": self.settings.llm_max_tokens,
            # Constant, not the turn's remaining budget (`generate` enforces that): litellm keys its
            # cached HTTP client on the timeout, so a per-call value built a new client and
            # connection for every call.
            "timeout": self.settings.llm_timeout_s,
            # Retries are ours (tenacity, before the first token only); the HTTP client's are off.
            "max_retries": 0,
        }
        if self.api_base:
            request["api_base"] = self.api_base
        if self.api_key:
            request["api_key"] = self.api_key
        return request

    async def _deltas(self, messages: list[ChatMessage]) -> AsyncIterator[str]:
        """The answer's text as the model streams it."""
        # litellm.acompletion directly, not a LangChain chat model: tokens reach the shopper
        # through the graph's custom stream writer, so LangChain's per-call model object,
        # callbacks and message conversion were pure cost (about a fifth of the call's CPU).
        # With stream=True litellm always answers with its stream wrapper.
        stream = cast(
            CustomStreamWrapper, await litellm.acompletion(messages=messages, **self._request)
        )
        # Closing frees the connection at once when the stream ends early (deadline, error).
        async with contextlib.aclosing(stream), contextlib.aclosing(self._pieces(stream)) as pieces:
            async for text, finished in pieces:
                if text:
                    yield text
                # The answer is whole at its finish reason. Reading on to the end of the stream
                # only waits for the server's last event and runs litellm's end-of-stream
                # bookkeeping (the whole response rebuilt in a worker thread, a cost look-up,
                # success callbacks), which nothing here reads: 3-4 ms of CPU a call.
                if finished:
                    return

    async def _pieces(self, stream: CustomStreamWrapper) -> AsyncIterator[tuple[str, bool]]:
        """(text, finished) per chunk, read from the provider's own parsed stream when it can be.

        litellm's wrapper rebuilds every chunk as a new pydantic response (model name, hidden
        params, logging, usage) that this tier never reads: about 6 ms of CPU of a 20-token
        answer, two fifths of the whole call. The provider stream under it already holds parsed
        chunks; a shape `_piece` does not know goes through the wrapper's own per-chunk
        conversion, and a failure is mapped to litellm's error types as the wrapper maps it.
        """
        try:
            raw = stream.completion_stream
            if raw is None:  # some providers (Bedrock among them) open their stream at the first read
                raw = await stream.fetch_stream()
            if not hasattr(raw, "__aiter__"):
                # A synchronous provider stream: the wrapper reads it.
                async for chunk in stream:
                    if (piece := _piece(chunk)) is not None:
                        yield piece
                return
            async for chunk in raw:
                if chunk is None or chunk == "None":  # keep-alive chunks some providers send
                    continue
                piece = _piece(chunk)
                if piece is None and (converted := stream.chunk_creator(chunk=chunk)) is not None:
                    piece = _piece(converted)
                if piece is not None:
                    yield piece
        except (openai.OpenAIError, httpx.HTTPError):
            raise
        except Exception as exc:  # noqa: BLE001 - mapped below, as litellm's wrapper maps it
            try:
                litellm.exception_type(
                    model=self.model, custom_llm_provider=stream.custom_llm_provider,
                    original_exception=exc, completion_kwargs={}, extra_kwargs={},
                )
            except openai.OpenAIError as mapped:
                raise mapped from exc
            raise

    @property
    def ready(self) -> bool:
        """Configured, and its breaker would let a call through now."""
        return self.enabled and self.breaker.admits()

    async def generate(
        self, messages: list[ChatMessage], on_token: Callable[[str], Awaitable[None]], deadline: float
    ) -> str:
        """Stream an answer by `deadline` (monotonic), calling `on_token` per delta.

        Raises `TierUnavailable` on failure. Retries (jittered exponential back-off, at least the
        server's Retry-After) happen only for retryable errors (throttling, 5xx, timeouts, never
        other 4xx), only before the first token (once text has reached the shopper a retry would
        repeat it), and only when the turn's budget still has room for another attempt.
        """
        if not self.enabled:
            raise TierUnavailable(f"{self.name}: no credentials configured")
        settings = self.settings
        if deadline <= time.monotonic():
            raise TierUnavailable(f"{self.name}: no time left in the turn")
        if not self.call_cap.take().allowed:
            # Over the cap the tier counts as unavailable: the fallback edge answers instead,
            # and the turn's `metadata.degraded` names the skipped tier.
            if _cap_refusal_reporter is not None:
                _cap_refusal_reporter("model")
            raise TierUnavailable(f"{self.name}: model call cap reached")
        emitted = False
        backoff = wait_exponential_jitter(multiplier=0.1, max=1.0, jitter=0.1)

        def left() -> float:
            return deadline - time.monotonic()

        def retryable(exc: BaseException) -> bool:
            if not isinstance(exc, RETRYABLE) or emitted:
                return False
            return left() - _retry_after_s(exc) > settings.retry_min_budget_s

        def wait(state: RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            hint = _retry_after_s(exc) if exc else 0.0
            return min(max(backoff(state), hint), max(left() - settings.retry_min_budget_s, 0.0))

        async def attempt() -> str:
            nonlocal emitted
            parts: list[str] = []
            async with asyncio.timeout(max(left(), 0.0)):
                deltas = self._deltas(messages)
                async with contextlib.aclosing(deltas):
                    # A first token later than the TTFT target is treated as a stall; the wait
                    # covers sending the request too.
                    first_token_s = min(
                        settings.llm_first_token_timeout_s, settings.ttft_target_s, left()
                    )
                    delta = await asyncio.wait_for(anext(deltas, None), first_token_s)
                    while delta is not None:
                        emitted = True
                        parts.append(delta)
                        await on_token(delta)
                        delta = await anext(deltas, None)
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
                    stop=stop_after_attempt(settings.llm_max_retries + 1),
                    wait=wait,
                    reraise=True,
                ):
                    with retry:
                        return await attempt()
        except pybreaker.CircuitBreakerError as exc:
            raise TierUnavailable(f"{self.name}: circuit open") from exc
        except (openai.OpenAIError, asyncio.TimeoutError, httpx.HTTPError) as exc:
            raise TierUnavailable(f"{self.name}: {type(exc).__name__}") from exc
        raise TierUnavailable(f"{self.name}: no attempt made")


def _tier(settings: Settings, name: TierName, call_cap: TokenBucket) -> ModelTier:
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
    return ModelTier(name, model, api_base, api_key, enabled, get_breakers()[name], settings, call_cap)


@lru_cache(maxsize=1)
def get_model_tiers() -> dict[TierName, ModelTier]:
    """The process's model tiers, built once; their breakers live in `get_breakers()`."""
    settings = get_settings()
    cap = TokenBucket(max(1.0, settings.model_calls_per_s), settings.model_calls_per_s)
    return {"primary": _tier(settings, "primary", cap), "secondary": _tier(settings, "secondary", cap)}
