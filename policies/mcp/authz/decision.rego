# METADATA
# title: mcp-authz default policy library
# description: |
#   Per-call authorization for MCP servers. Default deny: a call is allowed only when the input is
#   well formed, some rule covers the action, and no concern (issuer, tenant, audience, scopes,
#   allowlists, arguments, custom rules) denies it. Configuration lives in data.mcp_authz
#   (schemas/data.schema.json). Each concern adds its reasons to `deny` from a boolean check that
#   the `visible` entrypoint uses too, so an explanation can never disagree with a decision.
package mcp.authz

import rego.v1

# METADATA
# title: Authorization decision
# description: |
#   The answer for one JSON-RPC call: allow, every reason that denies it ({code, message}), and the
#   scopes that would turn a scope-only denial into an allow (drives the 403 step-up challenge).
# entrypoint: true
decision := {"allow": true, "reasons": [], "required_scopes": []} if {
	_valid_input
	not _denied
} else := {
	"allow": allow,
	"reasons": reasons,
	"required_scopes": required_scopes,
}

# The fast path: whether any concern denies, asked with the same checks the deny rules below are
# built from, without building the reasons. Most calls are allowed, so most calls stop here.
_denied if _identity_denied(input.principal)

_denied if _action_denied(input.principal, input.action)

_denied if _arguments_denied(input.action)

_denied if {
	some _ in data.mcp.authz.custom.deny
}

default allow := false

# (A malformed input always has the default_deny reason, so no separate check is needed here.)
allow if count(deny) == 0

# Reasons as a sorted array, so decisions are stable and comparable. (Sorted explicitly: set
# iteration is ordered under opa but in hash order in WASM.)
reasons := sort([r | some r in deny])

default required_scopes := []

required_scopes := sort(_required_scopes(input.action)) if {
	some r in deny
	r.code == "insufficient_scope"
}

# METADATA
# title: default_deny
# description: The input has no principal or action the policy can read; nothing is allowed.
deny contains _reason("default_deny", "input has no well-formed principal and action") if {
	not _valid_input
}

# Extension point: rules in package mcp.authz.custom add reasons of their own.
deny contains r if {
	_valid_input
	some r in data.mcp.authz.custom.deny
}

_valid_input if {
	is_string(input.principal.subject)
	is_string(input.principal.issuer)
	is_array(input.principal.scopes)
	is_string(input.action.method)
	is_string(input.action.kind)
}

# Whether any concern that does not need a concrete call (everything but arguments and custom
# rules) denies action a to principal p: coverage, scopes and allowlists, split into what the
# method's rule says and what the item's rule says. `visible` filters lists with the same two
# halves, asking the method's once per list and the item's once per item.
_action_denied(p, a) if _method_denied(p, a)

_action_denied(p, a) if not _item_admitted(p, a.kind, a)

_method_denied(_, a) if not _method_covered(a)

_method_denied(p, a) if _method_scope_denied(p, a)

_method_denied(p, a) if _refused_by(p, _method_rule(a))

# a is the action, or a list item of the given kind. One conjunction, so that an item refused by
# the first check (most unlisted items) costs no more.
_item_admitted(p, kind, a) if {
	not _item_refused_of(kind, a)
	not _item_scope_denied(p, kind, a)
	not _item_allowlist_refused(p, kind, a)
}

# (A rule of its own: under `not`, an undefined _rule_of would make the whole negation fail.)
_item_allowlist_refused(p, kind, a) if _refused_by(p, _rule_of(kind, a))

_reason(code, message) := {"code": code, "message": message}
