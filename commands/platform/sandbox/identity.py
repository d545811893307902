"""A fake Microsoft Entra token endpoint (client credentials) on the sandbox's HTTPS server.

Enough for ``azure.identity`` (``ClientSecretCredential``, ``DefaultAzureCredential`` through
``AZURE_AUTHORITY_HOST``): the v2.0 token endpoint and the OpenID configuration MSAL reads.
Tokens expire by wall-clock time, not the sandbox clock: SDK clients cache tokens by real time,
so a test that fast-forwards the sandbox clock must not see its tokens die.
"""

from __future__ import annotations

import json
import secrets
import time

from aiohttp import web

from commands.platform.sandbox.router import split_path

TOKEN_LIFETIME_S = 3600


def is_identity_path(path: str) -> bool:
    parts = [p.lower() for p in split_path(path)]
    return (len(parts) == 4 and parts[1:] == ["oauth2", "v2.0", "token"]) or (
        len(parts) == 4 and parts[1:] == ["v2.0", ".well-known", "openid-configuration"]
    )


def _oauth_error(status: int, error: str, code: int, description: str) -> web.Response:
    body = {
        "error": error,
        "error_description": f"AADSTS{code}: {description}",
        "error_codes": [code],
    }
    return web.Response(status=status, text=json.dumps(body), content_type="application/json")


class TokenEndpoint:
    def __init__(self, tenant_id: str, client_id: str, client_secret: str) -> None:
        self._tenant = tenant_id
        self._client_id = client_id
        self._secret = client_secret
        self._tokens: dict[str, float] = {}
        self.issued = 0

    def valid(self, token: str) -> bool:
        expires = self._tokens.get(token)
        return expires is not None and time.monotonic() < expires

    async def handle(self, request: web.BaseRequest) -> web.Response:
        parts = split_path(request.path)
        tenant = parts[0]
        authority = f"{request.scheme}://{request.host}/{tenant}"
        if tenant.lower() not in (self._tenant.lower(), "organizations"):
            return _oauth_error(400, "invalid_request", 90002, f"Tenant '{tenant}' not found.")
        if parts[-1].lower() == "openid-configuration":
            if request.method != "GET":
                return _oauth_error(405, "invalid_request", 900561, "Use GET.")
            return web.json_response(
                {
                    "issuer": f"{authority}/v2.0",
                    "authorization_endpoint": f"{authority}/oauth2/v2.0/authorize",
                    "token_endpoint": f"{authority}/oauth2/v2.0/token",
                    "device_authorization_endpoint": f"{authority}/oauth2/v2.0/devicecode",
                    "jwks_uri": f"{authority}/discovery/v2.0/keys",
                    "response_types_supported": ["code", "id_token", "token"],
                    "grant_types_supported": ["client_credentials"],
                    "tenant_region_scope": "EU",
                }
            )
        if request.method != "POST":
            return _oauth_error(
                405, "invalid_request", 900561, "The token endpoint only accepts POST."
            )
        posted = await request.post()
        form = {k: v for k, v in posted.items() if isinstance(v, str)}
        if form.get("grant_type") != "client_credentials":
            return _oauth_error(
                400, "unsupported_grant_type", 70003, "Only client_credentials is supported here."
            )
        if form.get("client_id") != self._client_id:
            return _oauth_error(
                400,
                "unauthorized_client",
                700016,
                f"Application '{form.get('client_id')}' was not found.",
            )
        if not secrets.compare_digest(form.get("client_secret", ""), self._secret):
            return _oauth_error(401, "invalid_client", 7000215, "Invalid client secret provided.")
        scope = form.get("scope", "")
        if not scope.endswith("/.default"):
            return _oauth_error(
                400,
                "invalid_scope",
                1002012,
                "The scope must end with /.default for client credentials.",
            )
        token = "sandbox." + secrets.token_urlsafe(32)
        if len(self._tokens) > 10_000:
            now = time.monotonic()
            self._tokens = {t: e for t, e in self._tokens.items() if e > now}
        self._tokens[token] = time.monotonic() + TOKEN_LIFETIME_S
        self.issued += 1
        return web.json_response(
            {
                "token_type": "Bearer",
                "expires_in": TOKEN_LIFETIME_S,
                "ext_expires_in": TOKEN_LIFETIME_S,
                "access_token": token,
            }
        )
