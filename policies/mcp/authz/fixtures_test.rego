package mcp.authz_test

import rego.v1

# Shared fixtures: a small configuration and a principal that each test varies.

cfg := {
	"resource": "https://mcp.example.com/mcp",
	"issuers": {
		"https://as.example.com": {"tenant": "acme"},
		"https://other.example.com": {},
	},
	"defaults": {"read_scope": "notes:read", "write_scope": "notes:write"},
	"methods": {"tasks/get": {"scopes": ["tasks:read"]}, "resources/subscribe": {"allow": false}},
	"tools": {
		"notes_read": {"scopes": ["notes:read"]},
		"notes_write": {
			"scopes": ["notes:write"],
			"arguments": {
				"title": {"required": true, "max_length": 10},
				"folder": {"enum": ["personal", "work"]},
				"path": {"pattern": "^/notes/"},
				"limit": {"min": 1, "max": 100},
				"tags": {"max_length": 2},
				"sudo": {"forbidden": true},
			},
		},
		"notes_delete": {"scopes": ["notes:write"], "roles": ["admin"]},
		"partner_sync": {"clients": ["partner-app"], "tenants": ["acme"]},
		"disabled": {"allow": false},
	},
	"resources": [
		{"prefix": "notes://", "scopes": ["notes:read"]},
		{"prefix": "notes://private/", "scopes": ["notes:private"]},
	],
	"prompts": {"summarize": {"scopes": ["notes:read"], "arguments": {"style": {"enum": ["short", "long"]}}}},
}

alice := {
	"subject": "alice",
	"clientId": "notes-app",
	"issuer": "https://as.example.com",
	"tenant": "acme",
	"audience": ["https://mcp.example.com/mcp"],
	"scopes": ["notes:read"],
	"authMethod": "jwt",
	"tokenId": "t1",
	"claims": {"roles": ["editor"]},
}

call(name, args) := {"method": "tools/call", "kind": "tool", "name": name, "arguments": args}

decide(p, a) := d if {
	d := data.mcp.authz.decision with input as {"principal": p, "action": a} with data.mcp_authz as cfg
}

# The same decision under cfg with some defaults changed (e.g. an unlisted_* opt-in).
decide_with(defaults, p, a) := d if {
	d := data.mcp.authz.decision with input as {"principal": p, "action": a}
		with data.mcp_authz as object.union(cfg, {"defaults": defaults})
}

read(uri) := {"method": "resources/read", "kind": "resource", "uri": uri}

prompt(name, args) := {"method": "prompts/get", "kind": "prompt", "name": name, "arguments": args}

messages(d) := {r.message | some r in d.reasons}

codes(d) := {r.code | some r in d.reasons}
