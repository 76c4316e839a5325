package mcp.authz

import rego.v1

# The deployment's configuration (data.json, validated against schemas/data.schema.json before a
# bundle is accepted), with the library's defaults filled in.
_cfg := data.mcp_authz

_builtin_defaults := {
	"read_scope": "mcp:read",
	"write_scope": "mcp:write",
	"unlisted_tools": "by_annotation",
	"unlisted_resources": "allow",
	"unlisted_prompts": "allow",
	"roles_claim": "roles",
}

_defaults := object.union(_builtin_defaults, object.get(_cfg, "defaults", {}))

# Methods every MCP session needs; allowed without scopes unless data.mcp_authz.methods says otherwise.
_open_kinds := {"session", "notification", "list", "response"}

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
