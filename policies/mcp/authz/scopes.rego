package mcp.authz

import rego.v1

# Required scopes per action: the method rule's scopes plus the item rule's scopes; a tool without
# explicit scopes (listed, or unlisted under unlisted_tools: by_annotation) gets the read scope when
# annotated readOnlyHint, the write scope otherwise; a resource or prompt without explicit scopes
# gets the read scope.

# METADATA
# title: insufficient_scope
# description: The principal lacks scopes this action requires; required_scopes names all of them.
deny contains _reason("insufficient_scope", concat("", ["missing scopes: ", concat(" ", sort(missing))])) if {
	_valid_input
	_scope_denied(input.principal, input.action)
	missing := {s | some s in _required_scopes(input.action); not s in input.principal.scopes}
}

_scope_denied(p, a) if _method_scope_denied(p, a)

_scope_denied(p, a) if _item_scope_denied(p, a.kind, a)

_method_scope_denied(p, a) if {
	some s in _method_rule(a).scopes
	not s in p.scopes
}

_item_scope_denied(p, kind, a) if {
	some s in _item_scopes_of(kind, a)
	not s in p.scopes
}

_required_scopes(a) := {s | some s in _method_scopes(a)} | {s | some s in _item_scopes(a)}

_method_scopes(a) := object.get(_method_rule(a), "scopes", []) if _method_rule(a)

else := []

# An item refused whatever the scopes (unlisted under default deny, or allow: false) needs none:
# naming scopes would promise a step-up that cannot succeed.
_item_scopes(a) := _item_scopes_of(a.kind, a)

_item_scopes_of(kind, a) := [] if _item_refused_of(kind, a)

else := _rule_of(kind, a).scopes if _rule_of(kind, a).scopes

else := [_read_scope] if a.annotations.readOnlyHint == true

else := [_write_scope] if kind == "tool"

else := [_read_scope] if _item_kind(kind)

else := []
