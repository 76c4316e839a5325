"""An MCP server written with the official Python SDK, knowing nothing of authorization.
`mcp-authz proxy --config config.yaml` runs it (one process per MCP session) behind the proxy:
see docs/proxy.md. Run alone: `python server.py` (stdio)."""

from mcp.server.mcpserver import MCPServer
from mcp_types import ToolAnnotations

server = MCPServer("notes")
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


@server.resource("notes://public/readme")
def readme() -> str:
    """Public readme."""
    return "public readme"


if __name__ == "__main__":
    server.run("stdio")
