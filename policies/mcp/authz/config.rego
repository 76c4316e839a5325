package mcp.authz

import rego.v1

# The deployment's configuration (data.json, validated against schemas/data.schema.json before a
# bundle is accepted). Defaults are read where they are needed, so an allowed call pays for none.
_cfg := data.mcp_authz

_read_scope := _default("read_scope")

_write_scope := _default("write_scope")

_roles_claim := _default("roles_claim")

# The unlisted_* default per item kind, as one object: a rule without arguments is evaluated once per
# evaluation, and list filtering reads it for every item.
_unlisted := {kind: _default(concat("", ["unlisted_", kind, "s"])) | some kind in ["tool", "resource", "prompt"]}

_default(key) := object.get(_cfg, ["defaults", key], _builtin_defaults[key])

# The value of each data.mcp_authz.defaults key when the data leaves it out. Must equal the
# "default" of that key in schemas/data.schema.json and the README's table (test/policy/defaults.test.ts
# checks all three). Default deny: a tool, resource or prompt no rule names is refused.
_builtin_defaults := {
	"read_scope": "mcp:read",
	"write_scope": "mcp:write",
	"roles_claim": "roles",
	"unlisted_tools": "deny",
	"unlisted_resources": "deny",
	"unlisted_prompts": "deny",
}

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
_item_rule(a) := _rule_of(a.kind, a)

# The same for item a of a known kind: a is an action or a list item (both carry name / uri), so
# list filtering asks it per item without building an action for each.
_rule_of("tool", a) := _cfg.tools[a.name]

_rule_of("prompt", a) := _cfg.prompts[a.name]

_rule_of("resource", a) := _resource_rule(a.uri)

_resource_rule(uri) := rule if {
	matches := [r | some r in object.get(_cfg, "resources", []); _prefix_covers(r.prefix, uri)]
	longest := max([count(r.prefix) | some r in matches])
	rule := [r | some r in matches; count(r.prefix) == longest][0]
}

# Prefixes match canonical URIs (the classifier canonicalises, the data validation refuses
# non-canonical prefixes) at segment boundaries: "notes://a" covers "notes://a", "notes://a/x",
# "notes://a?q" and "notes://a#f" but not "notes://ab"; a prefix ending in "/", "?" or "#" covers
# everything that starts with it.
_prefix_covers(prefix, uri) if prefix == uri

_prefix_covers(prefix, uri) if {
	startswith(uri, prefix)
	_ends_at_boundary(prefix)
}

_prefix_covers(prefix, uri) if {
	startswith(uri, prefix)
	_boundary(substring(uri, count(prefix), 1))
}

_ends_at_boundary(prefix) if endswith(prefix, "/")

_ends_at_boundary(prefix) if endswith(prefix, "?")

_ends_at_boundary(prefix) if endswith(prefix, "#")

_boundary("/")

_boundary("?")

_boundary("#")

# The configured rule for the JSON-RPC method itself (any kind).
_method_rule(a) := _cfg.methods[a.method]
