package mcp.authz

import rego.v1

# Which clients, roles and tenants may use a method, tool, resource or prompt. A rule that lists
# `clients`, `roles` or `tenants` admits only those; an empty list admits nobody. Both the method
# rule and the item rule apply (one deny rule each, so no list of rules is built per call).

# METADATA
# title: client_not_allowed
# description: A rule lists the OAuth clients it admits and the principal's client is not one of them.
deny contains _reason("client_not_allowed", "client is not in the rule's client allowlist") if {
	_valid_input
	_client_refused(input.principal, _method_rule(input.action))
}

deny contains _reason("client_not_allowed", "client is not in the rule's client allowlist") if {
	_valid_input
	_client_refused(input.principal, _item_rule(input.action))
}

# METADATA
# title: role_not_allowed
# description: A rule lists roles and the principal holds none of them (roles come from the allowlisted roles claim).
deny contains _reason("role_not_allowed", "principal holds none of the rule's roles") if {
	_valid_input
	_role_refused(input.principal, _method_rule(input.action))
}

deny contains _reason("role_not_allowed", "principal holds none of the rule's roles") if {
	_valid_input
	_role_refused(input.principal, _item_rule(input.action))
}

# METADATA
# title: tenant_not_allowed
# description: A rule lists tenants and the principal's tenant is not one of them.
deny contains _reason("tenant_not_allowed", "tenant is not in the rule's tenant allowlist") if {
	_valid_input
	_tenant_refused(input.principal, _method_rule(input.action))
}

deny contains _reason("tenant_not_allowed", "tenant is not in the rule's tenant allowlist") if {
	_valid_input
	_tenant_refused(input.principal, _item_rule(input.action))
}

_refused_by(p, rule) if _client_refused(p, rule)

_refused_by(p, rule) if _role_refused(p, rule)

_refused_by(p, rule) if _tenant_refused(p, rule)

# Each applies only when the rule has the list (binding it is the guard); a list of another type
# (data that skipped validation) admits nobody.
_client_refused(p, rule) if {
	clients := rule.clients
	not object.get(p, "clientId", null) in clients
}

_role_refused(p, rule) if {
	roles := rule.roles
	not _holds_role(p, roles)
}

_holds_role(p, roles) if {
	some role in _roles(p)
	role in roles
}

_tenant_refused(p, rule) if {
	tenants := rule.tenants
	not object.get(p, "tenant", null) in tenants
}

# Roles claim as an array, whether the token carries an array or a space-delimited string.
_roles(p) := roles if {
	roles := object.get(p, ["claims", _roles_claim], [])
	is_array(roles)
} else := split(roles, " ") if {
	roles := object.get(p, ["claims", _roles_claim], [])
	is_string(roles)
} else := []
