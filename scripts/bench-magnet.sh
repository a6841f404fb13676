#!/usr/bin/env bash
# Magnet benchmark (not a test): a loopback DHT of NODES libtorrent sessions (127.0.8.1-NODES,
# node 1 seeds one SIZE file and announces it to the DHT; no tracker anywhere), then, in the same
# run and taking turns within each repetition:
#   (a) `ferrent download <magnet> --dht-bootstrap 127.0.8.2:PORT`,
#   (b) a libtorrent leecher joining the same DHT (bootstrap 127.0.8.2) with the same magnet;
# each timed from process launch to the metadata, to the first piece and to completion. Prints
# medians over --reps with ratios ferrent/libtorrent, and `uptime` before and after.
#
#   scripts/bench-magnet.sh [--size 128M] [--piece-kib 256] [--nodes 20] [--reps 3]
#                           [--ferrent BIN] [--dir DIR] [--timeout 180]
#
# How each time is taken (polled every 10 ms by scripts/bench_magnet.py):
# - metadata: ferrent prints "metadata received" on stdout (the line is timestamped as it is
#   read); libtorrent's status has_metadata.
# - first piece: ferrent writes sparse files, so the first verified piece is the moment the
#   output file's allocated blocks (st_blocks) become non-zero; libtorrent: the first
#   piece_finished_alert (a verified piece). Both are "first verified piece", which is one
#   piece's transfer and hash after the first payload byte; libtorrent's first payload byte
#   (status total_payload_download > 0) is printed as well for reference.
# - done: ferrent's process exit (it exits once every piece is verified, written and synced,
#   after its `stopped` announce: never flattering); libtorrent's status is_seeding.
# The libtorrent leecher runs with dht_announce_interval = 1 s (the DHT nodes use 3 s): with the
# default 15 min its first DHT lookup for a newly added magnet waits for the session's announce
# timer and it never finds the seeder within --timeout. ferrent does its lookup at once.
# Every leecher gets a fresh 127.0.9.X address and an empty directory; the first repetition is
# byte-verified. The DHT and seeder live for at most --timeout x 2 x reps + 60 s and are stopped
# at the end (also on Ctrl-C). Python is /usr/bin/python3 (Debian's, with libtorrent).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
swarm=${FERRENT_SWARM_DIR:-$(cd "$repo/.." && pwd)/shared/swarm}
size=128M
piece_kib=256
nodes=20
reps=3
ferrent=
dir=/tmp/ferrent-bench-magnet
timeout=180

. "$(dirname "$0")/bench-lib.sh"   # usage, free_port, cpu_of, need_swarm, ferrent_binary, stop_pid
while [ $# -gt 0 ]; do
  case $1 in
    --size) size=$2; shift 2 ;;
    --piece-kib) piece_kib=$2; shift 2 ;;
    --nodes) nodes=$2; shift 2 ;;
    --reps) reps=$2; shift 2 ;;
    --ferrent) ferrent=$2; shift 2 ;;
    --dir) dir=$2; shift 2 ;;
    --timeout) timeout=$2; shift 2 ;;
    -h|--help) usage 0 ;;
    *) echo "unknown argument: $1" >&2; usage 2 ;;
  esac
done
need_swarm mkpayload
ferrent_binary
mkdir -p "$dir"
payload=$("$swarm/mkpayload" "$dir/payload" "$size" | tail -1)
[ -f "$payload" ] || payload="$dir/payload/payload-$size"
tor="$dir/t-$size-$piece_kib.torrent"
[ -f "$tor" ] || "$swarm/mktorrent-py" "$payload" "$tor" --tracker http://127.0.0.1:1/announce \
  --piece-kib "$piece_kib" >&2
exec /usr/bin/python3 "$repo/scripts/bench_magnet.py" --ferrent "$ferrent" --torrent "$tor" \
  --payload "$payload" --nodes "$nodes" --reps "$reps" --dir "$dir" --timeout "$timeout" \
  --swarm "$swarm"
