#!/usr/bin/python3
"""lt_dht_leech.py MAGNET SAVE_DIR IP BOOTSTRAP TIMEOUT: a libtorrent leecher that has only a
magnet link (no tracker, no x.pe) and a DHT bootstrapped from BOOTSTRAP (IP:PORT,... on
loopback), so the only way to find a peer is a DHT get_peers (BEP 5). It repeats its lookup
every 3 s. LSD, UPnP, NAT-PMP, uTP and PEX off; libtorrent's loopback filters for DHT routing
and search off. Prints DONE <bytes> peers=<IPs it was connected to> when complete (exit 0), FAIL <why> otherwise (exit 1)."""
import os, sys, time
import libtorrent as lt

magnet, save, ip, bootstrap, timeout = sys.argv[1:6]
timeout = float(timeout)
assert ip.startswith("127."), "loopback only"
assert all(n.startswith("127.") for n in bootstrap.split(",")), "loopback only"
ses = lt.session({
    "listen_interfaces": "%s:0" % ip, "outgoing_interfaces": ip,
    "enable_dht": True, "dht_bootstrap_nodes": bootstrap,
    "enable_lsd": False, "enable_upnp": False, "enable_natpmp": False,
    "enable_ip_notifier": False, "enable_incoming_utp": False, "enable_outgoing_utp": False,
    "dht_restrict_routing_ips": False, "dht_restrict_search_ips": False,
    "dht_prefer_verified_node_ids": False, "dht_enforce_node_id": False,
    "dht_ignore_dark_internet": False, "dht_announce_interval": 3,
    "allow_multiple_connections_per_ip": True,
    "out_enc_policy": int(lt.enc_policy.enabled), "in_enc_policy": int(lt.enc_policy.enabled),
    "prefer_rc4": False,
    "alert_mask": int(lt.alert.category_t.connect_notification
                      | lt.alert.category_t.peer_notification),
})
p = lt.parse_magnet_uri(magnet)
assert not p.trackers and not p.peers, "the magnet must name no tracker and no peer"
p.save_path = os.path.abspath(save)
p.flags = (p.flags | lt.torrent_flags.disable_lsd | lt.torrent_flags.disable_pex) \
    & ~lt.torrent_flags.auto_managed & ~lt.torrent_flags.paused & ~lt.torrent_flags.disable_dht
os.makedirs(p.save_path, exist_ok=True)
h = ses.add_torrent(p)
t0 = time.time()
seen = set()
while time.time() - t0 < timeout:
    seen.update(str(x.ip[0]) for x in h.get_peer_info())
    for al in ses.pop_alerts():
        ep = getattr(al, "endpoint", None) or getattr(al, "ip", None)
        if isinstance(ep, tuple) and ep:
            seen.add(str(ep[0]))
    s = h.status()
    if s.has_metadata and s.is_seeding:
        print("DONE %d peers=%s" % (s.total_wanted, sorted(seen)))
        sys.exit(0)
    time.sleep(0.1)
s = h.status()
print("FAIL has_metadata=%s progress=%.3f peers=%d dht_nodes=%d" % (
    s.has_metadata, s.progress, s.num_peers, ses.status().dht_nodes))
sys.exit(1)
