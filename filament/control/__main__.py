"""Run the control node as its own process: python -m filament.control."""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import signal

from filament.control.node import ControlOptions
from filament.control.service import ControlNodeService


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m filament.control", description="Filament control node")
    ap.add_argument("--api", default="http://127.0.0.1:8082", help="config API URL ('' for static config)")
    ap.add_argument("--config-file", help="static config JSON instead of the config API")
    ap.add_argument("--host", default="0.0.0.0")
    ap.add_argument("--xmpp-port", type=int, default=5269)
    ap.add_argument("--introspect-port", type=int, default=8083)
    ap.add_argument("--bgp-port", type=int, default=179, help="BGP listen port (-1: do not listen)")
    ap.add_argument("--name", default="control")
    ap.add_argument("--router-id", default="0.0.0.0")
    ap.add_argument("--asn", type=int, default=64512)
    ap.add_argument("--hold-time", type=float, default=90.0)
    ap.add_argument("--gr-time", type=float, default=60.0, help="seconds a lost agent's paths stay stale (0: no GR)")
    ap.add_argument("--log-level", default="INFO")
    ap.add_argument("--uvloop", action="store_true", help="use uvloop")
    args = ap.parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    opts = ControlOptions(router_id=args.router_id, asn=args.asn, hold_time=args.hold_time,
                          gr_enable=args.gr_time > 0, gr_time=args.gr_time, stuck_timeout=args.hold_time)
    api = None if args.config_file else (args.api or None)

    async def run():
        svc = ControlNodeService(api, host=args.host, xmpp_port=args.xmpp_port, introspect_port=args.introspect_port,
                                 name=args.name, config_file=args.config_file, options=opts,
                                 bgp_port=None if args.bgp_port < 0 else args.bgp_port)
        await svc.start()
        print(f"ready xmpp={svc.xmpp_port} introspect={svc.introspect_port} bgp={svc.bgp_port}", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        await svc.stop()

    # routes are many small long-lived objects: a young-generation collection every 700
    # allocations cost ~15% of the per-route time in the reflection benchmark
    gc.set_threshold(10000, 50, 100)
    if args.uvloop:
        import uvloop

        uvloop.run(run())
    else:
        asyncio.run(run())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
