package mcp.authz_test

import rego.v1

test_unknown_method_denied if {
	d := decide(alice, {"method": "admin/shutdown", "kind": "other"})
	not d.allow
	codes(d) == {"method_not_allowed"}
}

test_method_rule_enables_method if {
	p := object.union(alice, {"scopes": ["tasks:read"]})
	decide(p, {"method": "tasks/get", "kind": "other"}).allow
}

test_method_rule_allow_false_disables if {
	d := decide(alice, {"method": "resources/subscribe", "kind": "resource", "uri": "notes://a"})
	codes(d) == {"method_not_allowed"}
}

test_item_allow_false_denies if {
	p := object.union(alice, {"scopes": ["notes:write"]})
	d := decide(p, call("disabled", {}))
	"tool_not_allowed" in codes(d)
}

test_unlisted_tool_denied_by_default if {
	d := decide(object.union(alice, {"scopes": ["notes:read", "notes:write"]}), call("unknown_tool", {}))
	not d.allow
	codes(d) == {"tool_not_allowed"}
	d.required_scopes == []
}

test_unlisted_read_only_tool_denied_by_default if {
	d := decide(alice, object.union(call("unknown_tool", {}), {"annotations": {"readOnlyHint": true}}))
	codes(d) == {"tool_not_allowed"}
}

test_unlisted_resource_and_prompt_denied_by_default if {
	codes(decide(alice, read("file:///etc"))) == {"resource_not_allowed"}
	codes(decide(alice, prompt("other", {}))) == {"prompt_not_allowed"}
}

test_unlisted_denied_when_configured_explicitly if {
	c := {"unlisted_tools": "deny", "unlisted_resources": "deny", "unlisted_prompts": "deny"}
	codes(decide_with(c, alice, call("unknown_tool", {}))) == {"tool_not_allowed"}
	codes(decide_with(c, alice, read("file:///etc"))) == {"resource_not_allowed"}
	codes(decide_with(c, alice, prompt("other", {}))) == {"prompt_not_allowed"}
}

test_unlisted_prompt_and_resource_allowed_on_opt_in if {
	c := {"unlisted_resources": "allow", "unlisted_prompts": "allow"}
	decide_with(c, alice, prompt("other", {})).allow
	decide_with(c, alice, read("file:///etc")).allow
	d := decide_with(c, object.union(alice, {"scopes": []}), prompt("other", {}))
	codes(d) == {"insufficient_scope"}
	d.required_scopes == ["notes:read"]
}

test_unlisted_tool_by_annotation_on_opt_in if {
	c := {"unlisted_tools": "by_annotation"}
	decide_with(c, alice, object.union(call("lookup", {}), {"annotations": {"readOnlyHint": true}})).allow
	d := decide_with(c, alice, call("lookup", {}))
	codes(d) == {"insufficient_scope"}
	d.required_scopes == ["notes:write"]
}

test_listed_items_unaffected_by_unlisted_defaults if {
	decide(alice, call("notes_read", {})).allow
	decide(alice, read("notes://a")).allow
	decide(alice, prompt("summarize", {"style": "short"})).allow
}

test_unlisted_opt_in_does_not_reopen_disabled_items if {
	c := {"unlisted_tools": "by_annotation"}
	d := decide_with(c, object.union(alice, {"scopes": ["notes:write"]}), call("disabled", {}))
	codes(d) == {"tool_not_allowed"}
}

test_protocol_baseline_open_without_rules if {
	c := {"resource": cfg.resource, "issuers": cfg.issuers}
	every a in [
		{"method": "initialize", "kind": "session"},
		{"method": "ping", "kind": "session"},
		{"method": "logging/setLevel", "kind": "session"},
		{"method": "notifications/initialized", "kind": "notification"},
		{"method": "response", "kind": "response"},
		{"method": "tools/list", "kind": "list"},
		{"method": "resources/list", "kind": "list"},
		{"method": "resources/templates/list", "kind": "list"},
		{"method": "prompts/list", "kind": "list"},
	] {
		d := data.mcp.authz.decision with input as {"principal": object.union(alice, {"scopes": []}), "action": a} with data.mcp_authz as c
		d.allow
	}
}
