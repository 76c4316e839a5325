package mcp.authz.custom_test

import data.mcp.authz
import data.mcp.authz.custom
import rego.v1

_call(subject, tool, path) := {
	"principal": {
		"subject": subject,
		"issuer": "https://auth.example.com",
		"tenant": "acme",
		"audience": ["https://files.example.com/mcp"],
		"scopes": ["files:read", "files:write"],
		"authMethod": "jwt",
		"tokenId": "t1",
		"claims": {},
	},
	"action": {"method": "tools/call", "kind": "tool", "name": tool, "arguments": {"path": path}},
	"server": {"resource": "https://files.example.com/mcp"},
	"context": {"time_ns": 0, "transport": "http"},
}

_codes(reasons) := {r.code | some r in reasons}

test_read_in_own_home_allowed if {
	count(custom.deny) == 0 with input as _call("alice", "fs_read", "/home/alice/notes.txt")
}

test_read_in_other_home_denied if {
	"path_outside_home" in _codes(custom.deny) with input as _call("alice", "fs_read", "/home/bob/notes.txt")
}

test_dot_dot_segment_denied if {
	"path_outside_home" in _codes(custom.deny) with input as _call("alice", "fs_read", "/home/alice/../bob/notes.txt")
}

test_prefix_of_another_home_denied if {
	"path_outside_home" in _codes(custom.deny) with input as _call("ali", "fs_read", "/home/alice/notes.txt")
}

test_missing_path_denied if {
	"path_outside_home" in _codes(custom.deny) with input as object.remove(_call("alice", "fs_list", ""), ["action"]) with input.action as {"method": "tools/call", "kind": "tool", "name": "fs_list"}
}

test_other_tools_untouched if {
	count(custom.deny) == 0 with input as _call("alice", "notes_read", "/etc/passwd")
}

# The whole decision, with the library and the data in data.json: what the server answers.
test_decision_allows_own_home if {
	d := authz.decision with input as _call("alice", "fs_read", "/home/alice/notes.txt")
	d.allow
}

test_decision_denies_other_home if {
	d := authz.decision with input as _call("alice", "fs_write", "/home/bob/x")
	not d.allow
	"path_outside_home" in _codes(d.reasons)
}
