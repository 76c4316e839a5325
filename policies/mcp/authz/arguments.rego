package mcp.authz

import rego.v1

# Data-driven conditions on tool and prompt arguments, so a call can be refused on what it asks:
#   "arguments": {"path": {"pattern": "^/notes/", "max_length": 200}, "limit": {"max": 100},
#                 "mode": {"enum": ["read", "append"]}, "sudo": {"forbidden": true}, "id": {"required": true}}
# Each failed condition is one reason whose message names the argument, the condition and how it
# failed, never the argument's value (reasons go to the decision log).

# METADATA
# title: argument_denied
# description: An argument is missing, forbidden, or fails its enum / pattern / range / length condition.
deny contains _reason("argument_denied", message) if {
	_valid_input
	args := object.get(input.action, "arguments", {})
	some name, condition in _item_rule(input.action).arguments
	some message in _argument_failures(condition, args, name)
}

_arguments_denied(a) if {
	args := object.get(a, "arguments", {})
	some name, condition in _item_rule(a).arguments
	some _ in _argument_failures(condition, args, name)
}

# Every condition of one argument that the call fails, as messages.
_argument_failures(condition, args, name) := {message |
	some check in ["required", "forbidden", "enum", "pattern", "min", "max", "max_length"]
	message := _failure(check, condition, args, name)
}

_failure("required", condition, args, name) := _says(name, "is required") if {
	condition.required == true
	not _present(args, name)
}

_failure("forbidden", condition, args, name) := _says(name, "is forbidden") if {
	condition.forbidden == true
	_present(args, name)
}

# Binding the condition's value first is each rule's guard: a condition the rule does not have
# never fails.
_failure("enum", condition, args, name) := _says(name, "is not one of its enum values") if {
	allowed := condition.enum
	value := args[name]
	not value in allowed
}

_failure("pattern", condition, args, name) := _says(name, concat("", ["is not a string (pattern \"", pattern, "\")"])) if {
	pattern := condition.pattern
	value := args[name]
	not is_string(value)
}

_failure("pattern", condition, args, name) := _says(name, concat("", ["fails pattern \"", pattern, "\""])) if {
	pattern := condition.pattern
	value := args[name]
	is_string(value)
	not regex.match(pattern, value)
}

_failure(bound, condition, args, name) := _says(name, concat("", ["is not a number (", bound, " ", _number(limit), ")"])) if {
	_range_bound(bound)
	limit := condition[bound]
	value := args[name]
	not is_number(value)
}

_failure("min", condition, args, name) := _says(name, concat("", ["is below min ", _number(limit)])) if {
	limit := condition.min
	value := args[name]
	is_number(value)
	value < limit
}

_failure("max", condition, args, name) := _says(name, concat("", ["is above max ", _number(limit)])) if {
	limit := condition.max
	value := args[name]
	is_number(value)
	value > limit
}

_failure("max_length", condition, args, name) := _says(name, concat("", ["is not a string or array (max_length ", _number(limit), ")"])) if {
	limit := condition.max_length
	value := args[name]
	not is_string(value)
	not is_array(value)
}

_failure("max_length", condition, args, name) := _says(name, concat("", ["is longer than max_length ", _number(limit)])) if {
	limit := condition.max_length
	value := args[name]
	_sized(value)
	count(value) > limit
}

_range_bound("min")

_range_bound("max")

_sized(value) if is_string(value)

_sized(value) if is_array(value)

_present(args, name) if _ = args[name]

_says(name, what) := concat("", ["argument \"", name, "\" ", what])

# A bound as text, the same under opa (Go) and in WASM: integers through format_int (exact in WASM
# up to 2^31 - 1), anything else through json.marshal (plain decimals such as 2.5 print alike;
# exotic literals such as 1e21 or 2.50 may print differently, as WASM reads data through JSON.parse).
_number(x) := format_int(x, 10) if {
	x == floor(x)
	abs(x) <= 2147483647
} else := json.marshal(x)
