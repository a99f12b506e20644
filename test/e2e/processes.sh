# shellcheck shell=bash
# Process helpers shared by cluster.sh and node.sh, sourced after each defines log, die, TIMEOUT
# and WATCHED (the names whose exit fails a wait), and before its cmd_start and cmd_stop.
# Each process <name> started in a folder <dir> has its PID in <dir>/<name>.pid and its output in
# <dir>/logs/<name>.log.

# alive <dir> <name>: the process is running.
alive() { [ -f "$1/$2.pid" ] && kill -0 "$(cat "$1/$2.pid")" 2>/dev/null; }

# stop_pid <dir> <name>: SIGTERM, up to 10 s for it to exit, then SIGKILL; removes the pid file.
stop_pid() {
  local dir="$1" name="$2" pid
  [ -f "$dir/$name.pid" ] || return 0
  pid="$(cat "$dir/$name.pid")"
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.2
    done
    if kill -0 "$pid" 2>/dev/null; then
      log "$name (pid $pid) ignored SIGTERM for 10s: killing it"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$dir/$name.pid"
}

# wait_for <dir> <what> <command...>: until the command succeeds; fails fast, with the log's tail,
# when a process named in WATCHED exits, and after TIMEOUT seconds.
wait_for() {
  local dir="$1" what="$2" deadline=$((SECONDS + TIMEOUT)) name
  shift 2
  until "$@" >/dev/null 2>&1; do
    for name in "${WATCHED[@]}"; do
      if [ -f "$dir/$name.pid" ] && ! alive "$dir" "$name"; then
        tail -n 30 "$dir/logs/$name.log" >&2 || true
        die "$name exited while waiting for $what (log: $dir/logs/$name.log)"
      fi
    done
    [ "$SECONDS" -lt "$deadline" ] || die "timed out after ${TIMEOUT}s waiting for $what (logs: $dir/logs)"
    sleep 0.5
  done
}

# run_started <usage> <env file> [--] command...: cmd_start, the command with <dir>/<env file>
# sourced (KUBECONFIG and the rest), then cmd_stop, also when the command fails or is interrupted.
run_started() {
  local usage="$1" env_file="$2" dir rc=0
  shift 2
  [ "${1:-}" = "--" ] && shift
  [ "$#" -gt 0 ] || die "usage: $usage"
  dir="$(cmd_start)"
  # shellcheck disable=SC2064
  trap "cmd_stop '$dir'" EXIT
  trap 'exit 130' INT TERM
  # shellcheck disable=SC1090
  . "$dir/$env_file"
  "$@" || rc=$?
  return "$rc"
}
