#!/usr/bin/python3
"""Driver of scripts/bench-magnet.sh (see its header for what is measured and how).

Also runs as the libtorrent leecher: bench_magnet.py --lt-leech MAGNET DIR IP BOOTSTRAP TIMEOUT
prints one JSON line {"meta": s, "first_byte": s, "first_piece": s, "done": s} (seconds since
its own start; null when not reached)."""
import argparse, json, os, shutil, signal, socket, statistics, subprocess, sys, threading, time

HERE = os.path.dirname(os.path.abspath(__file__))


def lt_leech(magnet, save, ip, bootstrap, timeout):
    t0 = time.time()
    import libtorrent as lt
    assert ip.startswith("127.") and bootstrap.startswith("127."), "loopback only"
    ses = lt.session({
        "listen_interfaces": "%s:0" % ip, "outgoing_interfaces": ip,
        "enable_dht": True, "dht_bootstrap_nodes": bootstrap,
        "enable_lsd": False, "enable_upnp": False, "enable_natpmp": False,
        "enable_ip_notifier": False, "enable_incoming_utp": False, "enable_outgoing_utp": False,
        "dht_restrict_routing_ips": False, "dht_restrict_search_ips": False,
        "dht_prefer_verified_node_ids": False, "dht_enforce_node_id": False,
        "dht_ignore_dark_internet": False, "dht_announce_interval": 1,
        "allow_multiple_connections_per_ip": True,
        "alert_mask": lt.alert_category.status | lt.alert_category.piece_progress,
    })
    p = lt.parse_magnet_uri(magnet)
    p.save_path = os.path.abspath(save)
    p.flags = (p.flags | lt.torrent_flags.disable_lsd | lt.torrent_flags.disable_pex) \
        & ~lt.torrent_flags.auto_managed & ~lt.torrent_flags.paused
    os.makedirs(p.save_path, exist_ok=True)
    h = ses.add_torrent(p)
    out = {"meta": None, "first_byte": None, "first_piece": None, "done": None}
    while time.time() - t0 < timeout:
        now = time.time() - t0
        for a in ses.pop_alerts():
            if isinstance(a, lt.piece_finished_alert) and out["first_piece"] is None:
                out["first_piece"] = now
        s = h.status()
        if s.has_metadata and out["meta"] is None:
            out["meta"] = now
        if s.total_payload_download > 0 and out["first_byte"] is None:
            out["first_byte"] = now
        if s.has_metadata and s.is_seeding:
            out["done"] = now
            break
        time.sleep(0.01)
    print(json.dumps(out), flush=True)
    ses.pause()


def free_port(ip):
    for port in range(20000, 60000, 7):
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u, \
                    socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
                u.bind((ip, port))
                t.bind((ip, port))
                return port
        except OSError:
            continue
    raise SystemExit("no free port on " + ip)


def allocated(path):
    """Bytes allocated to the payload file (not ferrent's resume file beside it)."""
    try:
        return os.stat(path).st_blocks * 512
    except OSError:
        return 0


