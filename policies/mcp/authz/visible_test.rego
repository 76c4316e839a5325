package mcp.authz_test

import rego.v1

list_input(p, kind, items) := {"principal": p, "kind": kind, "items": items}

visible(p, kind, items) := v if {
	v := data.mcp.authz.visible with input as list_input(p, kind, items) with data.mcp_authz as cfg
}

tools := [
	{"name": "notes_read"},
	{"name": "notes_write"},
	{"name": "notes_delete"},
	{"name": "lookup", "annotations": {"readOnlyHint": true}},
	{"name": "disabled"},
]

test_reader_sees_read_tools if {
	visible(alice, "tool", tools) == ["notes_read", "lookup"]
}

test_admin_writer_sees_more if {
	p := object.union(alice, {"scopes": ["notes:read", "notes:write"], "claims": {"roles": ["admin"]}})
	visible(p, "tool", tools) == ["notes_read", "notes_write", "notes_delete", "lookup"]
}

test_untrusted_issuer_sees_nothing if {
	visible(object.union(alice, {"issuer": "https://evil.example.com"}), "tool", tools) == []
}

test_resources_by_prefix if {
	items := [{"uri": "notes://a"}, {"uri": "notes://private/b"}]
	visible(alice, "resource", items) == ["notes://a"]
}

test_prompts_visible if {
	visible(alice, "prompt", [{"name": "summarize"}]) == ["summarize"]
}

test_bad_list_input_sees_nothing if {
	visible(alice, "widget", tools) == []
}
