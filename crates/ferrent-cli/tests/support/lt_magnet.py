#!/usr/bin/python3
"""lt_magnet.py MAGNET SAVE_DIR IP TIMEOUT: a libtorrent leecher that starts from a magnet link
only (metadata from the peers named by x.pe, BEP 9). Loopback only; DHT, LSD, UPnP, NAT-PMP and
uTP off. Prints DONE <bytes> when complete (exit 0), FAIL <why> otherwise (exit 1)."""
import os, sys, time
import libtorrent as lt

magnet, save, ip, timeout = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
assert ip.startswith("127."), "loopback only"
ses = lt.session({
    "listen_interfaces": "%s:0" % ip, "outgoing_interfaces": ip,
    "enable_dht": False, "enable_lsd": False, "enable_upnp": False, "enable_natpmp": False,
    "enable_ip_notifier": False, "dht_bootstrap_nodes": "",
    "enable_incoming_utp": False, "enable_outgoing_utp": False,
    "allow_multiple_connections_per_ip": True,
    "out_enc_policy": int(lt.enc_policy.enabled), "in_enc_policy": int(lt.enc_policy.enabled),
    "prefer_rc4": False,
})
p = lt.parse_magnet_uri(magnet)
p.save_path = os.path.abspath(save)
p.flags = (p.flags | lt.torrent_flags.disable_dht | lt.torrent_flags.disable_lsd
           | lt.torrent_flags.disable_pex) & ~lt.torrent_flags.auto_managed & ~lt.torrent_flags.paused
os.makedirs(p.save_path, exist_ok=True)
h = ses.add_torrent(p)
t0 = time.time()
while time.time() - t0 < timeout:
    s = h.status()
    if s.has_metadata and s.is_seeding:
        print("DONE %d metadata=%s" % (s.total_wanted, h.torrent_file().name()))
        sys.exit(0)
    time.sleep(0.1)
s = h.status()
print("FAIL has_metadata=%s progress=%.3f peers=%d" % (s.has_metadata, s.progress, s.num_peers))
sys.exit(1)
