"""A notes MCP server written with the official MCP Python SDK, used as a real upstream behind
`mcp-authz proxy` in the end-to-end tests (test/proxy/python.test.ts) and in docs/proxy.md.

    python notes_server.py stdio
    python notes_server.py http --port 9000 [--json] [--jwks URL --issuer ISS --audience AUD]

Over HTTP it records the headers of every request it receives (GET /seen-headers returns them), so a
test can prove that the client's token never reaches it, and with --jwks it verifies the proxy's
signed assertion (mcp-authz-assertion header) with PyJWT, as docs/proxy.md shows.
"""

from __future__ import annotations

import argparse
import json
import sys

from mcp.server.mcpserver import Context, MCPServer
from mcp_types import ToolAnnotations
from starlette.requests import Request
from starlette.responses import JSONResponse

ASSERTION_HEADER = "mcp-authz-assertion"
seen_headers: list[dict[str, str]] = []
verifier = None  # set by --jwks: verifies the proxy's assertion


def make_verifier(jwks_url: str, issuer: str, audience: str):
    import jwt  # PyJWT

    jwks = jwt.PyJWKClient(jwks_url, cache_keys=True)

    def verify(token: str) -> dict:
        key = jwks.get_signing_key_from_jwt(token)
        return jwt.decode(
            token,
            key.key,
            algorithms=["ES256"],
            audience=audience,
            issuer=issuer,
            options={"require": ["exp", "iat", "sub", "jti"]},
        )

    return verify


server = MCPServer("python-notes")
notes: dict[str, str] = {"welcome": "Hello from Python"}


@server.tool(annotations=ToolAnnotations(read_only_hint=True))
def notes_read(title: str) -> str:
    """Reads a note."""
    return notes.get(title, "")


@server.tool()
def notes_write(title: str, body: str = "") -> str:
    """Writes a note."""
    notes[title] = body
    return f"saved {title}"


@server.tool(annotations=ToolAnnotations(destructive_hint=True))
def notes_delete(title: str) -> str:
    """Deletes a note."""
    notes.pop(title, None)
    return f"deleted {title}"


@server.tool(annotations=ToolAnnotations(read_only_hint=True))
def whoami(ctx: Context) -> str:
    """Who the proxy says is calling: the verified assertion's claims (HTTP), or the transport (stdio)."""
    headers = ctx.headers
    if headers is None:
        return json.dumps({"transport": "stdio"})
    token = headers.get(ASSERTION_HEADER)
    out: dict = {"transport": "http", "authorization_header": headers.get("authorization") is not None, "assertion": token is not None}
    if token is not None and verifier is not None:
        try:
            claims = verifier(token)
            out["verified"] = True
            out["claims"] = {k: claims.get(k) for k in ("iss", "aud", "sub", "client_id", "scope", "tenant", "idp", "decision_id")}
        except Exception as err:  # noqa: BLE001 - reported to the test
            out["verified"] = False
            out["error"] = type(err).__name__
    return json.dumps(out)


@server.resource("notes://public/readme")
def readme() -> str:
    """Public readme."""
    return "public readme"


@server.resource("notes://private/diary")
def diary() -> str:
    """Private diary."""
    return "private diary"


@server.prompt()
def summarize(style: str = "short") -> str:
    """Summarize the notes."""
    return f"Summarize the notes, {style}."


@server.prompt()
def admin_prompt() -> str:
    """An administrator's prompt."""
    return "secret instructions"


@server.custom_route("/seen-headers", methods=["GET"])
async def seen(_request: Request) -> JSONResponse:
    return JSONResponse(seen_headers)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("transport", choices=["stdio", "http"])
    parser.add_argument("--port", type=int, default=9000)
    parser.add_argument("--json", action="store_true", help="answer POSTs with JSON instead of SSE")
    parser.add_argument("--jwks")
    parser.add_argument("--issuer")
    parser.add_argument("--audience")
    args = parser.parse_args()
    if args.transport == "stdio":
        server.run("stdio")
        return

    global verifier
    if args.jwks:
        verifier = make_verifier(args.jwks, args.issuer, args.audience)

    import uvicorn

    app = server.streamable_http_app(json_response=args.json, host="127.0.0.1")

    async def recording(scope, receive, send):
        if scope["type"] == "http" and scope["path"] != "/seen-headers" and len(seen_headers) < 1000:
            seen_headers.append({k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]})
        await app(scope, receive, send)

    print(f"python-notes listening on 127.0.0.1:{args.port}", file=sys.stderr, flush=True)
    uvicorn.run(recording, host="127.0.0.1", port=args.port, log_level="warning", lifespan="on")


if __name__ == "__main__":
    main()
