"""The community FAQ in chat: questions about the community's own rules (助餐 eligibility,
辅具租赁, 积分规则, 驿站 hours, the service centre's hours) are answered from the FAQ staff keep
in the console (services/faq.py, storage/faq.py).

Outside a flow, before the intent's handler (`registry.before_intent`), a message is looked up
in the resident's community FAQ when it is a question:
- its intent is policy_question, help, out_of_scope or nlu_fallback (answers that start nothing);
- or a capability intent (book_service, find_station, check_points …) whose words ask about the
  rules (谁能、怎么收费、多少钱、几点、什么时候、能不能 …) without asking to do something now
  (帮我、我要、a time: "明天中午预约助餐" books, "助餐谁能吃" asks).
A match above the threshold answers with the entry and starts no flow; otherwise the intent's
handler answers as before (policy_question: 12345 and the 社区事务受理服务中心). The turn's
`answer` records which entry answered (conversations log).
"""
from __future__ import annotations

import re

from handlers.messages import Button, Reply
from handlers.text import is_menu_key
from handlers.base import FALLBACK, Turn, registry

QUESTION_INTENTS = {"policy_question", "help", "out_of_scope", FALLBACK}
CAPABILITY_INTENTS = {
    "report_problem", "report_status", "book_service", "my_bookings", "cancel_booking", "share_item",
    "borrow_item", "request_help", "check_points", "redeem_points", "find_station",
}
# Words that ask about the rules of a service, not for the service.
RULE_QUESTION = re.compile(
    r"谁(?:能|可以|可)|哪些人|什么人|条件|资格|规则|规定|标准|收费|多少钱|几块钱|费用|价格|押金|免费|"
    r"怎么(?:收|算|攒|赚|用|租|借|还|换|兑|申请|领|拿|获得|计算)|如何|怎样|"
    r"几点|什么时候|啥时候|哪天|开放|开门|关门|营业|上班|下班|多久|多长时间|"
    r"能不能|可不可以|可以不|是不是|吗[？?]?$|么[？?]?$"
)
# Words that ask to do something now: the capability's own flow answers.
REQUEST = re.compile(r"帮我|给我|替我|帮忙|我要|我想要|我想|麻烦|预约一下|订一个|报名|附近|最近的|离我")


def asks_about_rules(turn: Turn) -> bool:
    """Whether a capability intent's message asks about the rules rather than for the service."""
    if turn.entity("time") is not None or REQUEST.search(turn.text):
        return False
    return bool(RULE_QUESTION.search(turn.text))


def is_question(turn: Turn) -> bool:
    if turn.message.kind not in ("text", "voice") or not turn.has_words or is_menu_key(turn.text):
        return False
    if turn.intent in QUESTION_INTENTS:
        return True
    return turn.intent in CAPABILITY_INTENTS and asks_about_rules(turn)


@registry.before_intent
async def answer_from_faq(turn: Turn) -> list[Reply] | None:
    services = turn.services
    if services.faq is None or not is_question(turn):
        return None
    if services.residents is not None:
        community = await services.residents.community_of(turn.message.user_key)
    else:
        community = services.settings.default_community
    found = await services.faq.match(community, turn.text)
    if found is None:
        return None
    entry = found.entry
    turn.answer = {"source": "faq", "faq_id": entry.id, "key": entry.key, "score": round(found.score, 3)}
    return [turn.say("faq_answer", question=entry.question, answer=entry.answer,
                     buttons=[Button("9 找人工", "9"), Button("0 主菜单", "0")])]
