#!/usr/bin/python3
"""lt_dht_seed.py --nodes IP:PORT,... [--torrent T --data DIR] [--ttl S]

A DHT of libtorrent sessions on loopback, the first of which seeds torrent T from DIR and
announces it to the DHT (every 3 s); without --torrent, just the DHT nodes. No tracker: the only way to find the seeder is the DHT.
Every session bootstraps from the others; LSD, UPnP, NAT-PMP, uTP off; libtorrent's loopback
filters for DHT routing and search are off. Prints {"ready": ...} once the seeder has checked
its data, then runs until --ttl or until stdin closes."""
import argparse, json, select, sys, time
import libtorrent as lt

ap = argparse.ArgumentParser()
ap.add_argument("--nodes", required=True)
ap.add_argument("--torrent")
ap.add_argument("--data")
ap.add_argument("--ttl", type=float, default=90)
a = ap.parse_args()
nodes = [n for n in a.nodes.split(",") if n]
assert all(n.startswith("127.") for n in nodes), "loopback only"
sessions = []
for n in nodes:
    others = [m for m in nodes if m != n]
    sessions.append(lt.session({
        "listen_interfaces": n, "outgoing_interfaces": n.split(":")[0],
        "enable_dht": True, "dht_bootstrap_nodes": ",".join(others),
        "enable_lsd": False, "enable_upnp": False, "enable_natpmp": False,
        "enable_ip_notifier": False, "enable_incoming_utp": False, "enable_outgoing_utp": False,
        "dht_restrict_routing_ips": False, "dht_restrict_search_ips": False,
        "dht_prefer_verified_node_ids": False, "dht_enforce_node_id": False,
        "dht_ignore_dark_internet": False, "dht_announce_interval": 3,
        "allow_multiple_connections_per_ip": True,
        "out_enc_policy": int(lt.enc_policy.enabled), "in_enc_policy": int(lt.enc_policy.enabled),
    }))
t0 = time.time()
if a.torrent:
    p = lt.add_torrent_params()
    p.ti = lt.torrent_info(a.torrent)
    p.save_path = a.data
    p.flags = (p.flags | lt.torrent_flags.disable_lsd | lt.torrent_flags.disable_pex) \
        & ~lt.torrent_flags.auto_managed & ~lt.torrent_flags.paused & ~lt.torrent_flags.disable_dht
    h = sessions[0].add_torrent(p)
    while not h.status().is_seeding and time.time() - t0 < 30:
        time.sleep(0.1)
    print(json.dumps({"ready": h.status().is_seeding}), flush=True)
else:
    print(json.dumps({"ready": True}), flush=True)
while time.time() - t0 < a.ttl:
    r, _, _ = select.select([sys.stdin], [], [], 1.0)
    if r and not sys.stdin.readline():
        break
    for s in sessions:
        s.pop_alerts()
for s in sessions:
    s.pause()
