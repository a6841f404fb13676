#!/usr/bin/env bash
# Download benchmark (not a test): leech one SIZE single-file torrent from one libtorrent seeder on
# loopback with ferrent and with other clients, one leecher at a time, and print a table of medians
# with every figure also as a ratio to ferrent.
#
#   scripts/bench-download.sh [--size 1G] [--piece-kib 1024,256] [--reps 3]
#                             [--leechers ferrent,libtorrent,aria2] [--seeders libtorrent,ferrent]
#                             [--ferrent BIN] [--dir DIR] [--timeout 300] [--keep]
#                             [--rqbit PATH|install]
#
# --seeders: the seeders to run the whole table against, one at a time (default libtorrent).
# `ferrent` is `ferrent seed` (the same binary), so `--seeders libtorrent,ferrent
# --leechers ferrent` puts ferrent-to-ferrent beside libtorrent-to-ferrent (issue 3). Ratios are
# to the ferrent leecher of the same seeder.
#
# Leechers: ferrent, and any client of the swarm harness (libtorrent transmission aria2 qbittorrent
# rtorrent; ../shared/swarm or $FERRENT_SWARM_DIR, installed with its ./install), and rqbit with
# `--rqbit PATH` (or `--rqbit install`: built once into a cache directory, see scripts/rqbit.sh;
# run with DHT, LSD and UPnP off, its wall measured like ferrent's: launch -> exit with -e). The harness's
# `leech` runs the other clients exactly as its own `bench` does (wall = launch -> the client reports
# complete, polled every 0.1 s). ferrent's wall is launch -> process exit (it exits once every piece
# is verified and written, after its `stopped` announce), so it is never flattered: it includes
# making the data durable (sync) before the final resume save, ~0.3 s for 1 GiB on this machine,
# which the other clients' walls do not.
#
# Per run: `sync`, 1 s pause, a fresh 127.0.1.X address and port, the downloaded copy deleted
# afterwards; the first repetition of every leecher is byte-verified. Leechers take turns within
# each repetition so that load drift hits them all alike. CPU seconds (user+sys) and peak RSS of the
# leecher come from GNU time -v (`apt-get install time`); seeder CPU from /proc. Peak RSS of the
# mmap-based clients (libtorrent 2, qBittorrent, rtorrent) includes mapped file pages.
#
# The machine is shared: `uptime` is printed before and after; compare only rows of one run.
# Needs ~2 x SIZE of free space under --dir (default /tmp/ferrent-bench-download).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
swarm=${FERRENT_SWARM_DIR:-$(cd "$repo/.." && pwd)/shared/swarm}
size=1G
pieces=1024,256
reps=3
leechers=ferrent,libtorrent,aria2
seeders=libtorrent
ferrent=
dir=/tmp/ferrent-bench-download
timeout=300
keep=0
rqbit=

. "$(dirname "$0")/bench-lib.sh"   # usage, free_port, cpu_of, need_swarm, ferrent_binary, stop_pid
while [ $# -gt 0 ]; do
  case $1 in
    --size) size=$2; shift 2 ;;
    --piece-kib) pieces=$2; shift 2 ;;
    --reps) reps=$2; shift 2 ;;
    --leechers) leechers=$2; shift 2 ;;
    --seeders) seeders=$2; shift 2 ;;
    --ferrent) ferrent=$2; shift 2 ;;
    --dir) dir=$2; shift 2 ;;
    --timeout) timeout=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    --rqbit) rqbit=$2; shift 2 ;;
    -h|--help) usage 0 ;;
    *) echo "unknown argument: $1" >&2; usage 2 ;;
  esac
done
need_swarm seed
[ -x /usr/bin/time ] || { echo "GNU time missing: apt-get install time" >&2; exit 2; }

ferrent_binary
if [ -n "$rqbit" ]; then
  . "$repo/scripts/rqbit.sh"
  rqbit=$(resolve_rqbit "$rqbit")
  case ",$leechers," in *,rqbit,*) ;; *) leechers=$leechers,rqbit ;; esac
fi

export SWARM_DIR=$dir
mkdir -p "$dir/results" "$dir/torrents"
chmod 755 "$dir"
jl=$dir/results/bench-download-$(date +%Y%m%d-%H%M%S).jsonl
py=/usr/bin/python3

fer_seed_pid=
stop_ferrent_seed() {
  stop_pid "$fer_seed_pid"
  fer_seed_pid=
}
cleanup() {
  stop_ferrent_seed
  "$swarm/seed" stop all >/dev/null 2>&1 || true
  "$swarm/tracker" stop >/dev/null 2>&1 || true
  if [ "$keep" = 0 ]; then rm -rf "$dir/dl" "$dir/payload"; fi
}
trap cleanup EXIT


echo "== $(date '+%F %T')  ferrent $(cd "$repo" && git rev-parse --short HEAD 2>/dev/null || echo '?')  $(nproc) CPUs" >&2
uptime_before=$(uptime)
echo "uptime before: $uptime_before" >&2