def run_ferrent(a, magnet, out_dir, ip, bootstrap, payload_name):
    t0 = time.time()
    times = {"meta": None, "first_byte": None, "first_piece": None, "done": None}
    cmd = [a.ferrent, "download", magnet, "-o", out_dir, "--bind", ip, "--port", "0",
           "--dht-bootstrap", bootstrap, "--timeout", "%ds" % a.timeout]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = []

    def reader():
        for line in p.stdout:
            lines.append(line.rstrip())
            print("  %.3f ferrent: %s" % (time.time() - t0, line.rstrip()), file=sys.stderr)
            if "metadata received" in line and times["meta"] is None:
                times["meta"] = time.time() - t0

    th = threading.Thread(target=reader, daemon=True)
    th.start()
    while p.poll() is None:
        now = time.time() - t0
        if times["first_piece"] is None and allocated(os.path.join(out_dir, payload_name)) > 0:
            times["first_piece"] = now
        if now > a.timeout:
            p.kill()
            break
        time.sleep(0.01)
    p.wait()
    exited = time.time() - t0
    th.join(5)
    if p.returncode == 0:
        times["done"] = exited
    else:
        print("ferrent failed (%s): %s %s" % (p.returncode, " | ".join(lines[-3:]),
                                              p.stderr.read()[-500:]), file=sys.stderr)
    return times


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lt-leech", nargs=5)
    ap.add_argument("--ferrent"); ap.add_argument("--torrent"); ap.add_argument("--payload")
    ap.add_argument("--nodes", type=int, default=20); ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--dir"); ap.add_argument("--timeout", type=int, default=180)
    ap.add_argument("--swarm")
    a = ap.parse_args()
    if a.lt_leech:
        m, d, ip, boot, to = a.lt_leech
        return lt_leech(m, d, ip, boot, float(to))

    import libtorrent as lt
    info = lt.torrent_info(a.torrent)
    ih = str(info.info_hashes().v1)
    name = info.name()
    magnet = "magnet:?xt=urn:btih:%s&dn=%s" % (ih, name)
    port = free_port("127.0.8.1")
    nodes = ",".join("127.0.8.%d:%d" % (i, port) for i in range(1, a.nodes + 1))
    bootstrap = "127.0.8.2:%d" % port
    up_before = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    print("uptime before: " + up_before, file=sys.stderr)
    ttl = a.timeout * 2 * a.reps + 60
    dht = subprocess.Popen(["/usr/bin/python3", os.path.join(HERE, "..", "crates", "ferrent-cli",
                                                             "tests", "support", "lt_dht_seed.py"),
                            "--nodes", nodes, "--torrent", a.torrent,
                            "--data", os.path.dirname(a.payload), "--ttl", str(ttl)],
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    results = {"ferrent": [], "libtorrent": []}
    try:
        ready = dht.stdout.readline()
        if '"ready": true' not in ready:
            raise SystemExit("DHT seeder not ready: " + ready)
        # Let the seeder's first DHT announces spread over the nodes.
        time.sleep(8)
        ipn = 1
        for rep in range(a.reps):
            order = ["ferrent", "libtorrent"] if rep % 2 == 0 else ["libtorrent", "ferrent"]
            for who in order:
                ip = "127.0.9.%d" % (100 + ipn); ipn += 1
                out = os.path.join(a.dir, "dl-%s-%d" % (who, rep))
                shutil.rmtree(out, ignore_errors=True)
                os.makedirs(out)
                subprocess.run(["sync"])
                time.sleep(1)
                if who == "ferrent":
                    t = run_ferrent(a, magnet, out, ip, bootstrap, os.path.basename(a.payload))
                else:
                    r = subprocess.run(["/usr/bin/python3", os.path.abspath(__file__), "--lt-leech",
                                        magnet, out, ip, bootstrap, str(a.timeout)],
                                       capture_output=True, text=True, timeout=a.timeout + 30)
                    try:
                        t = json.loads(r.stdout.strip().splitlines()[-1])
                    except (ValueError, IndexError):
                        t = {"meta": None, "first_byte": None, "first_piece": None, "done": None}
                        print("libtorrent leecher failed: " + r.stderr[-500:], file=sys.stderr)
                if rep == 0 and t["done"] is not None:
                    v = subprocess.run([os.path.join(a.swarm, "verify"), a.payload,
                                        os.path.join(out, os.path.basename(a.payload))],
                                       capture_output=True, text=True)
                    t["verify"] = "OK" if v.returncode == 0 else "MISMATCH"
                print("rep %d %-10s %s" % (rep, who, json.dumps(t)), file=sys.stderr)
                results[who].append(t)
                shutil.rmtree(out, ignore_errors=True)
    finally:
        try:
            dht.stdin.close()
            dht.wait(20)
        except Exception:
            dht.kill()
            dht.wait()
    up_after = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()

    def med(who, key):
        v = [r[key] for r in results[who] if r.get(key) is not None]
        return (statistics.median(v), len(v)) if v else (None, 0)

    size = os.path.getsize(a.payload)
    print("\nmagnet benchmark: %d MiB, %d KiB pieces, DHT of %d libtorrent nodes on loopback, "
          "medians of %d runs (%d cores)" % (size >> 20, info.piece_length() >> 10, a.nodes,
                                             a.reps, os.cpu_count()))
    print("%-22s %12s %12s %16s" % ("time from launch to", "ferrent s", "libtorrent s",
                                    "ferrent/libtorrent"))
    for key, label in [("meta", "metadata"), ("first_piece", "first verified piece"),
                       ("done", "complete")]:
        f, nf = med("ferrent", key)
        l, nl = med("libtorrent", key)
        ratio = "%.2f" % (f / l) if f is not None and l else "-"
        fs = "%.2f" % f if f is not None else "-"
        ls = "%.2f" % l if l is not None else "-"
        print("%-22s %9s/%d %9s/%d %16s" % (label, fs, nf, ls, nl, ratio))
    lb, _ = med("libtorrent", "first_byte")
    if lb is not None:
        print("(libtorrent first payload byte: %.2f s)" % lb)
    verified = [r.get("verify") for w in results for r in results[w] if "verify" in r]
    print("verify (first run): %s" % (", ".join(verified) or "-"))
    print("uptime before: " + up_before)
    print("uptime after:  " + up_after)


if __name__ == "__main__":
    main()
