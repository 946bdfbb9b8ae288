"""Control node benchmark: N simulated agents (100 -> 1,000 -> 2,000) on one control node.

The control node runs as its own process (uvloop, static config: one routing
instance per group of agents, each importing/exporting its own target); the
agents run in worker processes. Each agent subscribes to its group's instance
and publishes one inet and one EVPN route. Then, at a fixed rate, random agents
publish new routes; every other agent of the group must receive each one.

Figures: RSS per session (control node RSS growth / N), control-node CPU while
idle and under the probe load, propagation delay p50/p99 (publish -> receipt by
another agent; CLOCK_MONOTONIC is shared by processes), and the ratio against
the original's ~0.78 MB per XMPP session.

    .venv/bin/python bench/bench_control.py --agents 100 1000 2000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ORIGINAL_MB_PER_SESSION = 0.78
TARGET_MB_PER_SESSION = 0.2


def _raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def instance(g: int) -> str:
    return f"default-domain:bench:vn{g}:vn{g}"


def agent_addr(i: int) -> str:
    return f"127.1.{i // 250}.{i % 250 + 1}"


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# ---- worker process: a slice of the agents ------------------------------------------


def worker(conn, port: int, indices: list[int], group: int) -> None:
    _raise_nofile()
    import uvloop

    uvloop.run(_worker(conn, port, indices, group))


async def _worker(conn, port, indices, group):
    from filament.control.sim_agent import SimAgent
    from filament.wire.xmpp.model import NextHop, RouteEntry

    loop = asyncio.get_running_loop()
    agents = {}
    for k in range(0, len(indices), 50):
        batch = indices[k : k + 50]
        made = await asyncio.gather(*(SimAgent.connect("127.0.0.1", port, f"compute-{i}", local_addr=agent_addr(i)) for i in batch))
        agents.update(zip(batch, made))
    for i, a in agents.items():
        g = i // group
        a.subscribe(instance(g), 1)
        nh = agent_addr(i)
        a.publish(instance(g), RouteEntry(1, 1, address=f"10.{g // 250}.{g % 250}.{i % group + 1}/32",
                                          next_hops=(NextHop(nh, label=16 + i % 1000, encap=("gre", "udp")),), local_pref=200, sub_protocol="interface"))
        a.publish(instance(g), RouteEntry(25, 242, mac=f"02:00:00:00:{i // 256 % 256:02x}:{i % 256:02x}", address=f"10.{g // 250}.{g % 250}.{i % group + 1}/32",
                                          next_hops=(NextHop(nh, label=5000 + g, encap=("vxlan",)),), local_pref=200))
        a.end_of_rib()

    def group_size(g):
        return min(group, N_TOTAL - g * group)

    N_TOTAL = conn.recv()
    for i, a in agents.items():
        g = i // group
        await a.wait_for(lambda x, g=g: len(x.table("inet", instance(g))) >= group_size(g), timeout=120)
    conn.send("ready")
    plan = await loop.run_in_executor(None, conn.recv)  # [(at, agent index, prefix)]
    start = time.monotonic()
    published = {}
    for at, i, prefix in plan:
        if i not in agents:
            continue
        delay = start + at - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        a = agents[i]
        g = i // group
        published[prefix] = time.monotonic()
        a.publish(instance(g), RouteEntry(1, 1, address=prefix, next_hops=(NextHop(agent_addr(i), label=99, encap=("gre",)),), local_pref=200))
    await loop.run_in_executor(None, conn.recv)  # "collect"
    received = []
    prefixes = {p for _, _, p in plan}
    for i, a in agents.items():
        for ident, t in a.first_received_at.items():
            if ident in prefixes:
                received.append((ident, i, t))
    conn.send({"published": published, "received": received})
    for a in agents.values():
        a.close()


# ---- one run ------------------------------------------------------------------------


def run(n: int, group: int, workers: int, rate: float, seconds: float) -> dict:
    groups = (n + group - 1) // group
    cfg = {"instances": [{"name": instance(g), "import": [f"target:64512:{g + 1}"], "export": [f"target:64512:{g + 1}"],
                          "virtual_network": instance(g).rsplit(":", 1)[0], "vn_index": g + 1} for g in range(groups)]}
    tmp = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)
    json.dump(cfg, tmp)
    tmp.close()
    ctl = subprocess.Popen(
        [sys.executable, "-m", "filament.control", "--config-file", tmp.name, "--host", "127.0.0.1", "--xmpp-port", "0",
         "--introspect-port", "0", "--uvloop", "--log-level", "WARNING", "--router-id", "127.0.0.1"],
        cwd=ROOT, stdout=subprocess.PIPE, text=True, preexec_fn=_raise_nofile,
    )
    try:
        line = ctl.stdout.readline()
        port = int(line.split("xmpp=")[1].split()[0])
        time.sleep(0.5)
        base_rss = rss_kb(ctl.pid)
        idx = list(range(n))
        slices = [idx[k::workers] for k in range(workers)]
        pipes, procs = [], []
        t0 = time.monotonic()
        ctx = mp.get_context("spawn")
        for s in slices:
            parent, child = ctx.Pipe()
            p = ctx.Process(target=worker, args=(child, port, s, group), daemon=True)
            p.start()
            parent.send(n)
            pipes.append(parent)
            procs.append(p)
        for pp in pipes:
            assert pp.recv() == "ready"
        converge = time.monotonic() - t0
        time.sleep(1.0)
        rss = rss_kb(ctl.pid)
        c0, w0 = cpu_seconds(ctl.pid), time.monotonic()
        time.sleep(3.0)
        idle_cpu = (cpu_seconds(ctl.pid) - c0) / (time.monotonic() - w0) * 100
        rng = random.Random(1)
        count = int(rate * seconds)
        plan = [(k / rate, rng.randrange(n), f"172.{16 + k // 65536}.{k // 256 % 256}.{k % 256}/32") for k in range(count)]
        c0, w0 = cpu_seconds(ctl.pid), time.monotonic()
        for pp in pipes:
            pp.send(plan)
        time.sleep(seconds + 1.0)
        load_cpu = (cpu_seconds(ctl.pid) - c0) / (time.monotonic() - w0) * 100
        for pp in pipes:
            pp.send("collect")
        published, received = {}, []
        for pp in pipes:
            r = pp.recv()
            published.update(r["published"])
            received += r["received"]
        for p in procs:
            p.join(10)
        owner = {p: i for _, i, p in plan}
        delays = [(t - published[p]) * 1000 for p, i, t in received if p in published and i != owner[p]]
        expected = sum(min(group, n - (owner[p] // group) * group) - 1 for p in published)
        delays.sort()
        if os.environ.get("BENCH_DEBUG"):
            slow = sorted(((t - published[p]) * 1000, p, i, owner[p]) for p, i, t in received if p in published and i != owner[p])[-5:]
            print("slowest:", slow, file=sys.stderr)
        q = lambda f: delays[min(len(delays) - 1, int(f * len(delays)))] if delays else float("nan")  # noqa: E731
        per_session_mb = (rss - base_rss) / 1024 / n
        return {
            "agents": n, "converge_s": converge, "rss_mb": rss / 1024, "base_rss_mb": base_rss / 1024,
            "mb_per_session": per_session_mb, "idle_cpu_pct": idle_cpu, "load_cpu_pct": load_cpu, "rate": rate,
            "p50_ms": q(0.5), "p99_ms": q(0.99), "max_ms": delays[-1] if delays else float("nan"),
            "received": len(delays), "expected": expected,
        }
    finally:
        ctl.terminate()
        try:
            ctl.wait(10)
        except subprocess.TimeoutExpired:
            ctl.kill()
        os.unlink(tmp.name)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--agents", type=int, nargs="+", default=[100, 1000, 2000])
    ap.add_argument("--group", type=int, default=10, help="agents per routing instance")
    ap.add_argument("--workers", type=int, default=4, help="agent worker processes")
    ap.add_argument("--rate", type=float, default=50.0, help="probe publishes per second")
    ap.add_argument("--seconds", type=float, default=10.0, help="probe duration")
    args = ap.parse_args()
    _raise_nofile()
    print(f"{'agents':>6} {'converge':>9} {'RSS MB':>7} {'MB/sess':>8} {'vs orig':>8} {'idle CPU':>8} {'load CPU':>8} "
          f"{'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} {'recv/exp':>11}")
    for n in args.agents:
        r = run(n, args.group, args.workers, args.rate, args.seconds)
        ratio = ORIGINAL_MB_PER_SESSION / r["mb_per_session"] if r["mb_per_session"] > 0 else float("inf")
        print(f"{r['agents']:>6} {r['converge_s']:>8.1f}s {r['rss_mb']:>7.1f} {r['mb_per_session']:>8.3f} {ratio:>7.1f}x "
              f"{r['idle_cpu_pct']:>7.1f}% {r['load_cpu_pct']:>7.1f}% {r['p50_ms']:>7.2f} {r['p99_ms']:>7.2f} {r['max_ms']:>7.2f} "
              f"{r['received']:>5}/{r['expected']:<5}", flush=True)
    print(f"targets: <= {TARGET_MB_PER_SESSION} MB/session (original ~{ORIGINAL_MB_PER_SESSION} MB/session), "
          f"p99 < 50 ms, 2,000 agents on 2 cores; 'vs orig' = original MB/session / ours; "
          f"load = {args.rate:.0f} publishes/s, each fanned out to the {args.group - 1} other agents of its instance")


if __name__ == "__main__":
    main()