tport=$(free_port 127.0.0.1)
"$swarm/tracker" start "$tport" >&2
url=http://127.0.0.1:$tport/announce
payload=$("$swarm/mkpayload" "$dir/payload" "$size")
name=$(basename "$payload")
bytes=$(stat -c %s "$payload")
run_no=0

for seeder in ${seeders//,/ }; do
  for pk in ${pieces//,/ }; do
    tor=$dir/torrents/$name-p${pk}k.torrent
    "$swarm/mktorrent-py" "$payload" "$tor" --tracker "$url" --piece-kib "$pk" >&2
    "$swarm/seed" stop all >/dev/null 2>&1 || true
    stop_ferrent_seed
    sport=$(free_port 127.0.1.1)
    if [ "$seeder" = ferrent ]; then
      "$swarm/tracker" allow "$tor" >&2
      slog=$dir/results/ferrent-seeder-p${pk}k.log
      "$ferrent" seed "$tor" -d "$dir/payload" --bind 127.0.1.1 --port "$sport" >"$slog" 2>&1 &
      fer_seed_pid=$!
      for _ in $(seq 1 600); do grep -q "seeding on" "$slog" && break; kill -0 "$fer_seed_pid" || break; sleep 0.1; done
      grep -q "seeding on" "$slog" || { echo "ferrent seed did not start:" >&2; cat "$slog" >&2; exit 1; }
      sleep 1   # its first announce
      seed_pid=$fer_seed_pid
    else
      "$swarm/seed" "$seeder" "$tor" "$dir/payload" "$sport" --ip 127.0.1.1 --ttl 7200 >&2
      seed_pid=$("$py" -c 'import json,sys; print(json.load(open(sys.argv[1]))["pid"])' "$dir/run/seed-$seeder-$sport.json")
    fi
    for rep in $(seq 1 "$reps"); do
      for l in ${leechers//,/ }; do
        run_no=$((run_no + 1))
        ip=127.0.1.$((10 + run_no % 240))
        port=$(free_port "$ip")
        out=$dir/dl/$l
        rm -rf "$out"
        mkdir -p "$out"
        sync
        sleep 1
        if [ "$l" = ferrent ] || [ "$l" = rqbit ]; then
          # Both exit once complete: wall = launch -> exit, CPU and RSS from GNU time.
          if [ "$l" = ferrent ]; then
            cmd=("$ferrent" download "$tor" -o "$out" --bind "$ip" --port "$port" --timeout 60s)
          else
            [ -n "$rqbit" ] || { echo "leecher rqbit needs --rqbit PATH|install" >&2; exit 2; }
            cmd=("$rqbit" "${rqbit_offline_flags[@]}" --listen-ip "$ip" --listen-port "$port"
                 download --disable-http-api -e -o "$out" "$tor")
          fi
          tv=$dir/results/.$l.time
          log=$dir/results/$l-$seeder-p${pk}k-rep$rep.log
          c0=$(cpu_of "$seed_pid")
          t0=$(date +%s.%N)
          rc=0
          /usr/bin/time -v -o "$tv" timeout -k 10 "$timeout" "${cmd[@]}" >"$log" 2>&1 || rc=$?
          t1=$(date +%s.%N)
          c1=$(cpu_of "$seed_pid")
          verify=-
          if [ "$rep" = 1 ] && [ "$rc" = 0 ]; then
            vrc=0
            "$swarm/verify" --quiet "$payload" "$out" >/dev/null 2>&1 || vrc=$?
            case $vrc in 0) verify=OK ;; 3) verify=OK-EMPTY-MISSING ;; *) verify=FAIL ;; esac
          fi
          "$py" - "$tv" "$t0" "$t1" "$rc" "$bytes" "$pk" "$rep" "$c0" "$c1" "$verify" "$log" "$seeder" "$l" >>"$jl" <<'EOF'
import json, sys
tv, t0, t1, rc, size, pk, rep, c0, c1, verify, log, seeder, client = sys.argv[1:]
d = {}
for line in open(tv):
    k, _, v = line.strip().partition(": ")
    d[k] = v
wall = float(t1) - float(t0)
ok = rc == "0" and verify != "FAIL"
print(json.dumps({"client": client, "seeder": seeder, "piece_kib": int(pk), "rep": int(rep), "ok": ok,
                  "wall_s": round(wall, 3), "MBps": round(int(size) / wall / 1e6, 1) if ok else None,
                  "xMBps": None,
                  "cpu_s": round(float(d.get("User time (seconds)", 0)) + float(d.get("System time (seconds)", 0)), 2),
                  "rss_MiB": round(int(d.get("Maximum resident set size (kbytes)", 0)) / 1024, 1),
                  "seed_cpu_s": round(float(c1) - float(c0), 2),
                  "verify": None if verify == "-" else verify,
                  "error": None if ok else "exit %s, see %s" % (rc, log)}))
