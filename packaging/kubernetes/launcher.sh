#!/bin/sh
# docker-credential-cloud on a node: runs the bundled Node runtime on the bundled program, from
# wherever this tree was installed. The kubelet execs it through symlinks
# (<bin-dir>/<name> -> /opt/docker-credential-cloud/current/bin/docker-credential-cloud), so the
# tree is found from this file's resolved path.
here=$(dirname "$(readlink -f "$0")")
exec "$here/../node" "$here/../app/dist/bin/docker-credential-cloud" "$@"
