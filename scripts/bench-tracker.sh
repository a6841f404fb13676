#!/usr/bin/env bash
# Tracker benchmark (issue 6): ferrent's tracker vs opentracker (Debian package, whitelist build),
# same load generator, same run, loopback only. Prints a Markdown table with ratios.
#
#   scripts/bench-tracker.sh [--swarms N] [--peers N] [--clients N] [--secs N]
#
# Load (crates/ferrent-tracker/examples/loadgen.rs): SWARMS x PEERS distinct peers (default
# 1000 x 100 = 100,000) announced once over UDP (BEP 15, one connect per simulated client,
# CLIENTS concurrent clients in a closed loop), then SECS seconds of UDP re-announces, then SECS
# seconds of HTTP announces (one TCP connection per announce, up to 32 at once). RSS is the
# tracker's VmRSS from /proc at 100,000 peers (growth from the idle tracker, divided by the
# peers, is the bytes-per-peer row); "CPU us/announce" is the tracker's user + system time from
# /proc divided by the announces of the phase: unlike throughput it hardly depends on how busy
# the machine is. Both trackers run one at a time on this machine, with the load generator
# (one thread) on the same cores; `uptime` is printed with the table.
set -euo pipefail

SWARMS=1000 PEERS=100 CLIENTS=64 SECS=10
while [ $# -gt 0 ]; do
    case "$1" in
        --swarms) SWARMS=$2; shift 2 ;;
        --peers) PEERS=$2; shift 2 ;;
        --clients) CLIENTS=$2; shift 2 ;;
        --secs) SECS=$2; shift 2 ;;
        -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
done

ROOT=$(cd "$(dirname "$0")/.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
command -v opentracker >/dev/null || { echo "opentracker not installed (apt-get install opentracker)" >&2; exit 1; }

echo "building (release)..." >&2
(cd "$ROOT" && cargo build --release -q -p ferrent-tracker --example loadgen --example serve --example memprobe)
LOADGEN=$TARGET/release/examples/loadgen
# `ferrent tracker` when the CLI builds; otherwise the `serve` example (same library, same
# defaults, no CLI around it).
if (cd "$ROOT" && cargo build --release -q -p ferrent-cli --bin ferrent 2>/dev/null); then
    FERRENT_CMD=("$TARGET/release/ferrent" tracker --interval 1800 --http)
    FERRENT_KIND="ferrent tracker"
else
    echo "ferrent CLI does not build right now; using the serve example" >&2
    FERRENT_CMD=("$TARGET/release/examples/serve")
    FERRENT_KIND="examples/serve"
fi

WORK=$(mktemp -d /tmp/bench-tracker.XXXXXX)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket
for _ in range(100):
    t=socket.socket(); t.bind(("127.0.0.1",0)); p=t.getsockname()[1]
    u=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)
    try:
        u.bind(("127.0.0.1",p)); print(p); break
    except OSError: pass
    finally: t.close(); u.close()'
}

