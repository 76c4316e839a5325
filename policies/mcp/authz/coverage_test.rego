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

test_unlisted_tool_denied_when_configured if {
	d := data.mcp.authz.decision with input as {"principal": alice, "action": call("unknown_tool", {})}
		with data.mcp_authz as object.union(cfg, {"defaults": {"unlisted_tools": "deny"}})
	not d.allow
	"tool_not_allowed" in codes(d)
}

test_unlisted_resource_and_prompt_denied_when_configured if {
	c := object.union(cfg, {"defaults": {"unlisted_resources": "deny", "unlisted_prompts": "deny"}})
	r := data.mcp.authz.decision with input as {"principal": alice, "action": {"method": "resources/read", "kind": "resource", "uri": "file:///etc"}}
		with data.mcp_authz as c
	codes(r) == {"resource_not_allowed"}
	p := data.mcp.authz.decision with input as {"principal": alice, "action": {"method": "prompts/get", "kind": "prompt", "name": "other"}}
		with data.mcp_authz as c
	codes(p) == {"prompt_not_allowed"}
}

test_unlisted_prompt_allowed_by_default if {
	decide(alice, {"method": "prompts/get", "kind": "prompt", "name": "other"}).allow
}
