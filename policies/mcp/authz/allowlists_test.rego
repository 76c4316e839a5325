package mcp.authz_test

import rego.v1

writer := object.union(alice, {"scopes": ["notes:read", "notes:write"]})

test_role_required if {
	codes(decide(writer, call("notes_delete", {}))) == {"role_not_allowed"}
	decide(object.union(writer, {"claims": {"roles": ["admin"]}}), call("notes_delete", {})).allow
}

test_roles_claim_as_string if {
	decide(object.union(writer, {"claims": {"roles": "viewer admin"}}), call("notes_delete", {})).allow
}

test_roles_claim_missing_denies if {
	codes(decide(object.union(writer, {"claims": {}}), call("notes_delete", {}))) == {"role_not_allowed"}
}

test_client_allowlist if {
	codes(decide(writer, call("partner_sync", {}))) == {"client_not_allowed"}
	decide(object.union(writer, {"clientId": "partner-app"}), call("partner_sync", {})).allow
}

test_missing_client_id_not_allowed if {
	"client_not_allowed" in codes(decide(object.remove(writer, ["clientId"]), call("partner_sync", {})))
}

test_tenant_allowlist if {
	p := object.union(writer, {"issuer": "https://other.example.com", "tenant": "globex", "clientId": "partner-app"})
	codes(decide(p, call("partner_sync", {}))) == {"tenant_not_allowed"}
}

test_method_rule_allowlist_applies if {
	c := object.union(cfg, {"methods": {"tools/call": {"clients": ["other-app"]}}})
	d := data.mcp.authz.decision with input as {"principal": alice, "action": call("notes_read", {})} with data.mcp_authz as c
	codes(d) == {"client_not_allowed"}
}

test_method_and_item_rules_both_apply if {
	c := object.union(cfg, {"methods": {"tools/call": {"clients": ["notes-app"]}}})
	d := data.mcp.authz.decision with input as {"principal": writer, "action": call("notes_delete", {})} with data.mcp_authz as c
	codes(d) == {"role_not_allowed"}
}

test_method_rule_roles_and_tenants_apply if {
	roles := object.union(cfg, {"methods": {"tools/call": {"roles": ["operator"]}}})
	d1 := data.mcp.authz.decision with input as {"principal": alice, "action": call("notes_read", {})} with data.mcp_authz as roles
	codes(d1) == {"role_not_allowed"}
	tenants := object.union(cfg, {"methods": {"tools/call": {"tenants": ["globex"]}}})
	d2 := data.mcp.authz.decision with input as {"principal": alice, "action": call("notes_read", {})} with data.mcp_authz as tenants
	codes(d2) == {"tenant_not_allowed"}
}

test_empty_allowlists_admit_nobody if {
	c := object.union(cfg, {"tools": {"t": {"scopes": [], "clients": [], "roles": [], "tenants": []}}})
	d := data.mcp.authz.decision with input as {"principal": alice, "action": call("t", {})} with data.mcp_authz as c
	codes(d) == {"client_not_allowed", "role_not_allowed", "tenant_not_allowed"}
}

test_roles_claim_of_another_type_holds_no_role if {
	every roles in [7, {"admin": true}, null, true] {
		p := object.union(writer, {"claims": {"roles": roles}})
		codes(decide(p, call("notes_delete", {}))) == {"role_not_allowed"}
	}
}
