# Sourced by the bench scripts (not run): resolves the rqbit binary when a bench is asked to
# compare with rqbit. `--rqbit PATH` uses that binary; `--rqbit install` builds rqbit 9.1.0 with
# `cargo install --locked` into $FERRENT_BENCH_CACHE/rqbit (default ~/.cache/ferrent-bench/rqbit)
# once, about 8 minutes on 2 cores, and reuses it afterwards.

# Prints the path of the rqbit binary for the `--rqbit` argument $1, installing it if asked.
resolve_rqbit() {
  local want=$1
  local cache=${FERRENT_BENCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ferrent-bench}/rqbit
  if [ "$want" = install ]; then
    if [ ! -x "$cache/bin/rqbit" ]; then
      echo "== installing rqbit 9.1.0 into $cache (about 8 minutes)" >&2
      cargo install rqbit --version 9.1.0 --locked --root "$cache" >&2
    fi
    want=$cache/bin/rqbit
  fi
  [ -x "$want" ] || { echo "no rqbit binary at $want" >&2; return 2; }
  echo "$want"
}

# rqbit's global flags for a loopback-only run: no DHT (nor its saved state), no LSD, no UPnP.
rqbit_offline_flags=(--disable-dht --disable-dht-persistence --disable-lsd --disable-upnp-port-forward)
