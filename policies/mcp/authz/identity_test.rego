package mcp.authz_test

import rego.v1

test_untrusted_issuer_denied if {
	d := decide(object.union(alice, {"issuer": "https://evil.example.com"}), call("notes_read", {}))
	"issuer_not_trusted" in codes(d)
}

test_other_realm_of_same_server_denied if {
	d := decide(object.union(alice, {"issuer": "https://as.example.com/realms/other"}), call("notes_read", {}))
	"issuer_not_trusted" in codes(d)
}

test_tenant_pinned_to_issuer if {
	d := decide(object.union(alice, {"tenant": "globex"}), call("notes_read", {}))
	codes(d) == {"tenant_mismatch"}
}

test_missing_tenant_on_pinned_issuer_denied if {
	d := decide(object.remove(alice, ["tenant"]), call("notes_read", {}))
	codes(d) == {"tenant_mismatch"}
}

test_issuer_without_tenant_pin_allows_any_tenant if {
	p := object.union(alice, {"issuer": "https://other.example.com", "tenant": "globex"})
	decide(p, call("notes_read", {})).allow
}

test_audience_must_contain_resource if {
	d := decide(object.union(alice, {"audience": ["https://other.example.com/mcp"]}), call("notes_read", {}))
	codes(d) == {"audience_mismatch"}
}

test_local_credentials_skip_issuer_and_audience if {
	p := object.union(alice, {"authMethod": "api_key", "issuer": "urn:mcp-authz:api-key", "audience": []})
	decide(object.remove(p, ["tenant"]), call("notes_read", {})).allow
}

# Introspection principals (RFC 7662) are federated like JWTs: issuer, tenant and audience apply.
introspected := object.union(alice, {"authMethod": "introspection", "tokenId": "sha256:ab12"})

test_introspection_principal_allowed_when_trusted if {
	decide(introspected, call("notes_read", {})).allow
}

test_introspection_untrusted_issuer_denied if {
	codes(decide(object.union(introspected, {"issuer": "https://evil.example.com"}), call("notes_read", {}))) == {"issuer_not_trusted"}
}

test_introspection_audience_must_contain_resource if {
	codes(decide(object.union(introspected, {"audience": ["https://other.example.com/mcp"]}), call("notes_read", {}))) == {"audience_mismatch"}
	codes(decide(object.union(introspected, {"audience": []}), call("notes_read", {}))) == {"audience_mismatch"}
}

test_introspection_tenant_pinned if {
	codes(decide(object.union(introspected, {"tenant": "globex"}), call("notes_read", {}))) == {"tenant_mismatch"}
}

test_static_principal_skips_issuer_and_audience if {
	p := object.union(alice, {"authMethod": "static", "issuer": "urn:mcp-authz:static", "audience": []})
	decide(object.remove(p, ["tenant"]), call("notes_read", {})).allow
}

test_local_credential_on_pinned_issuer_still_needs_its_tenant if {
	p := object.union(alice, {"authMethod": "api_key", "tenant": "globex"})
	codes(decide(p, call("notes_read", {}))) == {"tenant_mismatch"}
}

test_unknown_auth_method_is_checked_like_a_federated_token if {
	every m in ["other", "", null] {
		p := object.union(alice, {"authMethod": m, "issuer": "https://evil.example.com", "audience": []})
		codes(decide(p, call("notes_read", {}))) == {"issuer_not_trusted", "audience_mismatch"}
	}
	codes(decide(object.remove(object.union(alice, {"audience": []}), ["authMethod"]), call("notes_read", {}))) == {"audience_mismatch"}
}

test_tenant_mismatch_message_says_which_case if {
	messages(decide(object.union(alice, {"tenant": "globex"}), call("notes_read", {}))) == {`issuer "https://as.example.com" is pinned to a tenant and the principal belongs to another tenant`}
	messages(decide(object.remove(alice, ["tenant"]), call("notes_read", {}))) == {`issuer "https://as.example.com" is pinned to a tenant and the principal has no tenant`}
	messages(decide(object.union(alice, {"tenant": ""}), call("notes_read", {}))) == {`issuer "https://as.example.com" is pinned to a tenant and the principal has no tenant`}
	messages(decide(object.union(alice, {"tenant": null}), call("notes_read", {}))) == {`issuer "https://as.example.com" is pinned to a tenant and the principal has no tenant`}
}

test_tenant_mismatch_message_names_no_tenant if {
	every r in decide(object.union(alice, {"tenant": "globex"}), call("notes_read", {})).reasons {
		not contains(r.message, "globex")
		not contains(r.message, "acme")
	}
}

test_issuer_message_names_the_issuer if {
	messages(decide(object.union(alice, {"issuer": "https://evil.example.com"}), call("notes_read", {}))) == {`issuer "https://evil.example.com" is not trusted`}
}
