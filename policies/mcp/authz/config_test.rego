package mcp.authz_test

import rego.v1

# Resource prefixes match canonical URIs at segment boundaries; the longest covering prefix wins.

prefixes := object.union(cfg, {"resources": [
	{"prefix": "notes://a", "scopes": ["a"]},
	{"prefix": "notes://a/secret", "scopes": ["secret"]},
	{"prefix": "file:///srv/", "scopes": ["srv"]},
	{"prefix": "search://q?", "scopes": ["query"]},
]})

decide_prefixes(p, a) := d if {
	d := data.mcp.authz.decision with input as {"principal": p, "action": a} with data.mcp_authz as prefixes
}

rule_scopes(uri) := d.required_scopes if {
	d := data.mcp.authz.decision with input as {"principal": object.union(alice, {"scopes": []}), "action": read(uri)}
		with data.mcp_authz as prefixes
}

test_prefix_covers_itself_and_what_follows_a_boundary if {
	rule_scopes("notes://a") == ["a"]
	rule_scopes("notes://a/x") == ["a"]
	rule_scopes("notes://a?q=1") == ["a"]
	rule_scopes("notes://a#frag") == ["a"]
}

test_prefix_does_not_cover_a_longer_segment if {
	codes(decide_prefixes(alice, read("notes://ab"))) == {"resource_not_allowed"}
	rule_scopes("notes://a/secret-plans") == ["a"]
	rule_scopes("notes://a/secretx/y") == ["a"]
}

test_longest_covering_prefix_wins_at_boundaries if {
	rule_scopes("notes://a/secret") == ["secret"]
	rule_scopes("notes://a/secret/x") == ["secret"]
	rule_scopes("notes://a/secret?x") == ["secret"]
}

test_prefix_ending_in_slash_covers_everything_below if {
	rule_scopes("file:///srv/x") == ["srv"]
	rule_scopes("file:///srv/") == ["srv"]
	codes(decide_prefixes(alice, read("file:///srv"))) == {"resource_not_allowed"}
	codes(decide_prefixes(alice, read("file:///srvx"))) == {"resource_not_allowed"}
}

test_prefix_ending_in_query_mark_covers_every_query if {
	rule_scopes("search://q?x=1") == ["query"]
	rule_scopes("search://q?") == ["query"]
}

test_prefix_ending_in_hash_covers_every_fragment if {
	c := object.union(cfg, {"resources": [{"prefix": "notes://doc#", "scopes": ["frag"]}]})
	d := data.mcp.authz.decision with input as {"principal": object.union(alice, {"scopes": []}), "action": read("notes://doc#part")} with data.mcp_authz as c
	d.required_scopes == ["frag"]
}

test_resource_without_uri_is_unlisted if {
	codes(decide(alice, {"method": "resources/read", "kind": "resource"})) == {"resource_not_allowed"}
}

test_prefix_never_covers_another_scheme_at_the_same_offset if {
	# "file:///s/x" has "/" where "notes://a" ends; it is not under that prefix.
	codes(decide_prefixes(alice, read("file:///s/x"))) == {"resource_not_allowed"}
	codes(decide_prefixes(alice, read("zzzzzzzzz?x"))) == {"resource_not_allowed"}
}
