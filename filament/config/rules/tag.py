"""tag and tag-type: forced names and ids (`0xTTTTVVVV` = type id + value index)."""

from __future__ import annotations

from filament.config.errors import BadRequest
from filament.config.graph import Index, Obj
from filament.config.idpool import IdPool
from filament.config.rules import TypeRule, rule_for

FIRST_CUSTOM_TYPE_ID = 0x00FF


class TagIds(Index):
    name = "tag_ids"

    def reset(self) -> None:
        self.type_ids = IdPool(0, 0xFFFF)
        self.values: dict[int, IdPool] = {}

    def _values(self, type_id: int) -> IdPool:
        pool = self.values.get(type_id)
        if pool is None:
            pool = self.values[type_id] = IdPool(0, 0xFFFF)
        return pool

    def add(self, obj: Obj) -> None:
        if obj.type == "tag-type" and obj.props.get("tag_type_id"):
            self.type_ids.add(int(obj.props["tag_type_id"], 16))
        elif obj.type == "tag" and obj.props.get("tag_id"):
            tid = int(obj.props["tag_id"], 16)
            self._values(tid >> 16).add(tid & 0xFFFF)

    def remove(self, obj: Obj) -> None:
        if obj.type == "tag-type" and obj.props.get("tag_type_id"):
            self.type_ids.remove(int(obj.props["tag_type_id"], 16))
        elif obj.type == "tag" and obj.props.get("tag_id"):
            tid = int(obj.props["tag_id"], 16)
            self._values(tid >> 16).remove(tid & 0xFFFF)


def _ids(ctx) -> TagIds:
    return ctx.graph.named["tag_ids"]


@rule_for("tag-type")
class TagTypeRule(TypeRule):
    def indexes(self) -> list[Index]:
        return [TagIds()]

    def check_create(self, ctx, rt, data, props, refs) -> None:
        if "tag_type_id" in props:
            raise BadRequest("tag_type_id: set by the server")

    def on_create(self, ctx, obj) -> None:
        if obj.props.get("tag_type_id"):
            return
        pool = _ids(ctx).type_ids
        taken = {int(o.props["tag_type_id"], 16) for o in ctx.txn.puts.values()
                 if o.type == "tag-type" and o.props.get("tag_type_id")}
        n = FIRST_CUSTOM_TYPE_ID
        while n in pool.used or n in taken:
            n += 1
        obj.props["tag_type_id"] = f"0x{n:04x}"


@rule_for("tag")
class TagRule(TypeRule):
    def rewrite_create(self, data: dict) -> dict:
        ttype, value = data.get("tag_type_name"), data.get("tag_value")
        if not isinstance(ttype, str) or not ttype:
            raise BadRequest("tag_type_name: required")
        if not isinstance(value, str) or not value:
            raise BadRequest("tag_value: required")
        fq = data.get("fq_name")
        if isinstance(fq, list) and fq:
            data = dict(data, tag_type_name=ttype.lower(),
                        fq_name=fq[:-1] + [f"{ttype.lower()}={value}"])
            data["display_name"] = data["fq_name"][-1]
        return data

    def check_create(self, ctx, rt, data, props, refs) -> None:
        if "tag_id" in props or refs.get("tag-type"):
            raise BadRequest("tag_id / tag_type_refs: set by the server")

    def on_create(self, ctx, obj) -> None:
        ttype = obj.props["tag_type_name"]
        tt = ctx.txn.lookup("tag-type", [ttype])
        if tt is None:
            tt = ctx.service.make_object(ctx, "tag-type", [ttype], None,
                                         {"display_name": ttype}, {})
        obj.refs["tag-type"] = [[tt.uuid, None]]
        type_id = int(tt.props["tag_type_id"], 16)
        taken = {int(o.props["tag_id"], 16) & 0xFFFF for o in ctx.txn.puts.values()
                 if o.type == "tag" and o.props.get("tag_id")
                 and int(o.props["tag_id"], 16) >> 16 == type_id}
        n = _ids(ctx)._values(type_id).lowest_free(taken)
        if n is None:
            raise BadRequest(f"tag_value: no free tag id for type {ttype}")
        obj.props["tag_id"] = f"0x{(type_id << 16) | n:08x}"

    def on_update(self, ctx, old, new, data) -> None:
        for key in ("tag_type_name", "tag_value", "tag_id"):
            if key in data and new.props.get(key) != old.props.get(key):
                raise BadRequest(f"{key}: cannot be changed")
