package mcp.authz_test

import rego.v1

# The built-in defaults: configurations that leave data.mcp_authz.defaults out entirely.

bare := object.remove(cfg, ["defaults"])

decide_bare(p, a) := d if {
	d := data.mcp.authz.decision with input as {"principal": p, "action": a} with data.mcp_authz as bare
}

test_builtin_defaults_deny_unlisted_items if {
	p := object.union(alice, {"scopes": ["mcp:read", "mcp:write"]})
	codes(decide_bare(p, call("unknown", {}))) == {"tool_not_allowed"}
	codes(decide_bare(p, object.union(call("unknown", {}), {"annotations": {"readOnlyHint": true}}))) == {"tool_not_allowed"}
	codes(decide_bare(p, read("file:///etc/passwd"))) == {"resource_not_allowed"}
	codes(decide_bare(p, prompt("unknown", {}))) == {"prompt_not_allowed"}
	codes(decide_bare(p, {"method": "completion/complete", "kind": "prompt", "name": "unknown"})) == {"prompt_not_allowed"}
}

test_builtin_defaults_deny_unknown_methods if {
	p := object.union(alice, {"scopes": ["mcp:read", "mcp:write"]})
	codes(decide_bare(p, {"method": "tasks/list", "kind": "other"})) == {"method_not_allowed"}
	codes(decide_bare(p, {"method": "sampling/createMessage", "kind": "other"})) == {"method_not_allowed"}
}

test_builtin_read_scope_is_mcp_read if {
	c := object.union(bare, {"tools": {"plain": {}}, "resources": [{"prefix": "plain://"}], "prompts": {"plain": {}}})
	p := object.union(alice, {"scopes": []})
	r := data.mcp.authz.decision with input as {"principal": p, "action": read("plain://x")} with data.mcp_authz as c
	r.required_scopes == ["mcp:read"]
	q := data.mcp.authz.decision with input as {"principal": p, "action": prompt("plain", {})} with data.mcp_authz as c
	q.required_scopes == ["mcp:read"]
	t := data.mcp.authz.decision with input as {"principal": p, "action": object.union(call("plain", {}), {"annotations": {"readOnlyHint": true}})} with data.mcp_authz as c
	t.required_scopes == ["mcp:read"]
}

test_builtin_write_scope_is_mcp_write if {
	c := object.union(bare, {"tools": {"plain": {}}})
	d := data.mcp.authz.decision with input as {"principal": object.union(alice, {"scopes": ["mcp:read"]}), "action": call("plain", {})} with data.mcp_authz as c
	d.required_scopes == ["mcp:write"]
}

test_builtin_roles_claim_is_roles if {
	c := object.union(bare, {"tools": {"admin_only": {"roles": ["admin"], "scopes": []}}})
	ok := data.mcp.authz.decision with input as {"principal": object.union(alice, {"claims": {"roles": ["admin"]}}), "action": call("admin_only", {})} with data.mcp_authz as c
	ok.allow
	no := data.mcp.authz.decision with input as {"principal": object.union(alice, {"claims": {"groups": ["admin"]}}), "action": call("admin_only", {})} with data.mcp_authz as c
	codes(no) == {"role_not_allowed"}
}

test_configured_roles_claim_replaces_builtin if {
	c := object.union(bare, {"defaults": {"roles_claim": "groups"}, "tools": {"admin_only": {"roles": ["admin"], "scopes": []}}})
	ok := data.mcp.authz.decision with input as {"principal": object.union(alice, {"claims": {"groups": ["admin"]}}), "action": call("admin_only", {})} with data.mcp_authz as c
	ok.allow
	no := data.mcp.authz.decision with input as {"principal": object.union(alice, {"claims": {"roles": ["admin"]}}), "action": call("admin_only", {})} with data.mcp_authz as c
	codes(no) == {"role_not_allowed"}
}

test_builtin_defaults_hide_unlisted_items_from_lists if {
	p := object.union(alice, {"scopes": ["mcp:read", "mcp:write"]})
	v := data.mcp.authz.visible with input as {"principal": p, "kind": "tool", "items": [{"name": "unknown", "annotations": {"readOnlyHint": true}}, {"name": "notes_read"}]}
		with data.mcp_authz as bare
	v == []
	w := data.mcp.authz.visible with input as {"principal": object.union(p, {"scopes": ["notes:read"]}), "kind": "tool", "items": [{"name": "unknown"}, {"name": "notes_read"}]}
		with data.mcp_authz as bare
	w == ["notes_read"]
}
