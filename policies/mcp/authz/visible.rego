package mcp.authz

import rego.v1

# METADATA
# title: Visible items
# description: |
#   Which of a list of tools, resources or prompts the principal may use, in one evaluation (list
#   filtering). Input: {principal, kind: "tool"|"resource"|"prompt", items: [{name, uri, annotations}]}.
#   An item is visible when a call on it would pass every concern except argument conditions and
#   custom rules (which need a concrete call). Output: the visible items' keys (name, or uri).
# entrypoint: true
visible := [_item_key(item) |
	_valid_list_input
	not _identity_denied(input.principal)
	not _method_denied(input.principal, _list_call)
	some item in input.items
	_item_admitted(input.principal, input.kind, item)
]

_valid_list_input if {
	is_string(input.principal.subject)
	is_string(input.principal.issuer)
	is_array(input.principal.scopes)
	input.kind in {"tool", "resource", "prompt"}
	is_array(input.items)
}

_call_method := {"tool": "tools/call", "resource": "resources/read", "prompt": "prompts/get"}

# The call every item stands for, less the item: the method's checks are the same for all items,
# so they run once per list; per item only the item's rule is read (no action is built per item).
_list_call := {"kind": input.kind, "method": _call_method[input.kind]}

_item_key(item) := item.uri if input.kind == "resource"

_item_key(item) := item.name if input.kind != "resource"
