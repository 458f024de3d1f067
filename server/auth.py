"""Bearer tokens: HS256-signed JWTs whose `sub` is the customer id.

The chat API and the MCP endpoint read the same `Authorization: Bearer` header, so one token
identifies a customer everywhere.
"""

from __future__ import annotations

import time

import jwt
from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection

from mangaassist.settings import Settings

_ALGORITHM = "HS256"


class InvalidToken(HTTPException):
    """A bearer token that is malformed, wrongly signed or expired (HTTP 401 `invalid_token`)."""

    code = "invalid_token"

    def __init__(self, message: str) -> None:
        super().__init__(status_code=401, detail=message, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})


def mint_token(settings: Settings, user_id: str, ttl_s: int) -> str:
    """Sign a token for a customer.

    Args:
        settings: Where the signing key comes from.
        user_id: The customer id, stored as `sub`.
        ttl_s: Seconds until the token expires.

    Returns:
        The encoded JWT.
    """
    now = int(time.time())
    claims = {"sub": user_id, "iat": now, "exp": now + ttl_s}
    return jwt.encode(claims, settings.token_secret, algorithm=_ALGORITHM)


def verify_token(settings: Settings, token: str) -> str:
    """Check a token's signature and expiry.

    Args:
        settings: Where the signing key comes from.
        token: The encoded JWT.

    Returns:
        The customer id (`sub`).

    Raises:
        InvalidToken: The token is malformed, signed with another key, expired or has no `sub`.
    """
    try:
        claims = jwt.decode(
            token, settings.token_secret, algorithms=[_ALGORITHM], options={"require": ["sub", "exp"]}
        )
    except jwt.ExpiredSignatureError as exc:
        raise InvalidToken("the bearer token has expired") from exc
    except jwt.InvalidTokenError as exc:
        raise InvalidToken(f"the bearer token is not valid ({exc})") from exc
    if not isinstance(claims["sub"], str) or not claims["sub"]:
        raise InvalidToken("the bearer token names no customer")
    return claims["sub"]


def bearer_user(conn: HTTPConnection, settings: Settings) -> str | None:
    """The customer a request's `Authorization: Bearer` token names; None (a guest) without one.

    Raises:
        InvalidToken: A token was sent but is not valid, or the header is not a bearer token.
    """
    header = conn.headers.get("authorization")
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise InvalidToken("the Authorization header must be 'Bearer <token>'")
    return verify_token(settings, token.strip())
