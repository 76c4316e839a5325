package mcp.authz

import rego.v1

# Default deny: an action is covered when its kind is open by default, a method rule enables it,
# or it names a tool/resource/prompt that the configuration (or its unlisted_* default) admits.
# Explicit `allow: false` on a method or item rule always denies.

_coverage_reasons(a) := _method_coverage_reasons(a) | _item_coverage_reasons(a)

# METADATA
# title: method_not_allowed
# description: No rule enables this JSON-RPC method (unknown methods are denied by default).
_method_coverage_reasons(a) := {r |
	not _method_covered(a)
	r := _reason("method_not_allowed", concat("", ["method \"", a.method, "\" is not enabled by any rule"]))
}

# METADATA
# title: tool_not_allowed / resource_not_allowed / prompt_not_allowed
# description: The item is unlisted while its kind requires a rule, or its rule sets allow to false.
_item_coverage_reasons(a) := {r |
	a.kind in {"tool", "resource", "prompt"}
	not _item_covered(a)
	r := _reason(concat("", [a.kind, "_not_allowed"]), concat("", [a.kind, " is not allowed by any rule"]))
}

_method_covered(a) if {
	not _method_disabled(a)
	a.kind in (_open_kinds | {"tool", "resource", "prompt"})
}

_method_covered(a) if {
	not _method_disabled(a)
	_method_rule(a)
}

_method_covered(_) if data.mcp.authz.custom.allow == true

_method_disabled(a) if _method_rule(a).allow == false

_item_covered(a) if {
	rule := _item_rule(a)
	not rule.allow == false
}

_item_covered(a) if {
	not _item_rule(a)
	_unlisted_allowed(a.kind)
}

_unlisted_allowed("tool") if _defaults.unlisted_tools == "by_annotation"

_unlisted_allowed("resource") if _defaults.unlisted_resources == "allow"

_unlisted_allowed("prompt") if _defaults.unlisted_prompts == "allow"
