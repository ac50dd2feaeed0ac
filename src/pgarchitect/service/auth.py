"""Bearer tokens: kept hashed in the settings, compared in constant time.

``api_tokens`` holds ``name:scope:sha256-hex`` entries, comma-separated; a token
with scope ``write`` may read too. The clear token is never stored: ``pgarchitect
serve --hash-token`` prints the hash to put in the settings.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
from dataclasses import dataclass

from pgarchitect.errors import ConfigError

SCOPES = ("read", "write")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
# Query parameters that carry a credential in other APIs: refused, because a URL
# ends up in access logs, proxies' logs and browser history.
CREDENTIAL_PARAMS = frozenset({"token", "access_token", "api_token", "api_key", "apikey",
                               "key", "auth", "authorization", "bearer"})


@dataclass(frozen=True)
class Token:
    """One configured token: who it is, what it may do, and its SHA-256."""

    name: str
    scope: str
    digest: bytes

    def allows(self, scope: str) -> bool:
        """Whether the token may use a route of ``scope`` (write includes read)."""
        return self.scope == "write" or scope == self.scope


class Unauthorized(Exception):
    """No token, or one that is not configured (HTTP 401)."""


class Forbidden(Exception):
    """A known token without the route's scope (HTTP 403)."""


def hash_token(token: str) -> str:
    """The hex SHA-256 of a clear token, as ``api_tokens`` keeps it.

    >>> hash_token("s3cret")[:16]
    '1ec1c26b50d5d3c5'
    """
    return hashlib.sha256(token.strip().encode()).hexdigest()


def parse_tokens(text: str | None) -> tuple[Token, ...]:
    """The tokens of an ``api_tokens`` value; ConfigError names the bad entry's position.

    >>> [(t.name, t.scope) for t in parse_tokens("ci:read:" + "a" * 64)]
    [('ci', 'read')]
    """
    tokens: list[Token] = []
    for number, entry in enumerate((text or "").split(","), 1):
        entry = entry.strip()
        if not entry:
            continue
        parts = entry.split(":")
        if len(parts) != 3 or not parts[0] or parts[1] not in SCOPES \
                or not _HEX64.match(parts[2].lower()):
            # The entry itself is not shown: it may be a clear token pasted by mistake.
            raise ConfigError(
                f"api_tokens entry {number} is not name:scope:sha256-hex (scope read or "
                "write, 64 hex digits): hash the token with `pgarchitect serve --hash-token` "
                "and put name:read:<hash> or name:write:<hash> there.")
        if any(t.name == parts[0] for t in tokens):
            raise ConfigError(f"api_tokens has the name {parts[0]!r} twice: give each token "
                              "a name of its own.")
        tokens.append(Token(parts[0], parts[1], bytes.fromhex(parts[2])))
    return tuple(tokens)


def authenticate(tokens: tuple[Token, ...], authorization: str | None, scope: str) -> Token:
    """The token presented in an ``Authorization: Bearer`` header, if it may use ``scope``.

    Every configured hash is compared (hmac.compare_digest), so the time taken does
    not say which entry came close.
    """
    scheme, _, presented = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not presented.strip():
        raise Unauthorized("This route needs a token: send the header "
                           "`Authorization: Bearer <token>`.")
    digest = hashlib.sha256(presented.strip().encode()).digest()
    found: Token | None = None
    for token in tokens:
        if hmac.compare_digest(digest, token.digest):
            found = token
    if found is None:
        raise Unauthorized("The token is not one of api_tokens: check it, or hash a new one "
                           "with `pgarchitect serve --hash-token` and add it there.")
    if not found.allows(scope):
        raise Forbidden(f"Token {found.name!r} has scope {found.scope}; this route needs "
                        f"{scope}: use a token with scope {scope}.")
    return found


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address (only there may the API run without tokens).

    >>> [is_loopback(h) for h in ("127.0.0.1", "::1", "localhost", "0.0.0.0")]
    [True, True, True, False]
    """
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name other than localhost may resolve anywhere


def check_listen(host: str, tokens: tuple[Token, ...]) -> None:
    """Refuse to listen beyond the machine when no token protects the admin routes."""
    if not tokens and not is_loopback(host):
        raise ConfigError(
            f"Refusing to listen on {host} without api_tokens: anyone who reaches it could "
            "approve or reject findings. Set api_tokens (hash a token with `pgarchitect "
            "serve --hash-token`), or listen on 127.0.0.1.")
