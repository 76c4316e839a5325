package mcp.authz

import rego.v1

# Issuer and tenant pinning, and the audience (RFC 8707): who may speak to this server at all.
# Local credentials (API keys, the stdio principal) are configured by the operator, so issuer and
# audience checks apply only to federated tokens (JWT, introspection).

_federated := {"jwt", "introspection"}

_identity_reasons(p) := (_issuer_reasons(p) | _tenant_reasons(p)) | _audience_reasons(p)

# METADATA
# title: issuer_not_trusted
# description: The token's issuer is not one of data.mcp_authz.issuers (another realm of the same server included).
_issuer_reasons(p) := {r |
	p.authMethod in _federated
	not _cfg.issuers[p.issuer]
	r := _reason("issuer_not_trusted", concat("", ["issuer \"", p.issuer, "\" is not trusted"]))
}

# METADATA
# title: tenant_mismatch
# description: The issuer is pinned to a tenant and the principal belongs to another (or to none).
_tenant_reasons(p) := {r |
	want := _cfg.issuers[p.issuer].tenant
	object.get(p, "tenant", null) != want
	r := _reason("tenant_mismatch", concat("", ["issuer \"", p.issuer, "\" is pinned to another tenant"]))
}

# METADATA
# title: audience_mismatch
# description: The token was not issued for this server's canonical resource URI (RFC 8707).
_audience_reasons(p) := {r |
	p.authMethod in _federated
	not _cfg.resource in object.get(p, "audience", [])
	r := _reason("audience_mismatch", "token audience does not include this server")
}
