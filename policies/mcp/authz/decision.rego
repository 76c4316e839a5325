# METADATA
# title: mcp-authz default policy library
# description: |
#   Per-call authorization for MCP servers. Default deny: a call is allowed only when the input is
#   well formed, some rule covers the action, and no concern (issuer, tenant, audience, scopes,
#   allowlists, arguments, custom rules) denies it. Configuration lives in data.mcp_authz
#   (schemas/data.schema.json).
package mcp.authz

import rego.v1

# METADATA
# title: Authorization decision
# description: |
#   The answer for one JSON-RPC call: allow, every reason that denies it ({code, message}), and the
#   scopes that would turn a scope-only denial into an allow (drives the 403 step-up challenge).
# entrypoint: true
decision := {
	"allow": allow,
	"reasons": reasons,
	"required_scopes": required_scopes,
}

default allow := false

allow if {
	_valid_input
	count(deny) == 0
}

# Reasons as a sorted array (set iteration is ordered), so decisions are stable and comparable.
reasons := [r | some r in deny]

default required_scopes := []

required_scopes := sort(_required_scopes(input.action)) if {
	some r in deny
	r.code == "insufficient_scope"
}

# Every concern contributes its reasons; reasons are built by the very rules that deny.
deny contains r if {
	_valid_input
	some r in _reasons(input.principal, input.action)
}

deny contains r if {
	_valid_input
	some r in _argument_reasons(input.action)
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

# Reasons that hold for a principal and an action whatever the arguments (shared with visible).
_reasons(p, a) := ((_identity_reasons(p) | _coverage_reasons(a)) | _scope_reasons(p, a)) | _allowlist_reasons(p, a)

_reason(code, message) := {"code": code, "message": message}
