# METADATA
# title: Files stay in the caller's home
# description: |
#   The file tools may only touch paths under /home/<subject>/ of the caller, with no ".." segment.
#   A rule of our own, beside the library: package mcp.authz.custom, deny contains {code, message}.
package mcp.authz.custom

import rego.v1

_file_tools := {"fs_read", "fs_list", "fs_write", "fs_delete"}

# METADATA
# title: Path outside the caller's home
# description: A file tool was called with a path that is not under /home/<subject>/.
deny contains {"code": "path_outside_home", "message": msg} if {
	input.action.name in _file_tools
	path := object.get(input.action, ["arguments", "path"], "")
	not _inside_home(path, input.principal.subject)
	msg := sprintf("%s may only touch /home/%s/, not %v", [input.action.name, input.principal.subject, path])
}

_inside_home(path, subject) if {
	is_string(path)
	not contains(subject, "/")
	startswith(path, concat("", ["/home/", subject, "/"]))
	not ".." in split(path, "/")
}
