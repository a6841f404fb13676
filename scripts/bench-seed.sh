#!/usr/bin/env bash
# Seeding benchmark (not a test): one libtorrent leecher (the swarm harness's `leech libtorrent`)
# downloads a SIZE single-file torrent (1 MiB pieces) from one seeder on loopback: `ferrent seed`
# (release build) or libtorrent (the harness's `seed libtorrent`, default settings), REPS runs
# each, seeders alternating; prints a table of medians with ratios to ferrent.
#
#   scripts/bench-seed.sh [--size 1G] [--piece-kib 1024] [--reps 3] [--ferrent BIN] [--dir DIR]
#                         [--timeout 300]
#
# wall and MB/s are the leecher's (launch -> it reports complete, see `leech --help`); the
# seeder's CPU seconds (user+sys) are read from /proc/PID/stat just before and after the
# download, so the seeder's start-up check is not counted. Each run starts a fresh seeder on a
# fresh 127.0.1.X address; the first run of each seeder is byte-verified. Needs the swarm harness
# (../shared/swarm or $FERRENT_SWARM_DIR). The machine is shared: `uptime` is printed.
# Goal (issue 4): ferrent seeds at least as fast as libtorrent.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
swarm=${FERRENT_SWARM_DIR:-$(cd "$repo/.." && pwd)/shared/swarm}
size=1G
pk=1024
reps=3
ferrent=
dir=/tmp/ferrent-bench-seed
timeout=300

. "$(dirname "$0")/bench-lib.sh"   # usage, free_port, cpu_of, need_swarm, ferrent_binary, stop_pid
while [ $# -gt 0 ]; do
  case $1 in
    --size) size=$2; shift 2 ;;
    --piece-kib) pk=$2; shift 2 ;;
    --reps) reps=$2; shift 2 ;;
    --ferrent) ferrent=$2; shift 2 ;;
    --dir) dir=$2; shift 2 ;;
    --timeout) timeout=$2; shift 2 ;;
    -h|--help) usage 0 ;;
    *) echo "unknown argument: $1" >&2; usage 2 ;;
  esac
done
need_swarm seed
ferrent_binary
py=/usr/bin/python3

export SWARM_DIR=$dir
mkdir -p "$dir/results" "$dir/torrents"
chmod 755 "$dir"
jl=$dir/results/bench-seed-$(date +%Y%m%d-%H%M%S).jsonl
fer_pid=

stop_ferrent() {
  stop_pid "$fer_pid"
  fer_pid=
}
cleanup() {
  stop_ferrent
  "$swarm/seed" stop all >/dev/null 2>&1 || true
  "$swarm/tracker" stop >/dev/null 2>&1 || true
  rm -rf "$dir/dl"
}
trap cleanup EXIT


uptime_before=$(uptime)
echo "uptime before: $uptime_before" >&2
tport=$(free_port 127.0.0.1)
"$swarm/tracker" start "$tport" >&2
url=http://127.0.0.1:$tport/announce
payload=$("$swarm/mkpayload" "$dir/payload" "$size")
name=$(basename "$payload")
tor=$dir/torrents/$name-p${pk}k.torrent
"$swarm/mktorrent-py" "$payload" "$tor" --tracker "$url" --piece-kib "$pk" >&2
"$swarm/tracker" allow "$tor" >&2
cat "$payload" >/dev/null
run=0
for rep in $(seq 1 "$reps"); do
  for seeder in ferrent libtorrent; do
    run=$((run + 1))
    sip=127.0.1.$((10 + 2 * run))
    lip=127.0.1.$((11 + 2 * run))
    sport=$(free_port "$sip")
    if [ "$seeder" = ferrent ]; then
      log=$dir/results/ferrent-seed-rep$rep.log
      "$ferrent" seed "$tor" -d "$dir/payload" --bind "$sip" --port "$sport" >"$log" 2>&1 &
      fer_pid=$!
      for _ in $(seq 1 300); do grep -q "seeding on" "$log" && break; kill -0 "$fer_pid" || break; sleep 0.1; done
      grep -q "seeding on" "$log" || { echo "ferrent seed did not start:" >&2; cat "$log" >&2; exit 1; }
      sleep 1   # its first announce
      spid=$fer_pid
    else
      "$swarm/seed" libtorrent "$tor" "$dir/payload" "$sport" --ip "$sip" --ttl 3600 >&2
      spid=$("$py" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d.get("client_pid") or d["pid"])' "$dir/run/seed-libtorrent-$sport.json")
    fi
    out=$dir/dl/$seeder
    rm -rf "$out"; mkdir -p "$out"
    tmpj=$dir/results/.leech.json
    rm -f "$tmpj"
    args=(libtorrent "$tor" "$out" --ip "$lip" --port "$(free_port "$lip")" --timeout "$timeout" --json "$tmpj" --cleanup)
    [ "$rep" = 1 ] && args+=(--verify "$payload")
    c0=$(cpu_of "$spid")
    lrc=0
    "$swarm/leech" "${args[@]}" >"$dir/results/.leech.out" 2>&1 || lrc=$?
    c1=$(cpu_of "$spid")
    "$py" - "$tmpj" "$seeder" "$rep" "$lrc" "$c0" "$c1" "$dir/results/.leech.out" >>"$jl" <<'EOF'
