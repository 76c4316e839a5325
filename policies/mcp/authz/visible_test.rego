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
	visible(alice, "tool", tools) == ["notes_read"]
}

test_admin_writer_sees_more if {
	p := object.union(alice, {"scopes": ["notes:read", "notes:write"], "claims": {"roles": ["admin"]}})
	visible(p, "tool", tools) == ["notes_read", "notes_write", "notes_delete"]
}

test_unlisted_tools_visible_by_annotation_on_opt_in if {
	c := object.union(cfg, {"defaults": {"unlisted_tools": "by_annotation"}})
	v := data.mcp.authz.visible with input as list_input(alice, "tool", tools) with data.mcp_authz as c
	v == ["notes_read", "lookup"]
}

test_unlisted_resources_and_prompts_hidden_by_default if {
	visible(alice, "resource", [{"uri": "file:///x"}, {"uri": "notes://a"}]) == ["notes://a"]
	visible(alice, "prompt", [{"name": "other"}, {"name": "summarize"}]) == ["summarize"]
}

test_resource_templates_visible_by_their_literal_prefix if {
	visible(alice, "resource", [{"uri": "notes://{id}"}, {"uri": "notes://private/{id}"}]) == ["notes://{id}"]
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

test_malformed_list_input_sees_nothing if {
	every p in [object.remove(alice, ["subject"]), object.remove(alice, ["issuer"]), object.remove(alice, ["scopes"])] {
		visible(p, "tool", tools) == []
	}
	v := data.mcp.authz.visible with input as {"principal": alice, "kind": "tool", "items": {"a": {"name": "notes_read"}}} with data.mcp_authz as cfg
	v == []
	w := data.mcp.authz.visible with input as {"principal": alice, "items": tools} with data.mcp_authz as cfg
	w == []
}

# Method rules of the call a list item stands for (tools/call, resources/read, prompts/get) apply.
test_method_rules_apply_to_lists if {
	off := object.union(cfg, {"methods": {"tools/call": {"allow": false}}})
	v1 := data.mcp.authz.visible with input as list_input(alice, "tool", tools) with data.mcp_authz as off
	v1 == []
	scoped := object.union(cfg, {"methods": {"prompts/get": {"scopes": ["prompts:use"]}}})
	v2 := data.mcp.authz.visible with input as list_input(alice, "prompt", [{"name": "summarize"}]) with data.mcp_authz as scoped
	v2 == []
	clients := object.union(cfg, {"methods": {"resources/read": {"clients": ["other-app"]}}})
	v3 := data.mcp.authz.visible with input as list_input(alice, "resource", [{"uri": "notes://a"}]) with data.mcp_authz as clients
	v3 == []
}

test_resources_are_keyed_by_uri_even_with_a_name if {
	visible(alice, "resource", [{"uri": "notes://a", "name": "a"}, {"uri": "notes://b", "name": "b"}]) == ["notes://a", "notes://b"]
}
