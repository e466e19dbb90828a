"""Dialogue handlers: one module per capability, each registering with `registry`."""
from handlers.base import registry
from handlers import smalltalk  # noqa: F401  (registers greet/help/... handlers)
from handlers import location  # noqa: F401  (share_location / share_photo outside any flow)
from handlers import report_status  # noqa: F401  (report_status: 查报事进度, ratings)
from handlers import report  # noqa: F401  (report_problem: 报事, on the flow engine)
from handlers import booking  # noqa: F401  (book_service / my_bookings / cancel_booking: 预约)
from handlers import sharing  # noqa: F401  (share_item / borrow_item / request_help: 共享社区)
from handlers import points  # noqa: F401  (check_points / redeem_points: 积分存折、积分超市)
from handlers import elder  # noqa: F401  (elder_mode: 长者模式; hooks adding 0/9 in elder mode)
from handlers import handoff  # noqa: F401  (human_handoff: 找人工, callback requests)
from handlers import station  # noqa: F401  (find_station: 附近的爱心驿站 / 能量栈)
from handlers import policy  # noqa: F401  (policy_question: 12345 and the 社区事务受理服务中心)
from handlers import clarify  # noqa: F401  (nlu_fallback: two-stage clarification)
from handlers import faq  # noqa: F401  (questions about the community's own rules: its FAQ)
from handlers import notices  # noqa: F401  (unread notices first; imported last so they lead)

__all__ = ["registry"]
