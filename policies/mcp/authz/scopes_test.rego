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
	decide(alice, a).allow
}

test_unannotated_tool_defaults_to_write_scope if {
	d := decide(alice, call("unlisted", {}))
	d.required_scopes == ["notes:write"]
}

test_longest_resource_prefix_wins if {
	decide(alice, {"method": "resources/read", "kind": "resource", "uri": "notes://a"}).allow
	d := decide(alice, {"method": "resources/read", "kind": "resource", "uri": "notes://private/b"})
	d.required_scopes == ["notes:private"]
}

test_unmatched_resource_needs_read_scope if {
	d := decide(object.union(alice, {"scopes": []}), {"method": "resources/read", "kind": "resource", "uri": "file:///x"})
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
