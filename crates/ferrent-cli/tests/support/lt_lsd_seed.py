#!/usr/bin/python3
"""lt_lsd_seed.py TORRENT DATA_DIR IP PORT TTL: a libtorrent seeder whose only way to be found is
Local Service Discovery (BEP 14): LSD on (announcing every 2 s), DHT, UPnP, NAT-PMP, uTP and PEX
off. For use inside a network namespace the test created (multicast on lo). Prints
{"ready": ...} once it has checked its data, then seeds for TTL seconds (or until killed)."""
import json, sys, time
import libtorrent as lt

torrent, data, ip, port, ttl = sys.argv[1:6]
ses = lt.session({
    "listen_interfaces": "%s:%s" % (ip, port), "outgoing_interfaces": ip,
    "enable_lsd": True, "local_service_announce_interval": 2,
    "enable_dht": False, "enable_upnp": False, "enable_natpmp": False,
    "enable_ip_notifier": False, "enable_incoming_utp": False, "enable_outgoing_utp": False,
    "allow_multiple_connections_per_ip": True,
    "out_enc_policy": int(lt.enc_policy.enabled), "in_enc_policy": int(lt.enc_policy.enabled),
})
p = lt.add_torrent_params()
p.ti = lt.torrent_info(torrent)
p.save_path = data
p.flags = (p.flags | lt.torrent_flags.disable_dht | lt.torrent_flags.disable_pex) \
    & ~lt.torrent_flags.auto_managed & ~lt.torrent_flags.paused & ~lt.torrent_flags.disable_lsd
h = ses.add_torrent(p)
t0 = time.time()
while not h.status().is_seeding and time.time() - t0 < 30:
    time.sleep(0.1)
print(json.dumps({"ready": h.status().is_seeding}), flush=True)
while time.time() - t0 < float(ttl):
    time.sleep(0.5)
    ses.pop_alerts()
ses.pause()
