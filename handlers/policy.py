"""policy_question (社保、医保、公积金、户口 …): not handled in chat. Says so plainly, names
12345 and the community's 社区事务受理服务中心 with its hours, offers 找人工; starts no flow."""
from __future__ import annotations

from handlers.messages import Button, Reply
from handlers.base import Turn, registry

HOTLINE = "12345"

registry.add_title("policy_question", "政策咨询")


@registry.on_intent("policy_question")
async def policy_question(turn: Turn) -> list[Reply]:
    residents = turn.services.residents
    resident = await residents.me(turn.message.user_key)
    centre = await residents.service_centre(resident.community)
    return [turn.say("policy_answer", hotline=HOTLINE, centre=centre, buttons=[Button("9 找人工", "9")])]
