"""`filament up`: the all-in-one controller on the embedded store, and `filament api`."""

from __future__ import annotations

import asyncio
import gc
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
    p.add_argument("--bgp-port", type=int, default=179,
                   help="control node BGP port (0: any free port)")
    p.add_argument("--only", default=None,
                   help="comma-separated roles to run besides the API (default: all)")
    g = p.add_argument_group("local vRouter agent (--with-agent)")
    g.add_argument("--with-agent", action="store_true",
                   help="also run a vRouter agent on this host, attached to the control node")
    g.add_argument("--agent-name", default=None, help="virtual-router name (default: hostname)")
    g.add_argument("--agent-vtep", default=None, help="underlay (VTEP) address of this host")
    g.add_argument("--agent-underlay-dev", default=None, help="underlay device")
    g.add_argument("--agent-underlay-mtu", type=int, default=1500)
    g.add_argument("--agent-netns", default=None,
                   help="network namespace whose datapath the agent programs (default: this one)")
    g.add_argument("--agent-datapath", choices=("linux", "model"), default="linux")
    g.add_argument("--port-api-port", type=int, default=9091, help="agent port API port")
    g.add_argument("--agent-introspect-port", type=int, default=8085)
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
                          "introspect_port": args.introspect_port, "bgp_port": args.bgp_port}
            role = getattr(mod, cls)(api.url, **kwargs)
            await role.start()
            started.append(role)
            log.info("%s started", name)
            if name == "control" and getattr(args, "with_agent", False):
                agent = _agent(args, role.xmpp_port)
                await agent.start()
                started.append(agent)
                log.info("agent started")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    print(f"filament: config API on {api.url} (data: {args.store or args.data_dir})", flush=True)
    await stop.wait()
    for role in reversed(started):
        await role.stop()


def _agent(args, xmpp_port: int):
    import socket

    from filament.agent.service import AgentOptions, AgentService
    if not args.agent_vtep or not args.agent_underlay_dev:
        raise CliError("--with-agent needs --agent-vtep and --agent-underlay-dev")
    opts = AgentOptions(
        name=args.agent_name or socket.gethostname(), vtep=args.agent_vtep,
        underlay_dev=args.agent_underlay_dev, underlay_mtu=args.agent_underlay_mtu,
        controls=[("127.0.0.1", xmpp_port)], port_api=("127.0.0.1", args.port_api_port),
        introspect=("127.0.0.1", args.agent_introspect_port),
        ports_dir=os.path.join(args.data_dir, "ports"))
    if args.agent_datapath == "model":
        from filament.datapath.model import ModelDatapath
        return AgentService(opts, lambda: ModelDatapath())
    from filament.datapath.linux import LinuxDatapath
    netns = args.agent_netns
    return AgentService(opts, lambda: LinuxDatapath(netns))


def run_up(args) -> int:
    _setup(args)
    gc.set_threshold(10000, 50, 100)  # many small long-lived objects (routes, config): see filament.control
    asyncio.run(_serve(args, with_roles=True))
    return 0


def run_api(args) -> int:
    _setup(args)
    asyncio.run(_serve(args, with_roles=False))
    return 0
