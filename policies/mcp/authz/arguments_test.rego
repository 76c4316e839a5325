package mcp.authz_test

import rego.v1

writer_args := object.union(alice, {"scopes": ["notes:write"]})

ok_args := {"title": "hello", "folder": "work", "path": "/notes/a", "limit": 5, "tags": ["a"]}

test_arguments_within_conditions_allowed if {
	decide(writer_args, call("notes_write", ok_args)).allow
}

test_required_argument_missing_denied if {
	codes(decide(writer_args, call("notes_write", {}))) == {"argument_denied"}
}

test_no_arguments_object_counts_as_missing if {
	codes(decide(writer_args, {"method": "tools/call", "kind": "tool", "name": "notes_write"})) == {"argument_denied"}
}

test_enum_violation_denied if {
	codes(decide(writer_args, call("notes_write", object.union(ok_args, {"folder": "secret"})))) == {"argument_denied"}
}

test_pattern_violation_denied if {
	codes(decide(writer_args, call("notes_write", object.union(ok_args, {"path": "/etc/passwd"})))) == {"argument_denied"}
	codes(decide(writer_args, call("notes_write", object.union(ok_args, {"path": 7})))) == {"argument_denied"}
}

test_range_violation_denied if {
	codes(decide(writer_args, call("notes_write", object.union(ok_args, {"limit": 1000})))) == {"argument_denied"}
	codes(decide(writer_args, call("notes_write", object.union(ok_args, {"limit": 0})))) == {"argument_denied"}
	codes(decide(writer_args, call("notes_write", object.union(ok_args, {"limit": "5"})))) == {"argument_denied"}
}

test_length_violation_denied if {
	codes(decide(writer_args, call("notes_write", object.union(ok_args, {"title": "a much too long title"})))) == {"argument_denied"}
	codes(decide(writer_args, call("notes_write", object.union(ok_args, {"tags": ["a", "b", "c"]})))) == {"argument_denied"}
	codes(decide(writer_args, call("notes_write", object.union(ok_args, {"tags": 3})))) == {"argument_denied"}
}

test_forbidden_argument_denied if {
	codes(decide(writer_args, call("notes_write", object.union(ok_args, {"sudo": false})))) == {"argument_denied"}
}

test_one_reason_per_failing_argument if {
	d := decide(writer_args, call("notes_write", object.union(ok_args, {"folder": "x", "limit": 1000})))
	count(d.reasons) == 2
}

test_prompt_arguments_checked if {
	a := {"method": "prompts/get", "kind": "prompt", "name": "summarize", "arguments": {"style": "poem"}}
	codes(decide(alice, a)) == {"argument_denied"}
}

# Values exactly at their limits pass; one step beyond fails.
test_values_at_their_limits_allowed if {
	decide(writer_args, call("notes_write", object.union(ok_args, {"title": "0123456789"}))).allow
	decide(writer_args, call("notes_write", object.union(ok_args, {"limit": 1}))).allow
	decide(writer_args, call("notes_write", object.union(ok_args, {"limit": 100}))).allow
	decide(writer_args, call("notes_write", object.union(ok_args, {"tags": ["a", "b"]}))).allow
	decide(writer_args, call("notes_write", object.union(ok_args, {"tags": []}))).allow
}

test_values_one_step_beyond_limits_denied if {
	messages(decide(writer_args, call("notes_write", object.union(ok_args, {"title": "01234567890"})))) == {`argument "title" is longer than max_length 10`}
	messages(decide(writer_args, call("notes_write", object.union(ok_args, {"limit": 0})))) == {`argument "limit" is below min 1`}
	messages(decide(writer_args, call("notes_write", object.union(ok_args, {"limit": 101})))) == {`argument "limit" is above max 100`}
	messages(decide(writer_args, call("notes_write", object.union(ok_args, {"limit": 100.5})))) == {`argument "limit" is above max 100`}
	messages(decide(writer_args, call("notes_write", object.union(ok_args, {"limit": 0.5})))) == {`argument "limit" is below min 1`}
}

test_length_counts_characters_not_bytes if {
	decide(writer_args, call("notes_write", object.union(ok_args, {"title": "éééééééééé"}))).allow
}

test_messages_name_argument_and_condition if {
	messages(decide(writer_args, call("notes_write", {}))) == {`argument "title" is required`}
	messages(decide(writer_args, call("notes_write", object.union(ok_args, {"sudo": false})))) == {`argument "sudo" is forbidden`}
	messages(decide(writer_args, call("notes_write", object.union(ok_args, {"folder": "secret"})))) == {`argument "folder" is not one of its enum values`}
	messages(decide(writer_args, call("notes_write", object.union(ok_args, {"path": "/etc/passwd"})))) == {`argument "path" fails pattern "^/notes/"`}
	messages(decide(writer_args, call("notes_write", object.union(ok_args, {"tags": ["a", "b", "c"]})))) == {`argument "tags" is longer than max_length 2`}
}

test_messages_never_carry_the_value if {
	secret := "s3cr3t-value-9f8e7d"
	d := decide(writer_args, call("notes_write", {"title": concat("", [secret, secret]), "folder": secret, "path": secret, "limit": 999}))
	count(d.reasons) == 4
	every r in d.reasons {
		not contains(r.message, secret)
		not contains(r.message, "999")
	}
}

