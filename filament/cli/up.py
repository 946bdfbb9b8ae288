"""`filament up`: the all-in-one controller on the embedded store, and `filament api`."""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
import signal

from filament.cli import CliError

log = logging.getLogger("filament.up")

# Roles `filament up` runs beside the config API, if their package provides them.
ROLES = [
    ("compiler", "filament.compiler.service", "CompilerService"),
    ("control", "filament.control.service", "ControlNodeService"),
]


def register(sub) -> None:
    p = sub.add_parser("up", help="run the all-in-one controller (config API, compiler, "
                                  "control node) on the embedded store")
    _api_args(p)
    p.add_argument("--xmpp-port", type=int, default=5269, help="control node XMPP port")
    p.add_argument("--introspect-port", type=int, default=8083,
                   help="control node introspect port")
    p.add_argument("--only", default=None,
                   help="comma-separated roles to run besides the API (default: all)")
    p.set_defaults(handler=run_up)
    a = sub.add_parser("api", help="run the config API role alone")
    _api_args(a)
    a.set_defaults(handler=run_api)


def _api_args(p) -> None:
    p.add_argument("--listen", default="0.0.0.0", help="address to listen on")
    p.add_argument("--api-port", type=int, default=8082, help="config API port")
    p.add_argument("--data-dir", default=os.environ.get("FILAMENT_DATA_DIR", "/var/lib/filament"),
                   help="where the embedded store lives")
    p.add_argument("--store", default=None,
                   help="store URL: sqlite:<path> (default <data-dir>/config.db) or memory:")
    p.add_argument("--durable", action="store_true",
                   help="fsync every commit (survives power loss, slower)")
    p.add_argument("--log-level", default="INFO")


def _setup(args) -> None:
    logging.basicConfig(level=getattr(logging, str(args.log_level).upper(), logging.INFO),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # No uvloop: with aiohttp 3.14 its writelines path made the API 2.5x slower
    # (bench/bench_config_api.py: 1184 vs 3024 creates/s at concurrency 8).


def _api_options(args):
    from filament.config.server import ApiOptions
    store = args.store or f"sqlite:{os.path.join(args.data_dir, 'config.db')}"
    return ApiOptions(host=args.listen, port=args.api_port, store=store, durable=args.durable)


async def _serve(args, with_roles: bool) -> None:
    from filament.config.server import ConfigApiServer
    api = ConfigApiServer(_api_options(args))
    try:
        await api.start()
    except OSError as exc:
        raise CliError(f"cannot listen on {args.listen}:{args.api_port}: {exc.strerror}") \
            from None
    started = [api]
    wanted = set(args.only.split(",")) if getattr(args, "only", None) else None
    if with_roles:
        for name, module, cls in ROLES:
            if wanted is not None and name not in wanted:
                continue
            try:
                mod = importlib.import_module(module)
            except ImportError:
                continue
            kwargs = {}
            if name == "control":
                kwargs = {"host": args.listen, "xmpp_port": args.xmpp_port,
                          "introspect_port": args.introspect_port}
            role = getattr(mod, cls)(api.url, **kwargs)
            await role.start()
            started.append(role)
            log.info("%s started", name)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    print(f"filament: config API on {api.url} (data: {args.store or args.data_dir})", flush=True)
    await stop.wait()
    for role in reversed(started):
        await role.stop()


def run_up(args) -> int:
    _setup(args)
    asyncio.run(_serve(args, with_roles=True))
    return 0


def run_api(args) -> int:
    _setup(args)
    asyncio.run(_serve(args, with_roles=False))
    return 0
