#!/usr/bin/env bash
# Times `ferrent create` against mktorrent and transmission-create on one payload, side by side.
#
#   scripts/bench-create.sh [--size 1G] [--piece-kib 1024] [--reps 3] [--scratch DIR]
#
# Makes (once, cached in the scratch dir) a deterministic payload with shared/swarm/mkpayload,
# builds ferrent in release mode, warms the page cache (cat > /dev/null), then runs each tool
# REPS times in turn on the same file with the same piece size (mktorrent with -t $(nproc)) and
# prints the median wall time, GB/s (10^9 bytes/s), each tool's time relative to ferrent
# (x 2.0 = twice as slow) and the median CPU time (user + sys). It also checks that ferrent and
# mktorrent produce the same v1 info-hash (libtorrent computes it). Other load on the machine
# skews wall times: the load average is printed before and after.
set -euo pipefail

size=1G
piece_kib=1024
reps=3
scratch="${TMPDIR:-/tmp}/ferrent-bench"
while [ $# -gt 0 ]; do
    case "$1" in
        --size) size="$2"; shift 2 ;;
        --piece-kib) piece_kib="$2"; shift 2 ;;
        --reps) reps="$2"; shift 2 ;;
        --scratch) scratch="$2"; shift 2 ;;
        -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
        *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
done

root="$(cd "$(dirname "$0")/.." && pwd)"
swarm="${FERRENT_SWARM_DIR:-$root/../shared/swarm}"
for tool in mktorrent transmission-create; do
    command -v "$tool" >/dev/null || { echo "$tool is missing (run $swarm/install)" >&2; exit 1; }
done
[ -x "$swarm/mkpayload" ] || { echo "$swarm/mkpayload is missing (set FERRENT_SWARM_DIR)" >&2; exit 1; }

# Piece size as mktorrent's exponent.
exp=0
while [ $((1 << exp)) -lt $((piece_kib * 1024)) ]; do exp=$((exp + 1)); done
[ $((1 << exp)) -eq $((piece_kib * 1024)) ] || { echo "--piece-kib must be a power of two" >&2; exit 2; }

echo "building ferrent (release)..." >&2
(cd "$root" && cargo build --release -q -p ferrent-cli)
target="${CARGO_TARGET_DIR:-$root/target}"
ferrent="$target/release/ferrent"

mkdir -p "$scratch/out"
payload="$("$swarm/mkpayload" "$scratch" "$size")"
bytes=$(stat -c %s "$payload")
echo "warming the page cache ($payload, $bytes bytes)..." >&2
cat "$payload" > /dev/null

run_tool() { # name -> runs the tool once, writing $scratch/out/name.torrent
    local out="$scratch/out/$1.torrent"
    rm -f "$out"
    case "$1" in
        ferrent) "$ferrent" create "$payload" -o "$out" -p "${piece_kib}K" --no-date >/dev/null ;;
        mktorrent) mktorrent -l "$exp" -t "$(nproc)" -o "$out" "$payload" >/dev/null ;;
        transmission-create) transmission-create -s "$piece_kib" -o "$out" "$payload" >/dev/null ;;
    esac
}

tools=(ferrent mktorrent transmission-create)
declare -A times cpus
tfile="$scratch/out/time.txt"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) cores)"
for ((r = 1; r <= reps; r++)); do
    for t in "${tools[@]}"; do   # interleaved, so load changes hit every tool alike
        start=$(date +%s.%N)
        /usr/bin/time -o "$tfile" -f "%U %S" bash -c "$(declare -f run_tool); $(declare -p scratch payload ferrent piece_kib exp); run_tool $t"
        end=$(date +%s.%N)
        times[$t]+="$(echo "$end - $start" | bc) "
        cpus[$t]+="$(awk '{print $1 + $2}' "$tfile") "
    done
done
echo "load after:  $(cut -d' ' -f1-3 /proc/loadavg)"

median() { tr ' ' '\n' | grep . | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
ref=$(echo "${times[ferrent]}" | median)
echo
echo "payload: $size ($bytes bytes), piece $piece_kib KiB, $reps reps, median wall time"
cref=$(echo "${cpus[ferrent]}" | median)
printf '| %-20s | %8s | %6s | %-10s | %8s | %-10s | %s\n' tool "wall s" GB/s "vs ferrent" "CPU s" "CPU vs fe" "all runs, wall s"
printf '|%s|%s|%s|%s|%s|%s|%s|\n' ---------------------- ---------- -------- ------------ ---------- ------------ -----
for t in "${tools[@]}"; do
    m=$(echo "${times[$t]}" | median)
    c=$(echo "${cpus[$t]}" | median)
    printf '| %-20s | %8.3f | %6.2f | x %-8.2f | %8.2f | x %-8.2f | %s|\n' "$t" "$m" \
        "$(echo "$bytes / $m / 1000000000" | bc -l)" "$(echo "$m / $ref" | bc -l)" \
        "$c" "$(echo "$c / $cref" | bc -l)" "${times[$t]}"
done
echo "(CPU s = user + sys of the tool; it depends far less on other load than wall time does)"

# Same data, same piece size, same info keys -> ferrent's and mktorrent's v1 info-hashes agree.
/usr/bin/python3 - "$scratch/out" "${tools[@]}" <<'PY' || echo "(info-hash cross-check skipped: python3-libtorrent missing)"
import sys, libtorrent as lt
d, tools = sys.argv[1], sys.argv[2:]
hs = {t: str(lt.torrent_info(f"{d}/{t}.torrent").info_hashes().v1) for t in tools}
for t, h in hs.items():
    print(f"v1 info-hash {t:20} {h}")
same = hs["ferrent"] == hs["mktorrent"]
print("ferrent and mktorrent info-hashes agree" if same else "ERROR: ferrent and mktorrent info-hashes differ")
print("(transmission-create adds `private: 0` to the info dictionary, so its hash differs)")
sys.exit(0 if same else 1)
PY
