# Sourced by scripts/demo and scripts/test: build (or find) the server in the
# background while the Python side is set up, since neither waits on the other.
#
#   start_server_build      starts scripts/install-solidb, its output prefixed
#   finish_server_build     waits for it; sets and exports SOLIDB_BIN
server_build_log=""
server_build_pid=""

start_server_build() {
  server_build_log="$(mktemp)"
  (
    set -o pipefail
    scripts/install-solidb "$@" 2>&1 | tee "$server_build_log" | sed -u 's/^/[install-solidb] /'
  ) &
  server_build_pid=$!
}

finish_server_build() {
  if ! wait "$server_build_pid"; then
    echo "the server build failed (its output is above)" >&2
    return 1
  fi
  SOLIDB_BIN="$(tail -n 1 "$server_build_log")"
  export SOLIDB_BIN
  rm -f "$server_build_log"
}
