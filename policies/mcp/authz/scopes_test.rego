package mcp.authz_test

import rego.v1

test_missing_scope_names_required_scopes if {
	d := decide(alice, call("notes_write", {"title": "x"}))
	not d.allow
	codes(d) == {"insufficient_scope"}
	d.required_scopes == ["notes:write"]
}

test_read_only_annotation_defaults_to_read_scope if {
	a := object.union(call("unlisted", {}), {"annotations": {"readOnlyHint": true}})
	decide_with({"unlisted_tools": "by_annotation"}, alice, a).allow
	d := decide_with({"unlisted_tools": "by_annotation"}, object.union(alice, {"scopes": []}), a)
	d.required_scopes == ["notes:read"]
}

test_read_only_false_annotation_needs_write_scope if {
	a := object.union(call("unlisted", {}), {"annotations": {"readOnlyHint": false}})
	d := decide_with({"unlisted_tools": "by_annotation"}, alice, a)
	d.required_scopes == ["notes:write"]
}

test_unannotated_tool_defaults_to_write_scope if {
	d := decide_with({"unlisted_tools": "by_annotation"}, alice, call("unlisted", {}))
	d.required_scopes == ["notes:write"]
	decide_with({"unlisted_tools": "by_annotation"}, object.union(alice, {"scopes": ["notes:write"]}), call("unlisted", {})).allow
}

test_listed_tool_without_scopes_gets_write_scope if {
	c := object.union(cfg, {"tools": {"plain": {}}})
	d := data.mcp.authz.decision with input as {"principal": alice, "action": call("plain", {})} with data.mcp_authz as c
	d.required_scopes == ["notes:write"]
	codes(d) == {"insufficient_scope"}
}

test_listed_read_only_tool_without_scopes_gets_read_scope if {
	c := object.union(cfg, {"tools": {"plain": {}}})
	a := object.union(call("plain", {}), {"annotations": {"readOnlyHint": true}})
	d := data.mcp.authz.decision with input as {"principal": alice, "action": a} with data.mcp_authz as c
	d.allow
}

test_resource_and_prompt_rules_without_scopes_get_read_scope if {
	c := object.union(cfg, {"resources": [{"prefix": "plain://"}], "prompts": {"plain": {}}})
	p := object.union(alice, {"scopes": []})
	r := data.mcp.authz.decision with input as {"principal": p, "action": read("plain://x")} with data.mcp_authz as c
	r.required_scopes == ["notes:read"]
	q := data.mcp.authz.decision with input as {"principal": p, "action": prompt("plain", {})} with data.mcp_authz as c
	q.required_scopes == ["notes:read"]
}

test_longest_resource_prefix_wins if {
	decide(alice, {"method": "resources/read", "kind": "resource", "uri": "notes://a"}).allow
	d := decide(alice, {"method": "resources/read", "kind": "resource", "uri": "notes://private/b"})
	d.required_scopes == ["notes:private"]
}

test_unmatched_resource_needs_read_scope_on_opt_in if {
	d := decide_with({"unlisted_resources": "allow"}, object.union(alice, {"scopes": []}), read("file:///x"))
	d.required_scopes == ["notes:read"]
}

test_method_scopes_are_required if {
	d := decide(alice, {"method": "tasks/get", "kind": "other"})
	d.required_scopes == ["tasks:read"]
}

test_scope_denial_with_other_reason_keeps_both if {
	d := decide(alice, call("notes_write", {"title": "far too long title"}))
	codes(d) == {"insufficient_scope", "argument_denied"}
}
