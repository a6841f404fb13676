# Sourced by the bench scripts (not run): helpers they all need.

# Prints the calling script's header comment (its help) and exits with $1 (default 0).
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit "${1:-0}"; }

# A port free for TCP and UDP on IP $1, outside the ephemeral range.
free_port() {
  "${py:-/usr/bin/python3}" - "$1" <<'PYEOF'
import random, socket, sys
ip = sys.argv[1]
for _ in range(500):
    p = random.randint(20000, 32000)
    try:
        for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
            s = socket.socket(socket.AF_INET, kind); s.bind((ip, p)); s.close()
        print(p); break
    except OSError:
        pass
else:
    sys.exit("no free port on " + ip)
PYEOF
}

# utime+stime seconds of the live pid $1 (0 when it is gone).
cpu_of() {
  "${py:-/usr/bin/python3}" -c 'import os,sys
f=open("/proc/%s/stat"%sys.argv[1]).read().rsplit(")",1)[1].split()
print((int(f[11])+int(f[12]))/os.sysconf("SC_CLK_TCK"))' "$1" 2>/dev/null || echo 0
}

# Exits unless the swarm harness (with script $1) is at $swarm.
need_swarm() {
  [ -x "$swarm/$1" ] || { echo "swarm harness not found at $swarm (set FERRENT_SWARM_DIR)" >&2; exit 2; }
}

# Sets $ferrent to a fresh release build unless --ferrent named a binary; exits if none runs.
ferrent_binary() {
  if [ -z "$ferrent" ]; then
    echo "== building ferrent (release)" >&2
    (cd "$repo" && cargo build --release --locked -p ferrent-cli >&2)
    ferrent=${CARGO_TARGET_DIR:-$repo/target}/release/ferrent
  fi
  [ -x "$ferrent" ] || { echo "no ferrent binary at $ferrent" >&2; exit 2; }
}

# Stops the child pid $1 (if any) like Ctrl-C would, then SIGKILL after 5 s, and reaps it.
stop_pid() {
  if [ -n "$1" ] && kill -0 "$1" 2>/dev/null; then
    kill -INT "$1" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
  fi
}
