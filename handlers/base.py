"""What a dialogue handler sees (`Turn`) and how capabilities register (`Registry`).

Like WeRoBot: each capability module registers the intents it answers, the multi-turn
flow it continues and its main-menu entry; the router stays dumb.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Awaitable, Callable

from handlers.messages import InboundMessage, Reply
from handlers.replies import render
from storage.dialogue_state import DialogueState

if TYPE_CHECKING:
    from services.booking_times import Resolver
    from services.bookings import BookingService
    from services.faq import FaqService
    from services.handoff import HandoffService
    from services.locations import RecentLocations
    from services.points import PointsService
    from services.reports import ReportService
    from services.residents import ResidentService
    from services.sharing import SharingService
    from services.stations import StationService

MENU_SELECT = "menu_select"
FALLBACK = "nlu_fallback"


@dataclass
class Services:
    """Everything handlers may use: typed services, one per capability (no repositories:
    each service keeps its own)."""

    settings: Any
    # The person writing: their record, community, unread notices, elder-mode preference.
    residents: "ResidentService | None" = None
    reports: "ReportService | None" = None
    bookings: "BookingService | None" = None
    sharing: "SharingService | None" = None
    points: "PointsService | None" = None
    stations: "StationService | None" = None
    handoff: "HandoffService | None" = None
    locations: "RecentLocations | None" = None  # where a WeChat user was a moment ago
    faq: "FaqService | None" = None  # the community's own rules, answered from its FAQ
    # The NLU's time extractor (text, now) -> time entities, for times typed inside a flow.
    resolve_times: "Resolver | None" = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Turn:
    message: InboundMessage
    text: str
    intent: str | None
    confidence: float
    entities: list[dict[str, Any]]
    state: DialogueState
    services: Services
    # The flow the router ended for a flow-breaking intent (cancel, help, 找人工) this turn.
    ended_flow: str | None = None
    # The NLU's top intents [{"name", "confidence"}], best first (empty for menu digits).
    ranking: list[dict[str, Any]] = field(default_factory=list)
    # What answered this turn when it was not the intent's handler (e.g. {"source": "faq",
    # "faq_id": ...}); recorded with the turn in `conversations`.
    answer: dict[str, Any] | None = None

    def entity(self, name: str) -> Any | None:
        """Value of the first entity called `name`."""
        for ent in self.entities:
            if ent.get("entity") == name:
                return ent.get("value")
        return None

    @property
    def has_words(self) -> bool:
        """False for messages of only emoji, punctuation or symbols."""
        return any(ch.isalnum() for ch in self.text)

    def say(self, template: str, buttons: list | None = None, **context: Any) -> Reply:
        return Reply(render(template, elder=self.state.elder_mode, **context), buttons or [])


Handler = Callable[[Turn], Awaitable[list[Reply]]]
# A flow handler returns None when the message is not for it (the router then
# routes by intent and the flow is left as it was).
FlowHandler = Callable[[Turn], Awaitable["list[Reply] | None"]]
# Hooks around every turn (e.g. elder mode): before routing, and on the replies after.
BeforeHook = Callable[[Turn], Awaitable[None]]
# Runs before the intent's handler outside a flow; replies answer the turn instead (the FAQ).
AnswerFirst = Callable[[Turn], Awaitable["list[Reply] | None"]]
AfterHook = Callable[[Turn, list[Reply]], Awaitable[list[Reply]]]


@dataclass(frozen=True)
class MenuItem:
    key: str
    title: str
    intent: str
    hint: str


class Registry:
    def __init__(self) -> None:
        self.intents: dict[str, Handler] = {}
        self.flows: dict[str, FlowHandler] = {}
        # Flows run by handlers.flow: they handle cancel / 找人工 themselves (repair patterns).
        self.engine_flows: set[str] = set()
        self.menu: list[MenuItem] = []
        # WeChat custom-menu CLICK keys -> intent, registered by the capabilities.
        self.wechat_keys: dict[str, str] = {}
        # Per intent: words that make it sure whatever the model's confidence (a ticket number).
        self.sure: dict[str, Callable[[Turn], bool]] = {}
        # Resident-facing name of each capability intent (menu or not).
        self.titles: dict[str, str] = {}
        self.before: list[BeforeHook] = []
        self.answer_first: list[AnswerFirst] = []
        self.after: list[AfterHook] = []

    def before_turn(self, func: BeforeHook) -> BeforeHook:
        self.before.append(func)
        return func

    def before_intent(self, func: AnswerFirst) -> AnswerFirst:
        """A hook that may answer a turn outside a flow before the intent's handler does."""
        self.answer_first.append(func)
        return func

    def after_turn(self, func: AfterHook) -> AfterHook:
        self.after.append(func)
        return func

    def on_intent(self, *names: str) -> Callable[[Handler], Handler]:
        def register(func: Handler) -> Handler:
            for name in names:
                if name in self.intents:
                    raise ValueError(f"intent {name!r} already has a handler")
                self.intents[name] = func
            return func

        return register

    def on_flow(self, name: str) -> Callable[[FlowHandler], FlowHandler]:
        def register(func: FlowHandler) -> FlowHandler:
            self.flows[name] = func
            return func

        return register

    def add_menu_item(self, key: str, title: str, intent: str, hint: str, wechat_key: str | None = None) -> None:
        """A capability's main-menu digit (and its WeChat custom-menu CLICK key), registered
        by the capability itself; a digit belongs to one intent."""
        taken = next((item for item in self.menu if item.key == key), None)
        if taken is not None and taken.intent != intent:
            raise ValueError(f"menu key {key!r} already belongs to {taken.intent!r}")
        self.menu = [item for item in self.menu if item.key != key]
        self.menu.append(MenuItem(key, title, intent, hint))
        self.menu.sort(key=lambda item: item.key)
        self.titles.setdefault(intent, title)
        if wechat_key:
            self.add_wechat_key(wechat_key, intent)

    def add_wechat_key(self, key: str, intent: str) -> None:
        """A WeChat custom-menu CLICK key (cgi-bin/menu/create) that opens `intent`."""
        if self.wechat_keys.get(key, intent) != intent:
            raise ValueError(f"WeChat menu key {key!r} already belongs to {self.wechat_keys[key]!r}")
        self.wechat_keys[key] = intent

    def sure_when(self, intent: str, predicate: Callable[[Turn], bool]) -> None:
        self.sure[intent] = predicate

    def is_sure(self, turn: Turn) -> bool:
        predicate = self.sure.get(turn.intent or "")
        return predicate is not None and predicate(turn)

    def wechat_intent(self, key: str) -> str | None:
        return self.wechat_keys.get(key)

    def add_title(self, intent: str, title: str) -> None:
        self.titles[intent] = title

    def menu_intent(self, key: str) -> str | None:
        for item in self.menu:
            if item.key == key:
                return item.intent
        return None



registry = Registry()
