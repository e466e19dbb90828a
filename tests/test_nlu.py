"""The NLU: CLI output shape, the trained model on typical messages, time resolution."""
from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import yaml

from nlu import paths
from nlu.time_extractor import resolve_times

SHANGHAI = ZoneInfo("Asia/Shanghai")
ROOT = paths.ROOT


def test_parse_cli_writes_one_rasa_shaped_object_per_line():
    lines = ["路灯坏了", "", "附近哪有能充电的驿站", "明天下午三点想预约体检"]
    proc = subprocess.run(
        [sys.executable, "-m", "nlu", "parse"],
        input="\n".join(lines) + "\n",
        capture_output=True, text=True, encoding="utf-8", cwd=ROOT, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [o["text"] for o in out] == lines
    for obj in out:
        assert set(obj) == {"text", "intent", "entities"}
        assert set(obj["intent"]) == {"name", "confidence"}
        assert 0.0 <= obj["intent"]["confidence"] <= 1.0
        for ent in obj["entities"]:
            assert {"entity", "value", "start", "end"} <= set(ent)
            assert obj["text"][ent["start"]:ent["end"]]
    assert out[0]["intent"]["name"] == "report_problem"
    assert out[2]["intent"]["name"] == "find_station"
    time_entity = next(e for e in out[3]["entities"] if e["entity"] == "time")
    tomorrow = (datetime.now(SHANGHAI) + timedelta(days=1)).date()
    assert time_entity["value"] == f"{tomorrow.isoformat()}T15:00:00+08:00"


@pytest.mark.parametrize(
    "text,intent,entity,value",
    [
        ("我们楼下路灯坏了好几天了", "report_problem", "category", "streetlight"),
        ("下水道堵了臭死了", "report_problem", "category", "drainage"),
        ("门口有人占道经营摆摊", "report_problem", "category", "vending"),
        ("我想预约老年助餐", "book_service", "service", "elderly_meal"),
        ("附近哪里可以给电动车充电", "find_station", "amenity", "charging"),
        ("我有多少积分", "check_points", None, None),
        ("谁家有梯子借我用一下", "borrow_item", "item", "梯子"),
        ("我报的事怎么样了", "report_status", None, None),
        ("转人工", "human_handoff", None, None),
        ("我们楼这个月停了好几次电", "report_problem", "category", "power"),
        ("楼下烧烤店的油烟熏得窗户都不敢开", "report_problem", "category", "pollution"),
        ("隔壁在楼顶私自加盖了一层铁皮房", "report_problem", "category", "illegal_building"),
        ("厨房里一股煤气味 是不是漏气了", "report_problem", "category", "gas"),
        ("物业收了钱什么都不管 垃圾也不清", "report_problem", "category", "property"),
        ("小区里流浪狗越来越多 晚上追着人叫", "report_problem", "category", "animal"),
        ("我的养老金什么时候能领", "policy_question", None, None),
        ("公积金怎么提取出来付房租", "policy_question", None, None),
    ],
)
async def test_model_understands_typical_messages(nlu_service, text, intent, entity, value):
    result = await nlu_service.parse(text)
    assert result["intent"]["name"] == intent, result
    if entity:
        assert {"entity": entity, "value": value} in [
            {"entity": e["entity"], "value": e["value"]} for e in result["entities"]
        ], result["entities"]


ODD_TEXTS = ["这个那个", "我要报事儿", "嗯那个就是", "你是谁", "喂喂喂那个啥", "帮我看看", "不知道", "随便",
             "那个东西", "咋整", "怎么弄啊", "我想问一下", "有个事", "搞不懂"]


async def test_low_confidence_becomes_nlu_fallback(nlu_service):
    """Rasa's FallbackClassifier (config.yml) turns a top intent below the threshold into
    nlu_fallback: no answer below it ever names a real intent."""
    config = yaml.safe_load((ROOT / "config.yml").read_text(encoding="utf-8"))
    threshold = next(c for c in config["pipeline"] if c["name"] == "FallbackClassifier")["threshold"]
    results = await asyncio.gather(*(nlu_service.parse(text) for text in ODD_TEXTS))
    for result in results:
        intent = result["intent"]
        if intent["name"] == "nlu_fallback":
            assert intent["confidence"] == pytest.approx(threshold)
        else:
            assert intent["confidence"] >= threshold, result
    assert any(r["intent"]["name"] == "nlu_fallback" for r in results), [r["intent"] for r in results]


@pytest.mark.parametrize("text", ["qwpeoiruty zxmcnvb", "asdfjkl", "hhhhhh", "啊啊啊", "。。。。"])
async def test_gibberish_is_never_a_capability_or_a_yes(nlu_service, text):
    """Keyboard mash must not confirm a read-back ("affirm") or start a capability."""
    result = await nlu_service.parse(text)
    assert result["intent"]["name"] in {"nlu_fallback", "out_of_scope"}, result["intent"]


async def test_repeated_texts_are_cached_but_times_are_not(nlu_service):
    await nlu_service.parse("我想借个电钻")
    parses, hits = nlu_service.parses, nlu_service.cache_hits
    again = await nlu_service.parse("我想借个电钻")
    assert nlu_service.parses == parses and nlu_service.cache_hits == hits + 1
    again["entities"].clear()  # a caller changing its copy does not change the cache
    assert (await nlu_service.parse("我想借个电钻"))["entities"]
    await nlu_service.parse("明天上午体检")
    parses = nlu_service.parses
    await nlu_service.parse("明天上午体检")
    assert nlu_service.parses == parses + 1


NOW = datetime(2026, 11, 22, 21, 30, tzinfo=SHANGHAI)  # a Sunday evening


@pytest.mark.parametrize(
    "text,start,end",
    [
        ("明天下午三点", "2026-11-23T15:00:00+08:00", "2026-11-23T15:59:59+08:00"),
        ("明天中午去吃饭", "2026-11-23T12:00:00+08:00", None),
        ("下周一上午体检", "2026-11-23T07:00:00+08:00", "2026-11-23T11:59:59+08:00"),
        ("周六", "2026-11-28T00:00:00+08:00", "2026-11-28T23:59:59+08:00"),  # the coming one
        ("后天晚上7点半", "2026-11-24T19:30:00+08:00", None),
        ("下个月5号", "2026-12-05T00:00:00+08:00", None),
    ],
)
def test_time_expressions_resolve_in_shanghai(text, start, end):
    found = resolve_times(text, NOW)
    assert found, text
    assert found[0]["value"] == start
    if end:
        assert found[0]["additional_info"]["end"] == end
    assert text[found[0]["start"]:found[0]["end"]]


@pytest.mark.parametrize("text", ["3栋门口路灯坏了", "2号楼电梯坏了", "5号线地铁口", "我要预约老年助餐", "1", ""])
def test_addresses_and_plain_text_are_not_times(text):
    assert resolve_times(text, NOW) == []


def test_model_staleness_follows_config_and_data(tmp_path):
    assert paths.is_stale(tmp_path)  # no model at all
    paths.model_path(tmp_path).write_bytes(b"x")
    assert paths.is_stale(tmp_path)  # no fingerprint
    paths.record_fingerprint(tmp_path)
    assert not paths.is_stale(tmp_path)
    (tmp_path / paths.FINGERPRINT_FILE).write_text(json.dumps({"fingerprint": "older"}))
    assert paths.is_stale(tmp_path)


CODES = {
    "category": {"streetlight", "road", "drainage", "garbage", "vending", "parking", "parcel", "noise", "throwing",
                 "facility", "elevator", "fire", "greening", "water", "dispute", "security", "power", "gas",
                 "pollution", "illegal_building", "property", "animal", "other"},
    "service": {"elderly_meal", "health_check", "rehab_rental", "volunteer", "rest_room", "legal_aid", "venue"},
    "amenity": {"charging", "water", "rest", "toilet", "microwave", "medicine", "raincoat"},
}


@pytest.mark.parametrize(
    "text,entity,value",
    [
        ("人行道中间塌了个大坑", "category", "road"),  # words the training data never had
        ("卖菜的把摊子摆到路中间", "category", "vending"),
        ("快递柜旁边的纸箱包裹堆成了山", "category", "parcel"),
        ("社区能租轮椅吗", "service", "rehab_rental"),
        ("有没有能充电又有厕所的", "amenity", "toilet"),
        ("有没有能充电又有厕所的", "amenity", "charging"),
    ],
)
async def test_codes_come_from_the_meaning_of_the_whole_message(nlu_service, text, entity, value):
    result = await nlu_service.parse(text)
    assert value in [e["value"] for e in result["entities"] if e["entity"] == entity], result


async def test_code_entities_always_carry_a_code_and_a_real_span(nlu_service):
    """category/service/amenity values are codes, never the words as written."""
    from nlu.dataset import heldout_examples

    texts = [h.text for h in heldout_examples()]
    results = await asyncio.gather(*(nlu_service.parse(t) for t in texts))
    coded = 0
    for result in results:
        for ent in result["entities"]:
            if ent["entity"] in CODES:
                coded += 1
                assert ent["value"] in CODES[ent["entity"]], ent
                assert 0 <= ent["start"] < ent["end"] <= len(result["text"]), ent
    assert coded > len(texts) / 3


def test_heldout_figures_meet_the_thresholds(nlu_service):
    """The held-out set (tests/nlu_heldout, written apart from nlu/data, never trained on)."""
    from nlu.dataset import heldout_examples
    from nlu.heldout import SPAN_THRESHOLDS, THRESHOLDS, measure

    examples = heldout_examples()
    assert len(examples) >= 400 and sum(e.intent == "out_of_scope" for e in examples) >= 50
    figures = measure(examples, nlu_service.parse_batch_sync)
    assert figures.intent_accuracy >= THRESHOLDS["intent_accuracy"], figures.errors
    assert figures.all_codes_accuracy >= THRESHOLDS["code_accuracy"], figures.code_errors
    assert figures.oos_precision >= THRESHOLDS["oos_precision"], figures.errors
    assert figures.oos_recall >= THRESHOLDS["oos_recall"], figures.errors
    for name, threshold in SPAN_THRESHOLDS.items():
        assert figures.span_accuracy[name][0] >= threshold, (name, figures.span_accuracy[name])


def test_heldout_set_is_not_in_the_training_data():
    from nlu.dataset import heldout_examples, training_examples

    def key(text: str) -> str:
        return "".join(ch for ch in text if ch.isalnum())

    trained = {key(e.text) for e in training_examples()}
    # Short answers ("你好", "算了不弄了") come out the same whoever writes them; no longer
    # message may be shared.
    shared = [h.text for h in heldout_examples() if key(h.text) in trained]
    assert not [t for t in shared if len(key(t)) > 8], shared


def test_training_data_covers_every_intent_and_code():
    from collections import Counter

    from nlu.dataset import training_examples

    examples = training_examples()
    assert len(examples) >= 3000
    per_intent = Counter(e.intent for e in examples)
    assert min(per_intent.values()) >= 100, per_intent
    for entity, codes in CODES.items():
        seen = {v for e in examples for v in e.codes.get(entity, [])}
        assert codes <= seen, codes - seen
