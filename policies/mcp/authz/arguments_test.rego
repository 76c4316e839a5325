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
