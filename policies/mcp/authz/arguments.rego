package mcp.authz

import rego.v1

# Data-driven conditions on tool and prompt arguments, so a call can be refused on what it asks:
#   "arguments": {"path": {"pattern": "^/notes/", "max_length": 200}, "limit": {"max": 100},
#                 "mode": {"enum": ["read", "append"]}, "sudo": {"forbidden": true}, "id": {"required": true}}

# METADATA
# title: argument_denied
# description: An argument is missing, forbidden, or fails its enum / pattern / range / length condition.
deny contains _reason("argument_denied", concat("", ["argument \"", name, "\" does not satisfy its condition"])) if {
	_valid_input
	some name, _ in _item_rule(input.action).arguments
	_argument_violated(input.action, name)
}

_arguments_denied(a) if {
	some name, _ in _item_rule(a).arguments
	_argument_violated(a, name)
}

_argument_violated(a, name) if not _argument_ok(_item_rule(a).arguments[name], object.get(a, "arguments", {}), name)

_argument_ok(condition, args, name) if {
	not _present(args, name)
	not condition.required == true
}

_argument_ok(condition, args, name) if {
	value := args[name]
	not condition.forbidden == true
	_enum_ok(condition, value)
	_pattern_ok(condition, value)
	_range_ok(condition, value)
	_length_ok(condition, value)
}

_present(args, name) if _ = args[name]

_enum_ok(condition, _) if not "enum" in object.keys(condition)

_enum_ok(condition, value) if value in condition.enum

_pattern_ok(condition, _) if not "pattern" in object.keys(condition)

_pattern_ok(condition, value) if {
	is_string(value)
	regex.match(condition.pattern, value)
}

_range_ok(condition, _) if {
	not "min" in object.keys(condition)
	not "max" in object.keys(condition)
}

_range_ok(condition, value) if {
	is_number(value)
	value >= object.get(condition, "min", value)
	value <= object.get(condition, "max", value)
}

_length_ok(condition, _) if not "max_length" in object.keys(condition)

_length_ok(condition, value) if {
	is_string(value)
	count(value) <= condition.max_length
}

_length_ok(condition, value) if {
	is_array(value)
	count(value) <= condition.max_length
}