# Wrong-typed values: each condition refuses a value of the wrong type, naming the type problem.
test_wrong_type_for_range_denied if {
	every v in ["5", ["5"], {"n": 5}, null, true] {
		d := decide(writer_args, call("notes_write", object.union(ok_args, {"limit": v})))
		messages(d) == {`argument "limit" is not a number (min 1)`, `argument "limit" is not a number (max 100)`}
	}
}

test_wrong_type_for_only_max_denied if {
	c := object.union(cfg, {"tools": {"t": {"scopes": [], "arguments": {"n": {"max": 3}}}}})
	d := data.mcp.authz.decision with input as {"principal": alice, "action": call("t", {"n": "2"})} with data.mcp_authz as c
	messages(d) == {`argument "n" is not a number (max 3)`}
	ok := data.mcp.authz.decision with input as {"principal": alice, "action": call("t", {"n": 3})} with data.mcp_authz as c
	ok.allow
}

test_wrong_type_for_pattern_denied if {
	every v in [["/notes/a"], {"p": "/notes/a"}, null, true, 7] {
		d := decide(writer_args, call("notes_write", object.union(ok_args, {"path": v})))
		messages(d) == {`argument "path" is not a string (pattern "^/notes/")`}
	}
}

test_wrong_type_for_max_length_denied if {
	every v in [{"a": 1}, null, true, 3] {
		d := decide(writer_args, call("notes_write", object.union(ok_args, {"tags": v})))
		messages(d) == {`argument "tags" is not a string or array (max_length 2)`}
	}
}

test_wrong_type_for_enum_denied if {
	every v in [["work"], {"f": "work"}, null, true, 1] {
		d := decide(writer_args, call("notes_write", object.union(ok_args, {"folder": v})))
		messages(d) == {`argument "folder" is not one of its enum values`}
	}
}

test_enum_of_non_strings if {
	c := object.union(cfg, {"tools": {"t": {"scopes": [], "arguments": {"n": {"enum": [1, true, null, ["x"]]}}}}})
	every v in [1, true, null, ["x"]] {
		d := data.mcp.authz.decision with input as {"principal": alice, "action": call("t", {"n": v})} with data.mcp_authz as c
		d.allow
	}
	d := data.mcp.authz.decision with input as {"principal": alice, "action": call("t", {"n": "1"})} with data.mcp_authz as c
	codes(d) == {"argument_denied"}
}

test_required_false_and_forbidden_false_are_no_conditions if {
	c := object.union(cfg, {"tools": {"t": {"scopes": [], "arguments": {"a": {"required": false, "forbidden": false}}}}})
	ok1 := data.mcp.authz.decision with input as {"principal": alice, "action": call("t", {})} with data.mcp_authz as c
	ok1.allow
	ok2 := data.mcp.authz.decision with input as {"principal": alice, "action": call("t", {"a": 1})} with data.mcp_authz as c
	ok2.allow
}

test_absent_optional_argument_skips_its_conditions if {
	decide(writer_args, call("notes_write", {"title": "t"})).allow
}

test_null_value_is_present if {
	codes(decide(writer_args, call("notes_write", object.union(ok_args, {"sudo": null})))) == {"argument_denied"}
	decide(writer_args, call("notes_write", {"title": null})).allow == false
}

test_invalid_pattern_fails_closed if {
	c := object.union(cfg, {"tools": {"t": {"scopes": [], "arguments": {"a": {"pattern": "(?=x)"}}}}})
	d := data.mcp.authz.decision with input as {"principal": alice, "action": call("t", {"a": "x"})} with data.mcp_authz as c
	not d.allow
}

test_max_length_ignores_objects_size if {
	messages(decide(writer_args, call("notes_write", object.union(ok_args, {"tags": {"a": 1, "b": 2, "c": 3}})))) == {`argument "tags" is not a string or array (max_length 2)`}
}

test_conditions_absent_from_the_rule_never_fail if {
	c := object.union(cfg, {"tools": {"t": {"scopes": [], "arguments": {"a": {}}}}})
	every v in ["x", 1, [1, 2, 3], {"k": 1}, null, true] {
		d := data.mcp.authz.decision with input as {"principal": alice, "action": call("t", {"a": v})} with data.mcp_authz as c
		d.allow
	}
}

test_bounds_are_printed_as_numbers if {
	c := object.union(cfg, {"tools": {"b": {"scopes": [], "arguments": {"x": {"min": -3, "max": 2.5}, "n": {"max": 4294967296}}}}})
	d1 := data.mcp.authz.decision with input as {"principal": alice, "action": call("b", {"x": 2.51})} with data.mcp_authz as c
	messages(d1) == {`argument "x" is above max 2.5`}
	d2 := data.mcp.authz.decision with input as {"principal": alice, "action": call("b", {"x": -4})} with data.mcp_authz as c
	messages(d2) == {`argument "x" is below min -3`}
	d3 := data.mcp.authz.decision with input as {"principal": alice, "action": call("b", {"n": 4294967297})} with data.mcp_authz as c
	messages(d3) == {`argument "n" is above max 4294967296`}
	d4 := data.mcp.authz.decision with input as {"principal": alice, "action": call("b", {"x": "1"})} with data.mcp_authz as c
	messages(d4) == {`argument "x" is not a number (min -3)`, `argument "x" is not a number (max 2.5)`}
}
