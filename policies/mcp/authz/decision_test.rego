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
