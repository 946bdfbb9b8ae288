"""``python -m filament.agent``: one vRouter agent process."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys

from filament.agent.service import AgentOptions, AgentService


def _hostport(s: str, default: int) -> tuple[str, int]:
    host, _, port = s.rpartition(":")
    return (host, int(port)) if host else (s, default)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m filament.agent")
    p.add_argument("--name", required=True, help="virtual-router name (its fq-name's last part)")
    p.add_argument("--vtep", required=True, help="underlay address published as next hop")
    p.add_argument("--underlay-dev", required=True)
    p.add_argument("--underlay-mtu", type=int, default=1500)
    p.add_argument("--control", action="append", default=[], help="control node host:port (once or twice)")
    p.add_argument("--xmpp-source", default=None, help="local address of the XMPP sessions")
    p.add_argument("--port-api", default="127.0.0.1:9091")
    p.add_argument("--introspect", default="127.0.0.1:8085")
    p.add_argument("--ports-dir", default="/var/lib/filament/ports")
    p.add_argument("--datapath", choices=("linux", "model"), default="linux")
    p.add_argument("--netns", default=None, help="program this netns (default: the one the agent runs in)")
    p.add_argument("--log-level", default="INFO")
    a = p.parse_args(argv)
    logging.basicConfig(level=a.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    def backend():
        if a.datapath == "model":
            from filament.datapath.model import ModelDatapath

            return ModelDatapath()
        from filament.datapath.linux import LinuxDatapath

        return LinuxDatapath(a.netns)

    if a.datapath == "linux" and a.netns and not os.path.exists(f"/run/netns/{a.netns}"):
        print(f"filament agent: error: network namespace {a.netns!r} does not exist (ip netns add {a.netns})",
              file=sys.stderr)
        return 1
    opts = AgentOptions(a.name, a.vtep, a.underlay_dev, a.underlay_mtu, [_hostport(c, 5269) for c in a.control],
                        a.xmpp_source, _hostport(a.port_api, 9091), _hostport(a.introspect, 8085), a.ports_dir)

    async def run() -> int:
        svc = AgentService(opts, backend)
        try:
            await svc.start()
        except OSError as exc:
            print(f"filament agent: error: {exc.strerror or exc}"
                  f"{' (' + exc.filename + ')' if getattr(exc, 'filename', None) else ''}", file=sys.stderr)
            await svc.stop()
            return 1
        print(f"agent {a.name}: port API on {opts.port_api[0]}:{svc.port_api_port}", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        await svc.stop()
        return 0

    return asyncio.run(run())


if __name__ == "__main__":
    raise SystemExit(main())
