"""The MCP server: the store tools, a full assistant turn, policy resources and reusable prompts.

Tool names, descriptions and input schemas come from `tools/definitions.py`, the definitions the
graph nodes call. The caller's identity is never an argument: over streamable HTTP it is the
request's bearer token (the chat API's), over stdio the token the process was started with.
"""

from __future__ import annotations

import time
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
import mcp.types as types
from mcp.server import Server
from mcp.server.context import ServerRequestContext
from mcp.server.stdio import stdio_server
from mcp.server.streamable_http_manager import StreamableHTTPASGIApp, StreamableHTTPSessionManager
from mcp.shared.exceptions import MCPError
from pydantic import BaseModel, Field, ValidationError
from starlette.requests import HTTPConnection, Request
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

import prompts
from graph.resources import services as load_services
from graph.runner import InputRejected, SessionForbidden, TurnRunner
from mangaassist.contracts import INTENTS, TurnResult
from mangaassist.settings import Settings
from server.auth import bearer_user, verify_token
from tools.definitions import TOOLS, ToolContext, ToolError, tool_description
from tools.policies import TOPICS

_RESOURCE_NOT_FOUND = -32002  # the MCP spec's code for an unknown resource URI


class RateLimited(ToolError):
    """The caller started too many assistant turns in the last minute."""

    code = "rate_limited"


class AskAssistantInput(BaseModel):
    """Arguments of `ask_assistant`."""

    message: str = Field(min_length=1, max_length=4000, description="The shopper's message (EN or JA).")
    session_id: str | None = Field(
        default=None, min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:-]+$",
        description="Continue this conversation; omit to start a new one (its id is in the result).",
    )


async def ask_assistant(args: AskAssistantInput, runner: TurnRunner, user_id: str | None) -> TurnResult:
    """Ask MangaAssist a question and get its full, guarded answer.

    Runs one complete assistant turn (intent, tools, answer, output guardrails) and returns the
    turn result: the answer text, product cards with prices, quick replies and metadata.

    Raises:
        ToolError: The message is empty or too long, or the session belongs to someone else.
    """
    try:
        return await runner.run(args.message, session_id=args.session_id, user_id=user_id)
    except InputRejected as exc:
        raise ToolError(str(exc)) from exc
    except SessionForbidden as exc:
        raise ToolError(f"unknown session {args.session_id}") from exc


class TurnLimiter:
    """Sliding one-minute window of assistant turns per caller."""

    def __init__(self, per_minute: int) -> None:
        self._per_minute = per_minute
        self._starts: defaultdict[str, deque[float]] = defaultdict(deque)

    def admit(self, caller: str) -> None:
        """Count a turn for `caller`, or refuse it.

        Raises:
            RateLimited: The caller already started `per_minute` turns in the last 60 s.
        """
        now = time.monotonic()
        starts = self._starts[caller]
        while starts and starts[0] <= now - 60:
            starts.popleft()
        if len(starts) >= self._per_minute:
            raise RateLimited(
                f"rate limited: at most {self._per_minute} assistant turns a minute; retry in "
                f"{int(starts[0] + 60 - now) + 1} s"
            )
        starts.append(now)


@dataclass(frozen=True)
class McpState:
    """What every MCP request sees: the turn runner, and the stdio caller (None over HTTP)."""

    runner: TurnRunner
    limiter: TurnLimiter
    stdio_user_id: str | None = None


Context = ServerRequestContext[McpState]


def _caller(ctx: Context) -> tuple[str | None, str]:
    """The signed-in customer (None for a guest) and the key their turns are counted under."""
    request = ctx.request
    if isinstance(request, Request):
        user_id: str | None = request.state.user_id
        return user_id, user_id or f"guest@{request.client.host if request.client else 'unknown'}"
    return ctx.lifespan_context.stdio_user_id, ctx.lifespan_context.stdio_user_id or "guest"


