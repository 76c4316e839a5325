package mcp.authz

import rego.v1

# Which clients, roles and tenants may use a method, tool, resource or prompt. A rule that lists
# `clients`, `roles` or `tenants` admits only those; an empty list admits nobody.

_allowlist_reasons(p, a) := _rule_allowlist_reasons(p, _method_rule(a)) | _rule_allowlist_reasons(p, _item_rule(a)) if {
	_method_rule(a)
	_item_rule(a)
} else := _rule_allowlist_reasons(p, _method_rule(a)) if {
	_method_rule(a)
} else := _rule_allowlist_reasons(p, _item_rule(a)) if {
	_item_rule(a)
} else := set()

_rule_allowlist_reasons(p, rule) := (_client_reasons(p, rule) | _role_reasons(p, rule)) | _tenant_allowlist_reasons(p, rule)

# METADATA
# title: client_not_allowed
# description: The rule lists the OAuth clients it admits and the principal's client is not one of them.
_client_reasons(p, rule) := {r |
	is_array(rule.clients)
	not object.get(p, "clientId", null) in rule.clients
	r := _reason("client_not_allowed", "client is not in the rule's client allowlist")
}

# METADATA
# title: role_not_allowed
# description: The rule lists roles and the principal holds none of them (roles come from the allowlisted roles claim).
_role_reasons(p, rule) := {r |
	is_array(rule.roles)
	count({role | some role in _roles(p); role in rule.roles}) == 0
	r := _reason("role_not_allowed", "principal holds none of the rule's roles")
}

# METADATA
# title: tenant_not_allowed
# description: The rule lists tenants and the principal's tenant is not one of them.
_tenant_allowlist_reasons(p, rule) := {r |
	is_array(rule.tenants)
	not object.get(p, "tenant", null) in rule.tenants
	r := _reason("tenant_not_allowed", "tenant is not in the rule's tenant allowlist")
}

# Roles claim as an array, whether the token carries an array or a space-delimited string.
_roles(p) := roles if {
	roles := object.get(p, ["claims", _defaults.roles_claim], [])
	is_array(roles)
} else := split(roles, " ") if {
	roles := object.get(p, ["claims", _defaults.roles_claim], [])
	is_string(roles)
} else := []
