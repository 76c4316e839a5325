package mcp.authz

import rego.v1

# Issuer and tenant pinning, and the audience (RFC 8707): who may speak to this server at all.
# Local credentials (API keys, the stdio principal) are configured by the operator, so issuer and
# audience checks skip them; every other principal (JWT, introspection, and anything unknown: fail
# closed) is federated and checked.

_federated(p) if not _local(p)

_local(p) if p.authMethod == "api_key"

_local(p) if p.authMethod == "static"

# METADATA
# title: issuer_not_trusted
# description: The token's issuer is not one of data.mcp_authz.issuers (another realm of the same server included).
deny contains _reason("issuer_not_trusted", concat("", ["issuer \"", input.principal.issuer, "\" is not trusted"])) if {
	_valid_input
	_issuer_untrusted(input.principal)
}

# METADATA
# title: tenant_mismatch
# description: The issuer is pinned to a tenant and the principal belongs to another (or to none).
deny contains _reason("tenant_mismatch", concat("", ["issuer \"", input.principal.issuer, "\" is pinned to a tenant and ", _tenant_case(input.principal)])) if {
	_valid_input
	_tenant_mismatch(input.principal)
}

# Which way the tenant is wrong, without naming either tenant.
_tenant_case(p) := "the principal belongs to another tenant" if {
	tenant := object.get(p, "tenant", "")
	is_string(tenant)
	tenant != ""
} else := "the principal has no tenant"

# METADATA
# title: audience_mismatch
# description: The token was not issued for this server's canonical resource URI (RFC 8707).
deny contains _reason("audience_mismatch", "token audience does not include this server") if {
	_valid_input
	_audience_mismatch(input.principal)
}

_identity_denied(p) if _issuer_untrusted(p)

_identity_denied(p) if _tenant_mismatch(p)

_identity_denied(p) if _audience_mismatch(p)

_issuer_untrusted(p) if {
	_federated(p)
	not _cfg.issuers[p.issuer]
}

_tenant_mismatch(p) if {
	want := _cfg.issuers[p.issuer].tenant
	object.get(p, "tenant", null) != want
}

_audience_mismatch(p) if {
	_federated(p)
	not _cfg.resource in object.get(p, "audience", [])
}
