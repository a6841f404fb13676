#!/usr/bin/env bash
# Tracker benchmark (issue 6): ferrent's tracker vs opentracker (Debian package, whitelist build),
# same load generator, same run, loopback only. Prints a Markdown table with ratios.
#
#   scripts/bench-tracker.sh [--swarms N] [--peers N] [--clients N] [--secs N] [--rounds N]
#
# Load (crates/ferrent-tracker/examples/loadgen.rs): SWARMS x PEERS distinct peers (default
# 1000 x 100 = 100,000) announced once over UDP (BEP 15, one connect per simulated client,
# CLIENTS concurrent clients in a closed loop), then SECS seconds of UDP re-announces, then SECS
# seconds of HTTP announces (one TCP connection per announce, up to 32 at once). RSS is the
# tracker's VmRSS from /proc at 100,000 peers (growth from the idle tracker, divided by the
# peers, is the bytes-per-peer row); "CPU us/announce" is the tracker's user + system time from
# /proc divided by the announces of the phase: unlike throughput it hardly depends on how busy
# the machine is. Both trackers run one at a time on this machine, with the load generator
# (one thread) on the same cores; `uptime` is printed with the table. The two run in turn
# ROUNDS times (default 3); the table has each figure's median over the rounds, and for the
# ratios also the lowest and highest of the per-round ratios.
set -euo pipefail

SWARMS=1000 PEERS=100 CLIENTS=64 SECS=10 ROUNDS=3
while [ $# -gt 0 ]; do
    case "$1" in
        --swarms) SWARMS=$2; shift 2 ;;
        --peers) PEERS=$2; shift 2 ;;
        --clients) CLIENTS=$2; shift 2 ;;
        --secs) SECS=$2; shift 2 ;;
        --rounds) ROUNDS=$2; shift 2 ;;
        -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
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

run_ferrent() {  # $1 = round
    local p pid
    p=$(free_port)
    if [ "$FERRENT_KIND" = "ferrent tracker" ]; then
        "${FERRENT_CMD[@]}" 127.0.0.1:"$p" --udp 127.0.0.1:"$p" >"$WORK/ferrent.log" 2>&1 &
    else
        "${FERRENT_CMD[@]}" 127.0.0.1:"$p" 1800 >"$WORK/ferrent.log" 2>&1 &
    fi
    pid=$!; PIDS+=("$pid")
    wait_port "$p"
    echo "round $1: $FERRENT_KIND pid $pid on 127.0.0.1:$p" >&2
    "$LOADGEN" --name "ferrent@$1" --udp 127.0.0.1:"$p" --http 127.0.0.1:"$p" --pid "$pid" \
        --swarms "$SWARMS" --peers "$PEERS" --clients "$CLIENTS" --secs "$SECS" | tr ' ' '\n' | tee -a "$OUT" >&2
    kill "$pid"; wait "$pid" 2>/dev/null || true
}

# opentracker, whitelist build: whitelist every bench info-hash; chroot + nobody as root.
OT=$WORK/ot
mkdir -p "$OT"; chmod 755 "$WORK" "$OT"
"$LOADGEN" --swarms "$SWARMS" --hashes-out "$OT/whitelist.txt"
chmod 644 "$OT/whitelist.txt"
run_opentracker() {  # $1 = round
    local p pid
    p=$(free_port)
    cat >"$OT/opentracker.conf" <<CONF
listen.tcp_udp 127.0.0.1:$p
access.whitelist /whitelist.txt
tracker.rootdir $OT
tracker.user nobody
CONF
    (cd "$OT" && exec opentracker -f "$OT/opentracker.conf") >"$WORK/ot.log" 2>&1 &
    pid=$!; PIDS+=("$pid")
    wait_port "$p"
    sleep 0.5   # whitelist is loaded by a worker thread
    echo "round $1: opentracker pid $pid on 127.0.0.1:$p" >&2
    "$LOADGEN" --name "opentracker@$1" --udp 127.0.0.1:"$p" --http 127.0.0.1:"$p" --pid "$pid" \
        --swarms "$SWARMS" --peers "$PEERS" --clients "$CLIENTS" --secs "$SECS" | tr ' ' '\n' | tee -a "$OUT" >&2
    kill "$pid"; wait "$pid" 2>/dev/null || true
}