EOF
        else
          tmpj=$dir/results/.leech.json
          rm -f "$tmpj"
          args=("$l" "$tor" "$out" --ip "$ip" --port "$port" --timeout "$timeout" --json "$tmpj" --cleanup
                --label "bench-download $seeder p${pk}k rep$rep")
          [ "$rep" = 1 ] && args+=(--verify "$payload")
          lrc=0
          c0=$(cpu_of "$seed_pid")
          "$swarm/leech" "${args[@]}" >"$dir/results/.leech.out" 2>&1 || lrc=$?
          c1=$(cpu_of "$seed_pid")
          # One JSON line per run, with the fields the table groups by.
          "$py" - "$tmpj" "$l" "$pk" "$rep" "$lrc" "$dir/results/.leech.out" "$seeder" "$c0" "$c1" >>"$jl" <<'EOF'
import json, sys
path, client, pk, rep, rc, out, seeder, c0, c1 = sys.argv[1:]
try:
    d = json.loads(open(path).read().strip().splitlines()[-1])
except (OSError, ValueError, IndexError):
    d = {"client": client, "ok": False, "error": "leech exit %s: %s" % (rc, open(out).read()[-300:])}
d["piece_kib"], d["rep"], d["seeder"] = int(pk), int(rep), seeder
if seeder == "ferrent" or d.get("seed_cpu_s") is None:
    # The harness knows only the seeders it started; ferrent's CPU comes from /proc.
    d["seed_cpu_s"] = round(float(c1) - float(c0), 2)
print(json.dumps(d))
EOF
        fi
        rm -rf "$out"
        tail -n 1 "$jl" | "$py" -c 'import json,sys; d=json.loads(sys.stdin.read())
print("  %-10s <- %-10s p%-5s rep %s  %s" % (d["client"], d["seeder"], d["piece_kib"], d["rep"],
      "wall %.2f s  %.0f MB/s  cpu %.2f s  rss %.0f MiB%s" % (d["wall_s"], d["MBps"], d["cpu_s"], d["rss_MiB"],
      "  verify " + d["verify"] if d.get("verify") else "") if d.get("ok") else "FAILED: %s" % d.get("error")))' >&2
      done
    done
    "$swarm/seed" stop all >/dev/null 2>&1 || true
    stop_ferrent_seed
  done
done
uptime_after=$(uptime)

"$py" - "$jl" "$size" "$reps" "$uptime_before" "$uptime_after" "$(nproc)" <<'EOF'
import json, statistics, sys
path, size, reps, up0, up1, ncpu = sys.argv[1:]
rows = [json.loads(l) for l in open(path) if l.strip()]
def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None
groups = {}
for r in rows:
    groups.setdefault((r.get("seeder", "libtorrent"), r["piece_kib"], r["client"]), []).append(r)
def fmt(v, f="%.2f"):
    return "-" if v is None else f % v
def ratio(v, base):
    return "-" if v is None or not base else "%.2fx" % (v / base)
print("# ferrent download benchmark: %s single file, one seeder (default settings), medians of %s" % (size, reps))
print()
print("| seeder | piece | leecher | ok | wall s | MB/s | CPU s | peak RSS MiB | seeder CPU s | wall / ferrent | MB/s / ferrent | CPU / ferrent | RSS / ferrent | verify |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
for sd, pk in sorted({k[:2] for k in groups}, key=lambda k: (k[0] != "libtorrent", k[0], -k[1])):
    base = groups.get((sd, pk, "ferrent"), [])
    bok = [r for r in base if r.get("ok")]
    b = {k: med([r.get(k) for r in bok]) for k in ("wall_s", "MBps", "cpu_s", "rss_MiB")}
    clients = sorted({k[2] for k in groups if k[:2] == (sd, pk)}, key=lambda c: (c != "ferrent", c))
    for c in clients:
        rs = groups[(sd, pk, c)]
        ok = [r for r in rs if r.get("ok")]
        m = {k: med([r.get(k) for r in ok]) for k in ("wall_s", "MBps", "cpu_s", "rss_MiB", "seed_cpu_s")}
        ver = next((r["verify"] for r in rs if r.get("verify")), "-")
        print("| %s | %d KiB | %s | %d/%d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            sd, pk, c, len(ok), len(rs), fmt(m["wall_s"]), fmt(m["MBps"], "%.0f"), fmt(m["cpu_s"]),
            fmt(m["rss_MiB"], "%.0f"), fmt(m["seed_cpu_s"]),
            ratio(m["wall_s"], b["wall_s"]), ratio(m["MBps"], b["MBps"]), ratio(m["cpu_s"], b["cpu_s"]),
            ratio(m["rss_MiB"], b["rss_MiB"]), ver))
print()
print("MB = 10^6 bytes. Ratios > 1 mean more than ferrent (slower wall, faster MB/s, more CPU/RSS).")
print("%s CPUs. uptime before: %s" % (ncpu, up0.strip()))
print("uptime after:  %s" % up1.strip())
print("raw runs: %s" % path)
EOF
