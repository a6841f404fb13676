#!/usr/bin/python3
"""lt_pex_pair.py --torrent T --data DIR --a IP:PORT --b IP:PORT [--a-upload-limit B/s] [--ttl S]

Two libtorrent seeders of torrent T (data in DIR) on loopback, for a peer exchange test (BEP 11):
  A announces to T's tracker, has ut_pex on (libtorrent's default plugin) and an upload limit;
  B has no tracker and no PEX (so only A's PEX can name it: B never learns of anyone itself),
  and A connects to B. Both keep the seed-to-seed connection (close_redundant_connections off).
DHT, LSD, UPnP, NAT-PMP and uTP are off everywhere. Prints {"ready": ...} once both seed and
A is connected to B; then each line on stdin is answered with a JSON line of both seeders'
payload upload counters and peers; runs until --ttl or until stdin closes."""
import argparse, json, select, sys, time
import libtorrent as lt

ap = argparse.ArgumentParser()
ap.add_argument("--torrent", required=True)
ap.add_argument("--data", required=True)
ap.add_argument("--a", required=True)
ap.add_argument("--b", required=True)
ap.add_argument("--a-upload-limit", type=int, default=0)
ap.add_argument("--ttl", type=float, default=120)
a = ap.parse_args()
assert a.a.startswith("127.") and a.b.startswith("127."), "loopback only"


def session(addr, extra):
    s = {
        "listen_interfaces": addr, "outgoing_interfaces": addr.split(":")[0],
        "enable_dht": False, "enable_lsd": False, "enable_upnp": False, "enable_natpmp": False,
        "enable_ip_notifier": False, "dht_bootstrap_nodes": "",
        "enable_incoming_utp": False, "enable_outgoing_utp": False,
        "allow_multiple_connections_per_ip": True, "close_redundant_connections": False,
        "out_enc_policy": int(lt.enc_policy.enabled), "in_enc_policy": int(lt.enc_policy.enabled),
        "prefer_rc4": False, "min_announce_interval": 5, "unchoke_slots_limit": -1,
    }
    s.update(extra)
    return lt.session(s)


def add(ses, pex, trackers):
    p = lt.add_torrent_params()
    p.ti = lt.torrent_info(a.torrent)
    p.save_path = a.data
    flags = (p.flags | lt.torrent_flags.disable_dht | lt.torrent_flags.disable_lsd
             | lt.torrent_flags.paused) & ~lt.torrent_flags.auto_managed
    if not pex:
        flags |= lt.torrent_flags.disable_pex
    p.flags = flags
    h = ses.add_torrent(p)
    if not trackers:
        h.replace_trackers([])
    h.resume()
    return h


sa = session(a.a, {})
sb = session(a.b, {})
hb = add(sb, pex=False, trackers=False)
ha = add(sa, pex=True, trackers=True)
# A torrent's own limit also holds for loopback peers (session limits exempt local networks).
ha.set_upload_limit(a.a_upload_limit)
t0 = time.time()
while time.time() - t0 < 30 and not (ha.status().is_seeding and hb.status().is_seeding):
    time.sleep(0.1)
bip, bport = a.b.rsplit(":", 1)
ha.connect_peer((bip, int(bport)))
while time.time() - t0 < 30 and not any(
        p.ip[0] == bip and p.ip[1] == int(bport) for p in ha.get_peer_info()):
    time.sleep(0.1)
ready = ha.status().is_seeding and hb.status().is_seeding and ha.status().num_peers > 0
print(json.dumps({"ready": ready, "a_trackers": len(ha.trackers()),
                  "b_trackers": len(hb.trackers())}), flush=True)


def peers(h):
    return sorted("%s:%d" % (p.ip[0], p.ip[1]) for p in h.get_peer_info())


while time.time() - t0 < a.ttl:
    r, _, _ = select.select([sys.stdin], [], [], 1.0)
    if r:
        if not sys.stdin.readline():
            break
        sta, stb = ha.status(), hb.status()
        print(json.dumps({
            "a_uploaded": sta.total_payload_upload, "b_uploaded": stb.total_payload_upload,
            "a_peers": peers(ha), "b_peers": peers(hb),
        }), flush=True)
    sa.pop_alerts()
    sb.pop_alerts()
sa.pause()
sb.pause()