import json, sys
path, seeder, rep, rc, c0, c1, out = sys.argv[1:]
try:
    d = json.loads(open(path).read().strip().splitlines()[-1])
except (OSError, ValueError, IndexError):
    d = {"ok": False, "error": "leech exit %s: %s" % (rc, open(out).read()[-300:])}
d["seeder"], d["rep"], d["seeder_cpu_s"] = seeder, int(rep), round(float(c1) - float(c0), 2)
print(json.dumps(d))
EOF
    tail -n 1 "$jl" | "$py" -c 'import json,sys; d=json.loads(sys.stdin.read())
print("  seeder %-10s rep %s  %s" % (d["seeder"], d["rep"], "wall %.2f s  %.0f MB/s  seeder cpu %.2f s%s" % (
    d["wall_s"], d["MBps"], d["seeder_cpu_s"], "  verify " + str(d.get("verify")) if d.get("verify") else "")
    if d.get("ok") else "FAILED: %s" % d.get("error")))' >&2
    rm -rf "$out"
    if [ "$seeder" = ferrent ]; then stop_ferrent; else "$swarm/seed" stop all >/dev/null 2>&1 || true; fi
  done
done
uptime_after=$(uptime)

"$py" - "$jl" "$size" "$pk" "$reps" "$uptime_before" "$uptime_after" "$(nproc)" <<'EOF'
import json, statistics, sys
path, size, pk, reps, up0, up1, ncpu = sys.argv[1:]
rows = [json.loads(l) for l in open(path) if l.strip()]
def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None
def fmt(v, f="%.2f"):
    return "-" if v is None else f % v
def ratio(v, b):
    return "-" if v is None or not b else "%.2fx" % (v / b)
res = {}
for s in ("ferrent", "libtorrent"):
    rs = [r for r in rows if r.get("seeder") == s]
    ok = [r for r in rs if r.get("ok")]
    res[s] = (len(ok), len(rs), {k: med([r.get(k) for r in ok]) for k in ("wall_s", "MBps", "xMBps", "seeder_cpu_s")})
b = res["ferrent"][2]
print("# seeding %s (%s KiB pieces) to one libtorrent leecher on loopback, medians of %s" % (size, pk, reps))
print()
print("| seeder | ok | wall s | MB/s | xfer MB/s | seeder CPU s | wall / ferrent | MB/s / ferrent | CPU / ferrent |")
print("|---|---|---|---|---|---|---|---|---|")
for s, (nok, n, m) in res.items():
    print("| %s | %d/%d | %s | %s | %s | %s | %s | %s | %s |" % (s, nok, n, fmt(m["wall_s"]), fmt(m["MBps"], "%.0f"),
          fmt(m["xMBps"], "%.0f"), fmt(m["seeder_cpu_s"]), ratio(m["wall_s"], b["wall_s"]),
          ratio(m["MBps"], b["MBps"]), ratio(m["seeder_cpu_s"], b["seeder_cpu_s"])))
print()
print("MB = 10^6 bytes; wall = leecher launch -> complete. Ratios > 1: more than ferrent.")
print("%s CPUs. uptime before: %s" % (ncpu, up0.strip()))
print("uptime after:  %s" % up1.strip())
print("raw runs: %s" % path)
EOF
