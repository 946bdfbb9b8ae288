"""Port creation through the config API vs the same inserts straight into SQLite.

A port is what Nova/CNI create: a virtual-machine-interface then an instance-ip
(address allocated by the server). The benchmark starts a real `filament api`
process on the embedded SQLite store, creates ports at concurrency 1, 8 and 32
from an aiohttp client, and prints object creates/s and request latency p50/p99.
The floor is the same number of objects written straight into SQLite (WAL, one
transaction per object, same body sizes) in this process.

    .venv/bin/python bench/bench_config_api.py [--ports 1500]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid as uuidlib

import aiohttp
import orjson

P = ["default-domain", "default-project"]
HDR = {"Content-Type": "application/json"}


def start_server(data_dir: str) -> tuple[subprocess.Popen, str]:
    log_path = os.path.join(data_dir, "api.log")
    with open(log_path, "wb") as log:      # a file, not a pipe nobody drains
        proc = subprocess.Popen([sys.executable, "-m", "filament", "api", "--listen",
                                 "127.0.0.1", "--api-port", "0", "--data-dir", data_dir,
                                 "--log-level", "WARNING"], stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with open(log_path, "rb") as f:
            m = re.search(r"config API on (http://[\d.]+:\d+)", f.read().decode(errors="replace"))
        if m:
            return proc, m.group(1)
        if proc.poll() is not None:
            break
        time.sleep(0.02)
    proc.kill()
    raise SystemExit("server did not start")


async def post(sess, url, body) -> tuple[dict, float]:
    t0 = time.perf_counter()
    async with sess.post(url, data=orjson.dumps(body), headers=HDR) as r:
        data = await r.read()
        if r.status != 200:
            raise SystemExit(f"{url}: {r.status} {data[:200]!r}")
    return orjson.loads(data), time.perf_counter() - t0


async def run_level(base: str, vn_uuid: str, conc: int, ports: int, tag: str) -> dict:
    lat: list[float] = []
    counter = iter(range(ports))
    conn = aiohttp.TCPConnector(limit=conc)
    async with aiohttp.ClientSession(connector=conn) as sess:
        async def worker():
            for i in counter:
                name = f"{tag}-{i}"
                vmi, dt1 = await post(sess, f"{base}/virtual-machine-interfaces", {
                    "virtual-machine-interface": {
                        "fq_name": P + [name], "parent_type": "project",
                        "virtual_network_refs": [{"uuid": vn_uuid, "to": P + ["bench-vn"]}]}})
                _, dt2 = await post(sess, f"{base}/instance-ips", {"instance-ip": {
                    "fq_name": [name], "virtual_network_refs": [{"uuid": vn_uuid}],
                    "virtual_machine_interface_refs": [
                        {"uuid": vmi["virtual-machine-interface"]["uuid"]}]}})
                lat.extend((dt1, dt2))
        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(conc)))
        elapsed = time.perf_counter() - t0
    lat.sort()
    return {"conc": conc, "objects": 2 * ports, "seconds": elapsed,
            "rate": 2 * ports / elapsed, "p50": statistics.median(lat) * 1000,
            "p99": lat[int(len(lat) * 0.99) - 1] * 1000}


def sqlite_floor(data_dir: str, objects: int, body_size: int) -> float:
    """Objects/s for one-row-per-transaction inserts into SQLite (WAL, NORMAL)."""
    db = sqlite3.connect(os.path.join(data_dir, "floor.db"), isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("CREATE TABLE objects (uuid TEXT PRIMARY KEY, type TEXT, mod_rev INTEGER, "
               "body BLOB)")
    body = b"x" * body_size
    t0 = time.perf_counter()
    for i in range(objects):
        db.execute("BEGIN IMMEDIATE")
        db.execute("INSERT INTO objects VALUES (?, ?, ?, ?)",
                   (str(uuidlib.uuid4()), "instance-ip", i, body))
        db.execute("COMMIT")
    elapsed = time.perf_counter() - t0
    db.close()
    return objects / elapsed


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ports", type=int, default=1500, help="ports per concurrency level")
    ap.add_argument("--levels", default="1,8,32")
    args = ap.parse_args()
    data_dir = tempfile.mkdtemp(prefix="filament-bench-")
    proc, base = start_server(data_dir)
    try:
        async with aiohttp.ClientSession() as sess:
            vn, _ = await post(sess, f"{base}/virtual-networks", {"virtual-network": {
                "fq_name": P + ["bench-vn"], "parent_type": "project",
                "network_ipam_refs": [{"to": P + ["default-network-ipam"], "attr": {
                    "ipam_subnets": [{"subnet": {"ip_prefix": "10.128.0.0",
                                                 "ip_prefix_len": 12}}]}}]}})
        vn_uuid = vn["virtual-network"]["uuid"]
        db = sqlite3.connect(os.path.join(data_dir, "config.db"))
        results = []
        for n, conc in enumerate(int(c) for c in args.levels.split(",")):
            results.append(await run_level(base, vn_uuid, conc, args.ports, f"p{n}"))
        avg_body = db.execute("SELECT avg(length(body)) FROM objects WHERE type IN "
                              "('instance-ip', 'virtual-machine-interface')").fetchone()[0]
        db.close()
    finally:
        proc.terminate()
        proc.wait(10)
    floor = sqlite_floor(data_dir, 2 * args.ports, int(avg_body))
    shutil.rmtree(data_dir, ignore_errors=True)
    print(f"port creation (virtual-machine-interface + instance-ip), {args.ports} ports per level,"
          f" 2 cores")
    print(f"{'concurrency':>11} {'creates/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'vs sqlite floor':>16}")
    for r in results:
        print(f"{r['conc']:>11} {r['rate']:>10.0f} {r['p50']:>8.2f} {r['p99']:>8.2f} "
              f"{r['rate'] / floor:>15.3f}x")
    print(f"sqlite floor (same {2 * args.ports} objects, {int(avg_body)} B each, one txn per "
          f"object, WAL): {floor:.0f} inserts/s")
    print("target: >= 2000 creates/s and p99 < 20 ms at concurrency 8; "
          "the original's design target is 80-100 requests/s")


if __name__ == "__main__":
    asyncio.run(main())
