"""Validators compiled from the schema: one closure per field, cached per type.

A validator takes a JSON value and returns the value to store (normalised: numeric
strings become integers, subnet prefixes become network addresses), or raises
`SchemaError` naming the dotted path of the offending member.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from typing import Any

from filament.schema import Field, Schema

Validator = Callable[[Any, str], Any]

_MAC = re.compile(r"^[0-9a-fA-F]{2}([:-][0-9a-fA-F]{2}){5}$")
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


class SchemaError(ValueError):
    """A value does not fit the schema; `path` names the field."""

    def __init__(self, path: str, message: str):
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


def _type_name(v: Any) -> str:
    return {bool: "boolean", int: "integer", float: "number", str: "string",
            list: "list", dict: "object"}.get(type(v), type(v).__name__)


def _v_string(v: Any, path: str) -> Any:
    if isinstance(v, str):
        return v
    raise SchemaError(path, f"expected a string, got {_type_name(v)} {v!r}")


def _v_integer(v: Any, path: str) -> Any:
    if isinstance(v, int) and not isinstance(v, bool):
        return v
    if isinstance(v, str):
        try:
            return int(v.strip(), 0) if v.strip().lower().startswith("0x") else int(v)
        except ValueError:
            pass
    raise SchemaError(path, f"expected an integer, got {_type_name(v)} {v!r}")


def _v_boolean(v: Any, path: str) -> Any:
    if isinstance(v, bool):
        return v
    raise SchemaError(path, f"expected true or false, got {_type_name(v)} {v!r}")


def _v_number(v: Any, path: str) -> Any:
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return v
    raise SchemaError(path, f"expected a number, got {_type_name(v)} {v!r}")


def _v_any(v: Any, path: str) -> Any:
    return v


_SCALAR_VALIDATORS: dict[str, Validator] = {
    "string": _v_string, "datetime": _v_string, "integer": _v_integer,
    "boolean": _v_boolean, "number": _v_number, "any": _v_any,
}


def _v_ip(v: str, path: str) -> str:
    if v == "":
        return v
    try:
        ipaddress.ip_address(v)
    except ValueError:
        raise SchemaError(path, f"{v!r} is not a valid IP address") from None
    return v


def _v_mac(v: str, path: str) -> str:
    if not _MAC.match(v):
        raise SchemaError(path, f"{v!r} is not a valid MAC address")
    return v.replace("-", ":").lower()


def _v_uuid(v: str, path: str) -> str:
    if not _UUID.match(v.lower()):
        raise SchemaError(path, f"{v!r} is not a valid UUID")
    return v.lower()


_FORMATS = {"ip": _v_ip, "mac": _v_mac, "uuid": _v_uuid}


def normalize_subnet(value: dict, path: str) -> dict:
    """SubnetType: check prefix and length together, store the network address."""
    prefix, plen = value.get("ip_prefix"), value.get("ip_prefix_len")
    if prefix is None:
        return value
    try:
        net = ipaddress.ip_network(f"{prefix}/{plen if plen is not None else ''}".rstrip("/"),
                                   strict=False)
    except ValueError:
        raise SchemaError(path, f"{prefix}/{plen} is not a valid CIDR") from None
    if plen is None:
        return value
    out = dict(value)
    out["ip_prefix"] = str(net.network_address)
    return out


# Complex types whose members must agree with each other.
_POST_CHECKS: dict[str, Callable[[dict, str], dict]] = {"SubnetType": normalize_subnet}


class ValidatorFactory:
    """Builds and caches validators for the fields and complex types of a schema."""

    def __init__(self, schema: Schema):
        self.schema = schema
        self._complex: dict[str, Validator] = {}

    def complex(self, type_name: str) -> Validator:
        v = self._complex.get(type_name)
        if v is None:
            v = self._build_complex(type_name)
        return v

    def _build_complex(self, type_name: str) -> Validator:
        members = self.schema.complex_types.get(type_name)
        if members is None:
            self._complex[type_name] = _v_any
            return _v_any
        table: dict[str, Validator] = {}
        post = _POST_CHECKS.get(type_name)

        def validate(v: Any, path: str) -> Any:
            if not isinstance(v, dict):
                raise SchemaError(path, f"expected an object ({type_name}), got {_type_name(v)}")
            out = {}
            for k, item in v.items():
                fv = table.get(k)
                if fv is None:
                    raise SchemaError(f"{path}.{k}" if path else k,
                                      f"unknown member of {type_name}")
                out[k] = None if item is None else fv(item, f"{path}.{k}" if path else k)
            return post(out, path) if post else out

        # Registered before members are built so recursive types terminate.
        self._complex[type_name] = validate
        for name, f in members.items():
            table[name] = self.field(f)
        return validate

    def field(self, f: Field) -> Validator:
        if f.complex:
            base = self.complex(f.type)
        else:
            base = _SCALAR_VALIDATORS.get(f.type, _v_any)
            checks: list[Callable[[Any, str], Any]] = []
            if f.format in _FORMATS and f.type == "string":
                checks.append(_FORMATS[f.format])
            if f.enum is not None:
                allowed = f.enum
                allowed_set = frozenset(allowed)

                def enum_check(v: Any, path: str) -> Any:
                    if v not in allowed_set:
                        raise SchemaError(path, f"{v!r} is not one of {list(allowed)}")
                    return v
                checks.append(enum_check)
            if f.min is not None or f.max is not None:
                lo, hi = f.min, f.max

                def range_check(v: Any, path: str) -> Any:
                    if (lo is not None and v < lo) or (hi is not None and v > hi):
                        raise SchemaError(path, f"{v} is out of range [{lo}, {hi}]")
                    return v
                checks.append(range_check)
            if checks:
                scalar = base

                def base(v: Any, path: str, _s=scalar, _c=tuple(checks)) -> Any:  # noqa: F811
                    v = _s(v, path)
                    for c in _c:
                        v = c(v, path)
                    return v
        if not f.is_list:
            return base

        def list_validate(v: Any, path: str, _b=base) -> Any:
            if not isinstance(v, list):
                raise SchemaError(path, f"expected a list, got {_type_name(v)}")
            return [None if x is None else _b(x, f"{path}[{i}]") for i, x in enumerate(v)]
        return list_validate
