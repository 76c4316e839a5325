# The floor of the benchmark suite (`policy.floor`): a constant decision of the same shape as the
# library's, whatever the input. Evaluated through the same engine path as the real policy (input
# encoding, the JSON parse inside WASM, result decoding), it is what any policy costs at least.
package mcp.authz

import rego.v1

decision := {"allow": true, "reasons": [], "required_scopes": []}

visible := []
