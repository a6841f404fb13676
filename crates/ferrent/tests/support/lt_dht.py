#!/usr/bin/python3
"""A small DHT of libtorrent sessions on loopback, for ferrent's dht_libtorrent test.

  lt_dht.py --nodes 127.0.0.2:PORT,127.0.0.3:PORT,... --extra 127.0.0.1:PORT \
            --info-hash HEX --save-dir DIR [--ttl SECONDS]

Each session binds its own 127.0.0.X:PORT (TCP listen + the UDP socket the DHT uses), has DHT on
with every other session and the --extra nodes (ferrent) as bootstrap nodes, and LSD, UPnP,
NAT-PMP off. libtorrent's loopback/same-network filters are turned off
(dht_restrict_routing_ips, dht_restrict_search_ips, dht_prefer_verified_node_ids,
dht_enforce_node_id, dht_ignore_dark_internet). The first session adds --info-hash as a
magnet-style torrent, so it announces itself (its listen port) to the DHT every 3 s; with
--find, the second session runs get_peers for that info-hash every 2 s and reports the peers. Prints JSON lines: {"ready": ...} once, then
{"status": ...} every second. Exits after --ttl seconds or when stdin closes.
"""
import argparse
import json
import select
import sys
import time

import libtorrent as lt


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nodes", required=True)
    ap.add_argument("--extra", default="")
    ap.add_argument("--info-hash", required=True)
    ap.add_argument("--save-dir", required=True, help="download directory of the announced torrent (stays empty)")
    ap.add_argument("--find", help="info-hash (hex) the second session looks up with get_peers every 2 s")
    ap.add_argument("--ttl", type=float, default=60)
    a = ap.parse_args()
    nodes = [n for n in a.nodes.split(",") if n]
    extra = [n for n in a.extra.split(",") if n]
    for n in nodes + extra:
        if not n.startswith("127."):
            ap.error("loopback addresses only")
    sessions = []
    for i, n in enumerate(nodes):
        others = [m for m in nodes if m != n] + extra
        s = lt.session({
            "listen_interfaces": n,
            "outgoing_interfaces": n.split(":")[0],
            "enable_dht": True,
            "dht_bootstrap_nodes": ",".join(others),
            "enable_lsd": False,
            "enable_upnp": False,
            "enable_natpmp": False,
            "enable_ip_notifier": False,
            "dht_restrict_routing_ips": False,
            "dht_restrict_search_ips": False,
            "dht_prefer_verified_node_ids": False,
            "dht_enforce_node_id": False,
            "dht_ignore_dark_internet": False,
            "dht_announce_interval": 3,
            "alert_mask": int(lt.alert.category_t.dht_notification | lt.alert.category_t.dht_operation_notification
                              | lt.alert.category_t.error_notification),
        })
        sessions.append(s)
    ih = lt.sha1_hash(bytes.fromhex(a.info_hash))
    # The python binding of session.dht_announce takes a flags type it does not export, so the
    # first session announces the way a client does: it adds the torrent (info-hash only, like a
    # magnet link), and libtorrent announces it to the DHT on its own listen port every
    # dht_announce_interval seconds.
    p = lt.add_torrent_params()
    p.info_hashes = lt.info_hash_t(ih)
    p.save_path = a.save_dir
    p.flags = (p.flags | lt.torrent_flags.disable_lsd | lt.torrent_flags.disable_pex) \
        & ~lt.torrent_flags.auto_managed & ~lt.torrent_flags.paused & ~lt.torrent_flags.disable_dht
    sessions[0].add_torrent(p)
    print(json.dumps({"ready": nodes}), flush=True)
    t0 = time.time()
    incoming_announces = 0
    find = lt.sha1_hash(bytes.fromhex(a.find)) if a.find else None
    last_find = 0.0
    found = set()
    while time.time() - t0 < a.ttl:
        r, _, _ = select.select([sys.stdin], [], [], 1.0)
        if r and not sys.stdin.readline():
            break
        now = time.time()
        if find is not None and len(sessions) > 1 and now - last_find >= 2:
            sessions[1].dht_get_peers(find)
            last_find = now
        live = []
        for s in sessions:
            n = 0
            for phase in (0, 1):
                # Phase 0 drains earlier alerts and asks for stats; phase 1 reads the stats.
                for al in s.pop_alerts():
                    if isinstance(al, lt.dht_stats_alert):
                        n = sum(b["num_nodes"] for b in al.routing_table)
                    elif isinstance(al, lt.dht_announce_alert):
                        incoming_announces += 1
                    elif isinstance(al, lt.dht_get_peers_reply_alert):
                        found.update("%s:%d" % (ip, port) for ip, port in al.peers())
                    elif isinstance(al, (lt.listen_failed_alert, lt.torrent_error_alert)):
                        print(json.dumps({"error": al.message()}), flush=True)
                if phase == 0:
                    s.post_dht_stats()
                    time.sleep(0.02)
            live.append(n)
        print(json.dumps({"status": {"routing_nodes": live, "incoming_announces": incoming_announces,
                                     "found": sorted(found),
                                     "t": round(now - t0, 1)}}), flush=True)
    for s in sessions:
        s.pause()


if __name__ == "__main__":
    main()