wait_port() {  # bounded: 10 s
    for _ in $(seq 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.1
    done
    echo "port $1 did not open" >&2; return 1
}

OUT=$WORK/results.txt
: >"$OUT"

# --- ferrent ---
P1=$(free_port)
if [ "$FERRENT_KIND" = "ferrent tracker" ]; then
    "${FERRENT_CMD[@]}" 127.0.0.1:"$P1" --udp 127.0.0.1:"$P1" >"$WORK/ferrent.log" 2>&1 &
else
    "${FERRENT_CMD[@]}" 127.0.0.1:"$P1" 1800 >"$WORK/ferrent.log" 2>&1 &
fi
FPID=$!; PIDS+=("$FPID")
wait_port "$P1"
echo "$FERRENT_KIND pid $FPID on 127.0.0.1:$P1" >&2
"$LOADGEN" --name ferrent --udp 127.0.0.1:"$P1" --http 127.0.0.1:"$P1" --pid "$FPID" \
    --swarms "$SWARMS" --peers "$PEERS" --clients "$CLIENTS" --secs "$SECS" | tr ' ' '\n' | tee -a "$OUT" >&2
kill "$FPID"; wait "$FPID" 2>/dev/null || true

# --- opentracker (whitelist build: whitelist every bench info-hash; chroot + nobody as root) ---
P2=$(free_port)
OT=$WORK/ot
mkdir -p "$OT"; chmod 755 "$WORK" "$OT"
"$LOADGEN" --swarms "$SWARMS" --hashes-out "$OT/whitelist.txt"
chmod 644 "$OT/whitelist.txt"
cat >"$OT/opentracker.conf" <<CONF
listen.tcp_udp 127.0.0.1:$P2
access.whitelist /whitelist.txt
tracker.rootdir $OT
tracker.user nobody
CONF
(cd "$OT" && exec opentracker -f "$OT/opentracker.conf") >"$WORK/ot.log" 2>&1 &
OPID=$!; PIDS+=("$OPID")
wait_port "$P2"
sleep 0.5   # whitelist is loaded by a worker thread
echo "opentracker pid $OPID on 127.0.0.1:$P2" >&2
"$LOADGEN" --name opentracker --udp 127.0.0.1:"$P2" --http 127.0.0.1:"$P2" --pid "$OPID" \
    --swarms "$SWARMS" --peers "$PEERS" --clients "$CLIENTS" --secs "$SECS" | tr ' ' '\n' | tee -a "$OUT" >&2
kill "$OPID"; wait "$OPID" 2>/dev/null || true

LOAD=$(uptime)
python3 - "$OUT" <<'PY'
import sys
kv = {}
for line in open(sys.argv[1]):
    line = line.strip()
    if "=" in line:
        k, v = line.split("=", 1)
        kv[k] = float(v)
def g(t, k): return kv.get(t + "." + k, float("nan"))
peers = g("ferrent", "peers")
rows = [
    ("UDP populate, announces/s", "udp_populate.rate", True),
    ("UDP populate, p99 ms", "udp_populate.p99_ms", False),
    ("UDP populate, tracker CPU us/announce", "udp_populate.cpu_us", False),
    ("UDP re-announce, announces/s", "udp.rate", True),
    ("UDP re-announce, p50 ms", "udp.p50_ms", False),
    ("UDP re-announce, p99 ms", "udp.p99_ms", False),
    ("UDP re-announce, tracker CPU us/announce", "udp.cpu_us", False),
    ("HTTP announce, announces/s", "http.rate", True),
    ("HTTP announce, p99 ms", "http.p99_ms", False),
    ("HTTP announce, tracker CPU us/announce", "http.cpu_us", False),
]
print("| metric (%d peers, %d swarms of %d) | ferrent | opentracker | ferrent / opentracker |" % (
    peers, 0, 0) if False else "| metric (%d peers) | ferrent | opentracker | ferrent / opentracker |" % peers)
print("|---|---|---|---|")
for label, k, _ in rows:
    f, o = g("ferrent", k), g("opentracker", k)
    print("| %s | %.3g | %.3g | %.2f |" % (label, f, o, f / o if o else float("nan")))
for t in ("ferrent", "opentracker"):
    pass
f_rss = g("ferrent", "rss_peers_kib") / 1024; o_rss = g("opentracker", "rss_peers_kib") / 1024
f_0 = g("ferrent", "rss_start_kib") / 1024; o_0 = g("opentracker", "rss_start_kib") / 1024
print("| RSS at %d peers, MiB | %.1f | %.1f | %.2f |" % (peers, f_rss, o_rss, f_rss / o_rss))
print("| RSS growth per peer, bytes | %.0f | %.0f | %.2f |" % (
    (f_rss - f_0) * 1048576 / peers, (o_rss - o_0) * 1048576 / peers, (f_rss - f_0) / (o_rss - o_0)))
errs = {t: sum(v for k, v in kv.items() if k.startswith(t + ".") and k.endswith(".errors")) for t in ("ferrent", "opentracker")}
print()
print("errors/timeouts: ferrent %d, opentracker %d; swarm 0 scrape: ferrent %d seeders/%d leechers, opentracker %d/%d" % (
    errs["ferrent"], errs["opentracker"], g("ferrent", "swarm0_seeders"), g("ferrent", "swarm0_leechers"),
    g("opentracker", "swarm0_seeders"), g("opentracker", "swarm0_leechers")))
PY
echo
echo "load: $LOAD"
if [ -x "$TARGET/release/examples/memprobe" ]; then
    "$TARGET/release/examples/memprobe" "$SWARMS" "$PEERS"
fi
