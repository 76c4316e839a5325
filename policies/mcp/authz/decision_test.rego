package mcp.authz_test

import rego.v1

test_allowed_call_has_no_reasons if {
	d := decide(alice, call("notes_read", {}))
	d.allow
	d.reasons == []
	d.required_scopes == []
}

test_missing_input_default_deny if {
	d := data.mcp.authz.decision with input as {} with data.mcp_authz as cfg
	not d.allow
	codes(d) == {"default_deny"}
}

test_malformed_principal_default_deny if {
	d := decide(object.remove(alice, ["scopes"]), call("notes_read", {}))
	not d.allow
	codes(d) == {"default_deny"}
}

test_custom_deny_reason_denies if {
	d := data.mcp.authz.decision with input as {"principal": alice, "action": call("notes_read", {})}
		with data.mcp_authz as cfg
		with data.mcp.authz.custom.deny as {{"code": "after_hours", "message": "closed"}}
	not d.allow
	codes(d) == {"after_hours"}
}

test_custom_allow_covers_unknown_method if {
	d := data.mcp.authz.decision with input as {"principal": alice, "action": {"method": "x/y", "kind": "other"}}
		with data.mcp_authz as cfg
		with data.mcp.authz.custom.allow as true
	d.allow
}

test_session_and_list_methods_open if {
	decide(alice, {"method": "initialize", "kind": "session"}).allow
	decide(alice, {"method": "tools/list", "kind": "list"}).allow
	decide(alice, {"method": "notifications/initialized", "kind": "notification"}).allow
	decide(alice, {"method": "response", "kind": "response"}).allow
}

# The fast path and the reasons are two views of the same checks: they must always agree.
test_fast_path_agrees_with_reasons if {
	inputs := [
		{"principal": alice, "action": call("notes_read", {})},
		{"principal": alice, "action": call("notes_write", {"title": "x"})},
		{"principal": object.union(alice, {"scopes": ["notes:write"]}), "action": call("notes_write", {"title": "far too long title"})},
		{"principal": object.union(alice, {"issuer": "https://evil.example.com"}), "action": call("notes_read", {})},
		{"principal": object.union(alice, {"tenant": "globex"}), "action": call("notes_read", {})},
		{"principal": object.union(alice, {"audience": []}), "action": call("notes_read", {})},
		{"principal": object.union(alice, {"scopes": ["notes:write"]}), "action": call("notes_delete", {})},
		{"principal": alice, "action": call("partner_sync", {})},
		{"principal": alice, "action": call("disabled", {})},
		{"principal": alice, "action": {"method": "admin/x", "kind": "other"}},
		{"principal": alice, "action": {"method": "resources/subscribe", "kind": "resource", "uri": "notes://a"}},
		{"principal": alice, "action": {"method": "resources/read", "kind": "resource", "uri": "notes://private/a"}},
		{"principal": alice, "action": {"method": "prompts/get", "kind": "prompt", "name": "summarize", "arguments": {"style": "x"}}},
		{"principal": alice, "action": {"method": "tools/list", "kind": "list"}},
		{"principal": alice, "action": call("unlisted", {})},
		{"principal": alice, "action": object.union(call("unlisted", {}), {"annotations": {"readOnlyHint": true}})},
		{"principal": alice, "action": read("file:///etc/passwd")},
		{"principal": alice, "action": read("notes://private")},
		{"principal": alice, "action": read("notes:/")},
		{"principal": alice, "action": prompt("other", {})},
		{"principal": object.union(alice, {"scopes": ["notes:write"]}), "action": call("notes_write", {"title": "x", "limit": "5"})},
		{"principal": object.union(alice, {"scopes": ["notes:write"]}), "action": call("notes_write", {"title": "x", "path": ["/notes/"]})},
		{"principal": object.union(alice, {"scopes": ["notes:write"]}), "action": call("notes_write", {"title": "x", "tags": {}})},
		{"principal": object.union(alice, {"scopes": ["notes:write"]}), "action": call("notes_write", {"title": "0123456789", "limit": 100, "tags": ["a", "b"]})},
		{"principal": object.union(alice, {"authMethod": "introspection", "audience": []}), "action": call("notes_read", {})},
		{"principal": object.remove(alice, ["tenant"]), "action": call("notes_read", {})},
	]
	every i in inputs {
		d := data.mcp.authz.decision with input as i with data.mcp_authz as cfg
		reasons := data.mcp.authz.deny with input as i with data.mcp_authz as cfg
		_agree(d.allow, count(reasons))
	}

	# Both outcomes are exercised, or the agreement would be vacuous.
	allowed := [i | some i in inputs; data.mcp.authz.decision.allow with input as i with data.mcp_authz as cfg]
	count(allowed) >= 3
	count(allowed) < count(inputs)
}

_agree(true, 0)

_agree(false, n) if n > 0