def _tool(name: str, description: str, input_model: type[BaseModel], output_model: type[BaseModel]) -> types.Tool:
    return types.Tool(
        name=name,
        description=description,
        input_schema=input_model.model_json_schema(),
        output_schema=output_model.model_json_schema(mode="serialization"),
    )


_TOOLS_BY_NAME = {d.name: d for d in TOOLS}
_TOOL_LIST = [
    *(_tool(d.name, d.description, d.input_model, d.output_model) for d in TOOLS),
    _tool("ask_assistant", tool_description(ask_assistant), AskAssistantInput, TurnResult),
]


def _error(message: str) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(type="text", text=message)], is_error=True)


def _invalid_arguments(exc: ValidationError) -> str:
    problems = [f"{'.'.join(str(p) for p in e['loc']) or 'arguments'}: {e['msg']}" for e in exc.errors()]
    return "invalid arguments: " + "; ".join(problems)


async def _list_tools(ctx: Context, params: types.PaginatedRequestParams | None) -> types.ListToolsResult:
    return types.ListToolsResult(tools=_TOOL_LIST)


async def _call_tool(ctx: Context, params: types.CallToolRequestParams) -> types.CallToolResult:
    arguments = params.arguments or {}
    user_id, caller = _caller(ctx)
    try:
        if params.name == "ask_assistant":
            ask = AskAssistantInput.model_validate(arguments)
            ctx.lifespan_context.limiter.admit(caller)
            output: BaseModel = await ask_assistant(ask, ctx.lifespan_context.runner, user_id)
        elif (definition := _TOOLS_BY_NAME.get(params.name)) is not None:
            output = await definition.call(arguments, ToolContext(await load_services(), user_id))
        else:
            return _error(f"unknown tool {params.name!r}")
    except ValidationError as exc:
        return _error(_invalid_arguments(exc))
    except ToolError as exc:
        return _error(str(exc))
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=output.model_dump_json())],
        structured_content=output.model_dump(mode="json"),
    )


def _policy_files(settings: Settings) -> dict[str, tuple[str, str]]:
    """`policy://<topic>/<lang>` -> (title, path) for every shipped policy document."""
    files = {}
    for topic in TOPICS:
        for language in ("en", "ja"):
            path = settings.store_data_dir / "policies" / f"{topic}.{language}.md"
            if path.exists():
                title = path.read_text(encoding="utf-8").partition("\n")[0].lstrip("# ").strip()
                files[f"policy://{topic}/{language}"] = (title, str(path))
    return files


def _prompt_list() -> list[types.Prompt]:
    language = types.PromptArgument(name="language", description="'en' or 'ja'", required=True)
    return [
        types.Prompt(
            name="system",
            description="MangaAssist's system prompt: store rules, data-not-instructions, answer language.",
            arguments=[language],
        ),
        types.Prompt(
            name="instructions",
            description="The per-intent answering instructions MangaAssist gives its model.",
            arguments=[language, types.PromptArgument(
                name="intent", description=f"one of: {', '.join(INTENTS)}", required=True,
            )],
        ),
    ]


async def _get_prompt(ctx: Context, params: types.GetPromptRequestParams) -> types.GetPromptResult:
    args = params.arguments or {}
    language = args.get("language")
    if language not in ("en", "ja"):
        raise MCPError(types.INVALID_PARAMS, "language must be 'en' or 'ja'")
    if params.name == "system":
        text = prompts.render(f"system.{language}.j2", context_hints={})
    elif params.name == "instructions":
        if args.get("intent") not in INTENTS:
            raise MCPError(types.INVALID_PARAMS, f"intent must be one of: {', '.join(INTENTS)}")
        text = prompts.render(f"instructions.{language}.j2", intent=args["intent"])
    else:
        raise MCPError(types.INVALID_PARAMS, f"unknown prompt {params.name!r}")
    return types.GetPromptResult(
        description=f"MangaAssist {params.name} ({language})",
        messages=[types.PromptMessage(role="user", content=types.TextContent(type="text", text=text))],
    )


