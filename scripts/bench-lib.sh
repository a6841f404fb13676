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
