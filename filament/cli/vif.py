"""`filament vif --list`: the vRouter interface table, in the original `vif` tool's format."""

from __future__ import annotations

from filament.cli import CliError

HEADER = """Vrouter Interface Table

Flags: P=Policy, X=Cross Connect, S=Service Chain, Mr=Receive Mirror
     Mt=Transmit Mirror, Tc=Transmit Checksum Offload, L3=Layer 3, L2=Layer 2
     D=DHCP, Vp=Vhost Physical, Pr=Promiscuous, Vnt=Native Vlan Tagged
     Mnp=No MAC Proxy, Dpdk=DPDK PMD Interface, Rfl=Receive Filtering Offload, Mon=Interface is Monitored
     Uuf=Unknown Unicast Flood
"""


def _ip_hex(ip: str) -> str:
    try:
        parts = [int(x) for x in ip.split(".")]
        return "".join(f"{p:02x}" for p in parts) if any(parts) else "0"
    except ValueError:
        return "0"


def format_vifs(interfaces: list[dict]) -> str:
    lines = [HEADER]
    for i in interfaces:
        st = i.get("stats") or {}
        lines.append(
            f"{'vif0/' + str(i['index']):<12}OS: {i['name']}\n"
            f"            Type:{i['type']} HWaddr:{i['hw_addr']} IPaddr:{_ip_hex(i['ip_addr'])}\n"
            f"            Vrf:{i['vrf']} Flags:{i['flags'] or '-'} MTU:{i['mtu']} Ref:1\n"
            f"            RX packets:{st.get('rx_packets', 0)}  bytes:{st.get('rx_bytes', 0)} errors:{st.get('rx_errors', 0)}\n"
            f"            TX packets:{st.get('tx_packets', 0)}  bytes:{st.get('tx_bytes', 0)} errors:{st.get('tx_errors', 0)}\n"
        )
    return "\n".join(lines)


def _run(args) -> int:
    import json
    import urllib.request

    if not args.list:
        raise CliError("nothing to do: use --list")
    req = urllib.request.Request(f"http://{args.agent}/Snh_ItfReq", headers={"Accept": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            data = json.load(r)
    except ValueError:
        raise CliError(f"agent introspect at {args.agent} did not answer JSON") from None
    except OSError as exc:
        raise CliError(f"cannot reach agent introspect at {args.agent}: {exc}") from None
    print(format_vifs(data.get("interfaces", [])))
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("vif", help="vRouter interface table (from the agent's introspect)")
    p.add_argument("--list", action="store_true", help="list interfaces")
    p.add_argument("--agent", default="127.0.0.1:8085", help="agent introspect host:port")
    p.set_defaults(handler=_run)
