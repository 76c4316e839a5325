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
