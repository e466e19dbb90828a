"""Who may book a service, and a refusal in plain words when someone may not.

A rule is a small dict on the catalog entry: `min_age`, `max_age`, and
`disability_qualifies` (a registered disability is enough on its own, as for 老年助餐:
"60 岁以上或持残疾证").
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol


class Person(Protocol):
    birth_year: int | None
    disability: bool


@dataclass(frozen=True)
class Verdict:
    ok: bool
    reason: str | None = None  # age_unknown | too_young | too_old
    age: int | None = None
    text: str = ""  # the explanation shown to residents (Chinese)


def describe(rule: dict[str, Any]) -> str:
    """Who the service is for, e.g. "60岁及以上的老人，或持残疾证的居民"."""
    parts = []
    low, high = rule.get("min_age"), rule.get("max_age")
    if low and high:
        parts.append(f"{low}到{high}岁的居民")
    elif low and low >= 60:
        parts.append(f"{low}岁及以上的老人")
    elif low:
        parts.append(f"年满{low}岁的居民")
    elif high:
        parts.append(f"{high}岁及以下的居民")
    if rule.get("disability_qualifies") and parts:
        parts.append("持残疾证的居民")
    return "，或".join(parts) if parts else "本社区所有居民"


def needs_age(rule: dict[str, Any]) -> bool:
    return bool(rule.get("min_age") or rule.get("max_age"))


def check(rule: dict[str, Any] | None, person: Person, today: date, service_name: str = "这项服务") -> Verdict:
    """Whether `person` may use a service with `rule`."""
    rule = rule or {}
    if not needs_age(rule):
        return Verdict(True)
    if rule.get("disability_qualifies") and person.disability:
        return Verdict(True)
    age = today.year - person.birth_year if person.birth_year else None
    who = describe(rule)
    if age is None:
        return Verdict(False, "age_unknown", None, f"{service_name}面向{who}，需要先知道出生年份。")
    low, high = rule.get("min_age"), rule.get("max_age")
    if low and age < low:
        text = f"{service_name}面向{who}。按登记的出生年份，今年是{age}岁，还不能预约。"
        if rule.get("disability_qualifies"):
            text += "如果持有残疾证，请带证件到社区登记后再预约。"
        return Verdict(False, "too_young", age, text)
    if high and age > high:
        return Verdict(False, "too_old", age, f"{service_name}面向{who}。按登记的出生年份，今年是{age}岁，不在范围内。")
    return Verdict(True, None, age)