START_LOAD=$(uptime)
# Alternate the two, so that a change in the machine's other load hits both alike.
for r in $(seq "$ROUNDS"); do
    run_ferrent "$r"
    run_opentracker "$r"
done

LOAD=$(uptime)
python3 - "$OUT" "$ROUNDS" <<'PY'
import sys, statistics
kv = {}
for line in open(sys.argv[1]):
    line = line.strip()
    if "=" in line:
        k, v = line.split("=", 1)
        kv[k] = float(v)
rounds = range(1, int(sys.argv[2]) + 1)
nan = float("nan")
def g(t, r, k): return kv.get("%s@%d.%s" % (t, r, k), nan)
def med(t, k):
    xs = [g(t, r, k) for r in rounds if g(t, r, k) == g(t, r, k)]
    return statistics.median(xs) if xs else nan
def per_peer(t, r):
    return (g(t, r, "rss_peers_kib") - g(t, r, "rss_start_kib")) * 1024 / g(t, r, "peers")
def ratio_range(f):
    rs = []
    for r in rounds:
        a, b = f("ferrent", r), f("opentracker", r)
        if b == b and b and a == a:
            rs.append(a / b)
    return "%.2f-%.2f" % (min(rs), max(rs)) if rs else "-"
peers = med("ferrent", "peers")
rows = [
    ("UDP first announce, announces/s", "udp_populate.rate"),
    ("UDP first announce, p99 ms", "udp_populate.p99_ms"),
    ("UDP first announce, tracker CPU us/announce", "udp_populate.cpu_us"),
    ("UDP re-announce, announces/s", "udp.rate"),
    ("UDP re-announce, p50 ms", "udp.p50_ms"),
    ("UDP re-announce, p99 ms", "udp.p99_ms"),
    ("UDP re-announce, tracker CPU us/announce", "udp.cpu_us"),
    ("HTTP announce, announces/s", "http.rate"),
    ("HTTP announce, p99 ms", "http.p99_ms"),
    ("HTTP announce, tracker CPU us/announce", "http.cpu_us"),
    ("RSS at %d peers, MiB" % peers, "rss_peers_kib"),
]
print("| metric (%d peers, median of %d rounds) | ferrent | opentracker | ferrent / opentracker | per-round ratios |" % (peers, len(rounds)))
print("|---|---|---|---|---|")
for label, k in rows:
    f, o = med("ferrent", k), med("opentracker", k)
    scale = 1 / 1024 if k == "rss_peers_kib" else 1
    print("| %s | %.3g | %.3g | %.2f | %s |" % (label, f * scale, o * scale, f / o if o else nan,
          ratio_range(lambda t, r, k=k: g(t, r, k))))
fp = statistics.median([per_peer("ferrent", r) for r in rounds])
op = statistics.median([per_peer("opentracker", r) for r in rounds])
print("| RSS growth per peer, bytes | %.1f | %.1f | %.2f | %s |" % (fp, op, fp / op, ratio_range(per_peer)))
errs = {t: sum(v for k, v in kv.items() if k.startswith(t + "@") and k.endswith(".errors")) for t in ("ferrent", "opentracker")}
print()
print("errors/timeouts: ferrent %d, opentracker %d; swarm 0 scrape (round 1): ferrent %d seeders/%d leechers, opentracker %d/%d" % (
    errs["ferrent"], errs["opentracker"], g("ferrent", 1, "swarm0_seeders"), g("ferrent", 1, "swarm0_leechers"),
    g("opentracker", 1, "swarm0_seeders"), g("opentracker", 1, "swarm0_leechers")))
PY
echo
echo "load at start: $START_LOAD"
echo "load at end:   $LOAD"
if [ -x "$TARGET/release/examples/memprobe" ]; then
    "$TARGET/release/examples/memprobe" "$SWARMS" "$PEERS"
fi
