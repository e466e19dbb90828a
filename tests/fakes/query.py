"""The small part of MongoDB's query language the repositories use, over plain dicts.

Fakes store documents the way the real server hands them back: deep copies, datetimes in
UTC (the client is tz-aware) truncated to milliseconds (BSON dates).
"""
from __future__ import annotations

import copy
import math
import re
from datetime import datetime, timezone
from typing import Any, Iterable

EARTH_RADIUS_M = 6378100.0  # the radius MongoDB's spherical distances use


def stored(value: Any) -> Any:
    """A deep copy as it comes back from the server."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        value = value.astimezone(timezone.utc)
        return value.replace(microsecond=value.microsecond // 1000 * 1000)
    if isinstance(value, dict):
        return {k: stored(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [stored(v) for v in value]
    return copy.deepcopy(value)


def get_path(doc: Any, path: str) -> list[Any]:
    """Every value at a dotted path (arrays of sub-documents fan out, as in MongoDB)."""
    values = [doc]
    for part in path.split("."):
        nxt: list[Any] = []
        for value in values:
            if isinstance(value, dict):
                if part in value:
                    nxt.append(value[part])
            elif isinstance(value, list):
                nxt.extend(item[part] for item in value if isinstance(item, dict) and part in item)
        values = nxt
    return values


def _candidates(values: list[Any]) -> list[Any]:
    out: list[Any] = []
    for value in values:
        out.append(value)
        if isinstance(value, list):
            out.extend(value)
    return out


def _cmp(a: Any, b: Any, op: str) -> bool:
    if a is None or b is None:
        return False
    try:
        return {"$lt": a < b, "$lte": a <= b, "$gt": a > b, "$gte": a >= b}[op]
    except TypeError:
        return False


def _eq(values: list[Any], expected: Any) -> bool:
    if expected is None:
        return not values or any(v is None for v in _candidates(values))
    return any(v == expected for v in _candidates(values))


def _match_op(values: list[Any], op: str, arg: Any, doc: dict[str, Any]) -> bool:
    if op == "$in":
        return any(_eq(values, item) for item in arg)
    if op == "$nin":
        return not any(_eq(values, item) for item in arg)
    if op == "$ne":
        return not _eq(values, arg)
    if op == "$eq":
        return _eq(values, arg)
    if op in ("$lt", "$lte", "$gt", "$gte"):
        return any(_cmp(v, arg, op) for v in _candidates(values))
    if op == "$exists":
        return bool(values) == bool(arg)
    if op == "$regex":
        return any(isinstance(v, str) and re.search(arg, v) for v in _candidates(values))
    if op == "$options":
        return True
    if op == "$all":
        return all(_eq(values, item) for item in arg)
    if op == "$elemMatch":
        return any(isinstance(item, dict) and matches(item, arg)
                   for value in values if isinstance(value, list) for item in value)
    if op == "$geoWithin":
        centre, radians = arg["$centerSphere"]
        return any(isinstance(v, dict) and distance_m(centre, v["coordinates"]) <= radians * EARTH_RADIUS_M
                   for v in values)
    raise NotImplementedError(f"fake query operator {op}")


def matches(doc: dict[str, Any], query: dict[str, Any] | None) -> bool:
    for key, cond in (query or {}).items():
        if key == "$and":
            if not all(matches(doc, q) for q in cond):
                return False
        elif key == "$or":
            if not any(matches(doc, q) for q in cond):
                return False
        elif key == "$expr":
            if not _expr(doc, cond):
                return False
        else:
            values = get_path(doc, key)
            if isinstance(cond, re.Pattern):
                if not any(isinstance(v, str) and cond.search(v) for v in _candidates(values)):
                    return False
            elif isinstance(cond, dict) and cond and all(k.startswith("$") for k in cond):
                if "$regex" in cond:
                    flags = re.I if "i" in cond.get("$options", "") else 0
                    pattern = re.compile(cond["$regex"], flags)
                    if not any(isinstance(v, str) and pattern.search(v) for v in _candidates(values)):
                        return False
                    cond = {k: v for k, v in cond.items() if k not in ("$regex", "$options")}
                if not all(_match_op(values, op, arg, doc) for op, arg in cond.items()):
                    return False
            elif not _eq(values, cond):
                return False
    return True


def _operand(doc: dict[str, Any], value: Any) -> Any:
    if isinstance(value, str) and value.startswith("$"):
        found = get_path(doc, value[1:])
        return found[0] if found else None
    return value


def _expr(doc: dict[str, Any], expr: dict[str, Any]) -> bool:
    (op, (left, right)), = expr.items()
    return _cmp(_operand(doc, left), _operand(doc, right), op)


def sort_docs(docs: Iterable[dict[str, Any]], order: list[tuple[str, int]] | None) -> list[dict[str, Any]]:
    """Sorted like MongoDB: missing/None first ascending, stable for ties."""
    result = list(docs)
    for key, direction in reversed(order or []):
        def sort_key(doc: dict[str, Any], key: str = key) -> tuple[int, Any]:
            found = get_path(doc, key)
            value = found[0] if found else None
            return (0, 0) if value is None else (1, value)
        result.sort(key=sort_key, reverse=direction < 0)
    return result


def apply_update(doc: dict[str, Any], update: dict[str, Any], *, inserting: bool = False) -> None:
    """$set, $unset, $inc, $push, $pull, $setOnInsert on top-level fields."""
    for op, fields in update.items():
        for key, value in fields.items():
            if op == "$set":
                doc[key] = stored(value)
            elif op == "$unset":
                doc.pop(key, None)
            elif op == "$inc":
                doc[key] = doc.get(key, 0) + value
            elif op == "$push":
                doc.setdefault(key, []).append(stored(value))
            elif op == "$pull":
                doc[key] = [v for v in doc.get(key, []) if v != value]
            elif op == "$setOnInsert":
                if inserting:
                    doc[key] = stored(value)
            else:
                raise NotImplementedError(f"fake update operator {op}")


def distance_m(a: list[float], b: list[float]) -> float:
    """Great-circle distance of two [lng, lat] points (the sphere MongoDB uses)."""
    lng1, lat1, lng2, lat2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lng2 - lng1) / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(h))


class FakeCollection:
    """A collection of documents by `_id` with the unique (optionally partial) indexes
    the real one declares: a write that breaks one raises DuplicateKeyError naming it."""

    def __init__(self, unique: dict[str, tuple[tuple[str, ...], dict[str, Any] | None]] | None = None) -> None:
        self.docs: dict[Any, dict[str, Any]] = {}
        self.unique = {"_id_": (("_id",), None), **(unique or {})}

    def _check(self, doc: dict[str, Any], ignore: Any = None) -> None:
        for name, (fields, partial) in self.unique.items():
            if partial is not None and not matches(doc, partial):
                continue
            key = tuple(doc.get(f) for f in fields)
            for other_id, other in self.docs.items():
                if other_id == ignore or (partial is not None and not matches(other, partial)):
                    continue
                if tuple(other.get(f) for f in fields) == key:
                    from pymongo.errors import DuplicateKeyError
                    raise DuplicateKeyError(f"E11000 duplicate key error index: {name} dup key: {key}")

    def insert_one(self, doc: dict[str, Any]) -> None:
        doc = stored(doc)
        self._check(doc)
        self.docs[doc["_id"]] = doc

    def find(self, query: dict[str, Any] | None = None, sort: list[tuple[str, int]] | None = None,
             limit: int | None = None) -> list[dict[str, Any]]:
        found = sort_docs((d for d in self.docs.values() if matches(d, query)), sort)
        return [stored(d) for d in (found if limit is None else found[:limit])]

    def find_one(self, query: dict[str, Any] | None = None,
                 sort: list[tuple[str, int]] | None = None) -> dict[str, Any] | None:
        found = self.find(query, sort, 1)
        return found[0] if found else None

    def count(self, query: dict[str, Any] | None = None) -> int:
        return sum(1 for d in self.docs.values() if matches(d, query))

    def update_one(self, query: dict[str, Any], update: dict[str, Any], *, sort=None, upsert: bool = False,
                   after: bool = True) -> dict[str, Any] | None:
        """Update the first match; the document after (or before) the change, None if none
        matched (with `upsert`, a new document from the query's equalities is inserted)."""
        found = sort_docs((d for d in self.docs.values() if matches(d, query)), sort)
        if not found:
            if not upsert:
                return None
            doc = {k: stored(v) for k, v in query.items() if not k.startswith("$") and not isinstance(v, dict)}
            apply_update(doc, update, inserting=True)
            self.insert_one(doc)
            return stored(doc) if after else None
        target = found[0]
        changed = copy.deepcopy(target)
        apply_update(changed, update)
        self._check(changed, ignore=target["_id"])
        before = stored(target)
        target.clear()
        target.update(changed)
        return stored(target) if after else before

    def update_many(self, query: dict[str, Any], update: dict[str, Any]) -> int:
        found = [d for d in self.docs.values() if matches(d, query)]
        for doc in found:
            apply_update(doc, update)
        return len(found)

    def delete_one(self, query: dict[str, Any]) -> bool:
        found = self.find(query, limit=1)
        if found:
            del self.docs[found[0]["_id"]]
        return bool(found)