def build_server(
    settings: Settings, lifespan: Callable[[Server[McpState]], AbstractAsyncContextManager[McpState]]
) -> Server[McpState]:
    """The MCP server over these settings; `lifespan` supplies the runner and stdio identity."""
    policies = _policy_files(settings)

    async def list_resources(ctx: Context, params: types.PaginatedRequestParams | None) -> types.ListResourcesResult:
        return types.ListResourcesResult(resources=[
            types.Resource(uri=uri, name=uri.removeprefix("policy://").replace("/", "."), title=title,
                           mime_type="text/markdown")
            for uri, (title, _) in policies.items()
        ])

    async def read_resource(ctx: Context, params: types.ReadResourceRequestParams) -> types.ReadResourceResult:
        uri = str(params.uri)
        if uri not in policies:
            raise MCPError(_RESOURCE_NOT_FOUND, f"unknown resource {uri}; see resources/list")
        with open(policies[uri][1], encoding="utf-8") as fh:
            text = fh.read()
        return types.ReadResourceResult(
            contents=[types.TextResourceContents(uri=uri, mime_type="text/markdown", text=text)]
        )

    async def list_prompts(ctx: Context, params: types.PaginatedRequestParams | None) -> types.ListPromptsResult:
        return types.ListPromptsResult(prompts=_prompt_list())

    return Server(
        "mangaassist",
        instructions="MangaAssist, a manga store's assistant: search the catalog, price products, "
        "recommend series, follow the signed-in customer's orders and returns, read store policies.",
        lifespan=lifespan,
        on_list_tools=_list_tools,
        on_call_tool=_call_tool,
        on_list_resources=list_resources,
        on_read_resource=read_resource,
        on_list_prompts=list_prompts,
        on_get_prompt=_get_prompt,
    )


async def serve_stdio(settings: Settings, token: str | None) -> None:
    """Serve one MCP client over stdin/stdout as the customer `token` names (a guest without one).

    Raises:
        InvalidToken: The token is not valid.
    """
    user_id = verify_token(settings, token) if token else None

    @asynccontextmanager
    async def lifespan(_: Server[McpState]) -> AsyncIterator[McpState]:
        async with TurnRunner(settings) as runner:
            yield McpState(runner, TurnLimiter(settings.mcp_turns_per_minute), user_id)

    server = build_server(settings, lifespan)
    async with stdio_server() as (read_stream, write_stream):
        await server.run(read_stream, write_stream, server.create_initialization_options())


class _BearerIdentity:
    """Puts the bearer token's customer (or None) on the request state; a bad token is a 401."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self._app = app
        self._settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # InvalidToken propagates to the app's HTTP error handler, which renders the 401.
        scope.setdefault("state", {})["user_id"] = bearer_user(HTTPConnection(scope), self._settings)
        await self._app(scope, receive, send)


class McpEndpoint:
    """Streamable HTTP MCP at `/mcp` inside the service, sharing the service's turn runner."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._runner: TurnRunner | None = None
        self._server = build_server(settings, self._lifespan)
        # Stateless JSON: identity is per request anyway, and no tool calls back to the client.
        # No Host/Origin allow-list: like the chat API, a browser that is tricked into calling
        # this endpoint carries no bearer token, so it gets only what any guest gets.
        self._manager = StreamableHTTPSessionManager(
            app=self._server, stateless=True, json_response=True
        )
        self.route = Route("/mcp", _BearerIdentity(StreamableHTTPASGIApp(self._manager), settings))

    @asynccontextmanager
    async def _lifespan(self, _: Server[McpState]) -> AsyncIterator[McpState]:
        assert self._runner is not None, "serving() sets the runner before the session manager starts"
        yield McpState(self._runner, TurnLimiter(self._settings.mcp_turns_per_minute))

    @asynccontextmanager
    async def serving(self, runner: TurnRunner) -> AsyncIterator[None]:
        """Run the MCP session manager for the app's lifetime, with the app's runner."""
        self._runner = runner
        async with self._manager.run():
            yield

