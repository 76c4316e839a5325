package mcp.authz

import rego.v1

# Required scopes per action: the method rule's scopes plus the item rule's scopes; a tool without
# explicit scopes gets the read scope when annotated readOnlyHint, the write scope otherwise; a
# resource or prompt without explicit scopes gets the read scope.

# METADATA
# title: insufficient_scope
# description: The principal lacks scopes this action requires; required_scopes names all of them.
_scope_reasons(p, a) := {r |
	missing := {s | some s in _required_scopes(a); not s in p.scopes}
	count(missing) > 0
	r := _reason("insufficient_scope", concat("", ["missing scopes: ", concat(" ", sort(missing))]))
}

_required_scopes(a) := {s | some s in _method_scopes(a)} | {s | some s in _item_scopes(a)}

_method_scopes(a) := object.get(_method_rule(a), "scopes", []) if _method_rule(a)

else := []

_item_scopes(a) := _item_rule(a).scopes if _item_rule(a).scopes

else := [_defaults.read_scope] if {
	a.kind == "tool"
	a.annotations.readOnlyHint == true
}

else := [_defaults.write_scope] if a.kind == "tool"

else := [_defaults.read_scope] if a.kind in {"prompt", "resource"}

else := []
