package mcp.authz

import rego.v1

# Default deny: an action is covered when its kind is open by default, a method rule enables it,
# or it names a tool/resource/prompt that the configuration (or its unlisted_* default) admits.
# Explicit `allow: false` on a method or item rule always denies.

# METADATA
# title: method_not_allowed
# description: No rule enables this JSON-RPC method (unknown methods are denied by default).
deny contains _reason("method_not_allowed", concat("", ["method \"", input.action.method, "\" is not enabled by any rule"])) if {
	_valid_input
	not _method_covered(input.action)
}

# METADATA
# title: tool_not_allowed / resource_not_allowed / prompt_not_allowed
# description: The item is unlisted while its kind requires a rule, or its rule sets allow to false.
deny contains _reason(concat("", [input.action.kind, "_not_allowed"]), concat("", [input.action.kind, " is not allowed by any rule"])) if {
	_valid_input
	_item_refused(input.action)
}

_method_covered(a) if {
	_open_kind(a.kind)
	not _method_disabled(a)
}

_method_covered(a) if {
	_method_rule(a)
	not _method_disabled(a)
}

_method_covered(_) if data.mcp.authz.custom.allow == true

_method_disabled(a) if _method_rule(a).allow == false

_item_refused(a) if _item_refused_of(a.kind, a)

_item_refused_of(kind, a) if _rule_of(kind, a).allow == false

_item_refused_of(kind, a) if {
	_item_kind(kind)
	not _rule_of(kind, a)
	not _unlisted_admitted(_unlisted[kind])
}

_unlisted_admitted("by_annotation")

_unlisted_admitted("allow")
