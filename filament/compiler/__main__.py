"""Run the compiler as its own process: `python -m filament.compiler --api URL`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal

from filament.compiler.service import CompilerService


async def _main(args: argparse.Namespace) -> None:
    service = CompilerService(args.api, name=args.name, resync=args.resync)
    await service.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    print(f"filament: compiler {args.name} following {args.api}", flush=True)
    await stop.wait()
    await service.stop()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m filament.compiler",
                                description="Filament compiler (schema transformer)")
    p.add_argument("--api", default="http://127.0.0.1:8082", help="config API base URL")
    p.add_argument("--name", default="compiler", help="instance name in the applied barrier")
    p.add_argument("--resync", type=float, default=60.0, help="full resync period, seconds")
    p.add_argument("--log-level", default="INFO")
    args = p.parse_args(argv)
    logging.basicConfig(level=getattr(logging, args.log_level.upper(), logging.INFO),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(_main(args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
