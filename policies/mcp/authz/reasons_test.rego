package mcp.authz_test

import rego.v1

# What each reason says (the decision log's explanation), and that a malformed input gets the
# default_deny reason alone, whatever else is wrong with it.

reasons_of(p, a) := decide(p, a).reasons

test_reason_messages_for_allowlists if {
	w := object.union(alice, {"scopes": ["notes:read", "notes:write"]})
	reasons_of(w, call("partner_sync", {})) == [{"code": "client_not_allowed", "message": "client is not in the rule's client allowlist"}]
	reasons_of(w, call("notes_delete", {})) == [{"code": "role_not_allowed", "message": "principal holds none of the rule's roles"}]
	p := object.union(w, {"issuer": "https://other.example.com", "tenant": "globex", "clientId": "partner-app"})
	reasons_of(p, call("partner_sync", {})) == [{"code": "tenant_not_allowed", "message": "tenant is not in the rule's tenant allowlist"}]
}

test_reason_messages_for_coverage if {
	reasons_of(alice, {"method": "admin/x", "kind": "other"}) == [{"code": "method_not_allowed", "message": "method \"admin/x\" is not enabled by any rule"}]
	reasons_of(alice, call("nope", {})) == [{"code": "tool_not_allowed", "message": "tool is not allowed by any rule"}]
	reasons_of(alice, read("file:///x")) == [{"code": "resource_not_allowed", "message": "resource is not allowed by any rule"}]
	reasons_of(alice, prompt("nope", {})) == [{"code": "prompt_not_allowed", "message": "prompt is not allowed by any rule"}]
}

test_reason_messages_for_identity if {
	reasons_of(object.union(alice, {"audience": []}), call("notes_read", {})) == [{"code": "audience_mismatch", "message": "token audience does not include this server"}]
}

test_reason_message_lists_missing_scopes_only if {
	c := object.union(cfg, {"tools": {"multi": {"scopes": ["b:x", "a:y", "notes:read"]}}})
	d := data.mcp.authz.decision with input as {"principal": alice, "action": call("multi", {})} with data.mcp_authz as c
	d.reasons == [{"code": "insufficient_scope", "message": "missing scopes: a:y b:x"}]
	d.required_scopes == ["a:y", "b:x", "notes:read"]
}

test_default_deny_message if {
	d := data.mcp.authz.decision with input as {} with data.mcp_authz as cfg
	d.reasons == [{"code": "default_deny", "message": "input has no well-formed principal and action"}]
	d.required_scopes == []
}

test_required_scopes_only_for_scope_denials if {
	w := object.union(alice, {"scopes": ["notes:read", "notes:write"]})
	d := decide(w, call("notes_delete", {}))
	codes(d) == {"role_not_allowed"}
	d.required_scopes == []
}

# Every concern would deny these calls, but the principal is malformed: one reason, default_deny.
test_malformed_principal_gets_only_default_deny if {
	bad := object.remove(object.union(alice, {"issuer": "https://as.example.com", "tenant": "globex", "audience": [], "clientId": "x"}), ["scopes"])
	every a in [
		call("partner_sync", {}),
		call("notes_delete", {}),
		call("notes_write", {"folder": "x"}),
		call("nope", {}),
		{"method": "admin/x", "kind": "other"},
		read("notes://private/x"),
	] {
		codes(decide(bad, a)) == {"default_deny"}
	}
	untrusted := object.remove(object.union(alice, {"issuer": "https://evil.example.com"}), ["scopes"])
	codes(decide(untrusted, call("notes_read", {}))) == {"default_deny"}
	other_tenant := object.remove(object.union(alice, {"issuer": "https://other.example.com", "tenant": "globex", "clientId": "partner-app"}), ["scopes"])
	codes(decide(other_tenant, call("partner_sync", {}))) == {"default_deny"}
}

test_malformed_input_ignores_custom_reasons if {
	d := data.mcp.authz.decision with input as {"principal": object.remove(alice, ["scopes"]), "action": call("notes_read", {})}
		with data.mcp_authz as cfg
		with data.mcp.authz.custom.deny as {{"code": "after_hours", "message": "closed"}}
	codes(d) == {"default_deny"}
}

test_every_required_input_field_is_checked if {
	every p in [
		object.remove(alice, ["subject"]),
		object.union(alice, {"subject": 7}),
		object.remove(alice, ["issuer"]),
		object.union(alice, {"issuer": ["https://as.example.com"]}),
		object.remove(alice, ["scopes"]),
		object.union(alice, {"scopes": "notes:read"}),
	] {
		codes(decide(p, call("notes_read", {}))) == {"default_deny"}
	}
	every a in [
		{"kind": "tool", "name": "notes_read"},
		{"method": 1, "kind": "tool", "name": "notes_read"},
		{"method": "tools/call", "name": "notes_read"},
		{"method": "tools/call", "kind": {"t": 1}, "name": "notes_read"},
	] {
		codes(decide(alice, a)) == {"default_deny"}
	}
}

test_allow_rule_agrees_with_decision if {
	data.mcp.authz.allow with input as {"principal": alice, "action": call("notes_read", {})} with data.mcp_authz as cfg
	not data.mcp.authz.allow with input as {"principal": alice, "action": call("notes_write", {})} with data.mcp_authz as cfg
	not data.mcp.authz.allow with input as {"action": call("notes_read", {})} with data.mcp_authz as cfg
}

# The same reasons when the allowlist is on the method's rule instead of the item's.
test_reason_messages_for_method_rule_allowlists if {
	c := object.union(cfg, {"methods": {"tools/call": {"clients": ["other-app"], "roles": ["operator"], "tenants": ["globex"]}}})
	d := data.mcp.authz.decision with input as {"principal": alice, "action": call("notes_read", {})} with data.mcp_authz as c
	d.reasons == [
		{"code": "client_not_allowed", "message": "client is not in the rule's client allowlist"},
		{"code": "role_not_allowed", "message": "principal holds none of the rule's roles"},
		{"code": "tenant_not_allowed", "message": "tenant is not in the rule's tenant allowlist"},
	]
	bad := object.remove(alice, ["scopes"])
	m := data.mcp.authz.decision with input as {"principal": bad, "action": call("notes_read", {})} with data.mcp_authz as c
	codes(m) == {"default_deny"}
}
