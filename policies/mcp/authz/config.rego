package mcp.authz

import rego.v1

# The deployment's configuration (data.json, validated against schemas/data.schema.json before a
# bundle is accepted). Defaults are read where they are needed, so an allowed call pays for none.
_cfg := data.mcp_authz

_read_scope := object.get(_cfg, ["defaults", "read_scope"], "mcp:read")

_write_scope := object.get(_cfg, ["defaults", "write_scope"], "mcp:write")

_roles_claim := object.get(_cfg, ["defaults", "roles_claim"], "roles")

_unlisted(kind) := object.get(_cfg, ["defaults", concat("", ["unlisted_", kind, "s"])], _unlisted_default[kind])

_unlisted_default := {"tool": "by_annotation", "resource": "allow", "prompt": "allow"}

# Kinds every MCP session needs, allowed unless data.mcp_authz.methods says otherwise; items are
# then governed by their own rules. (Written as equalities: set literals are rebuilt on every
# evaluation in WASM, and this runs on every call.)
_open_kind(kind) if _item_kind(kind)

_open_kind("session")

_open_kind("notification")

_open_kind("list")

_open_kind("response")

_item_kind("tool")

_item_kind("resource")

_item_kind("prompt")

# The configured rule for the item an action names (tool, prompt, or longest resource prefix).
_item_rule(a) := _cfg.tools[a.name] if a.kind == "tool"

_item_rule(a) := _cfg.prompts[a.name] if a.kind == "prompt"

_item_rule(a) := _resource_rule(a.uri) if a.kind == "resource"

_resource_rule(uri) := rule if {
	matches := [r | some r in object.get(_cfg, "resources", []); startswith(uri, r.prefix)]
	longest := max([count(r.prefix) | some r in matches])
	rule := [r | some r in matches; count(r.prefix) == longest][0]
}

# The configured rule for the JSON-RPC method itself (any kind).
_method_rule(a) := _cfg.methods[a.method]
