"""Which tier answers a shopper message, and whether a person must take over.

The intent comes from the embedding classifier; rules cover what a rule says more
clearly than examples do (an explicit request for a person, legal threats, abuse,
amounts, several orders) and what only the conversation shows (follow-ups, repetition,
rising anger). Every decision carries its reasons.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

import numpy as np
from django.conf import settings

from routing.classifier import IntentScore, classify
from routing.embeddings import embed
from routing.language import message_language
from routing.tier0 import tier0_template

# Below this the classifier is guessing: go up a tier, never answer from tier 0.
LOW_CONFIDENCE = 0.48
# A person is worth more than a wrong answer: intents that always escalate do so on a
# weaker match than other intents need.
ESCALATE_INTENT_MIN = 0.43
# Two intents this close are a coin toss: treat as low confidence for tier 0, unless the
# runner-up gets the same tier-0 answer anyway ("where is my order" / "tracking number?").
TIER0_MARGIN = 0.04
# The embedding model was trained on English: another language finds its intent mostly
# by shared words ("commande", "Paket"), so its scores sit closer together and a wrong
# order-status answer is likelier. Such a message needs a wider lead for tier 0.
TIER0_MARGIN_OTHER_LANGUAGE = 0.08
# ...unless it is all but one of the intent's phrasings, word for word.
TIER0_SURE = 0.85
REPEAT_SIMILARITY = 0.9

# An explicit request for a person, in English, German, French and Spanish. One rule for the whole
# project: the chat hands off on it the moment the message arrives (support_bot's
# handoff), and routing names it among a decision's reasons.
_PERSON = re.compile(
    r"\b(humans?|human being|(real|actual|live)[ -](person|people|agent|human|chat|support)|"
    r"(an?|the|live|human|real|support|service|your) (agent|representative|rep|operator|supervisor|manager|executive)s?|"
    r"representative|operator|support staff|"
    r"not (a|the|this) (bot|robot|machine)|"
    r"(speak|speaking|talk|talking|chat|chatting)\s*(to|with)\s*(an? )?(someone|somebody|person|assistant|agent|human|staff|supervisor)|"
    r"contact(ing)? (an? )?(someone|somebody|person|assistant|human)|"
    r"mitarbeiter\w*|kundenberater\w*|sachbearbeiter\w*|"
    r"(echte[nmr]?|richtige[nmr]?) person|(einem|einen|echten|richtigen) menschen?|"
    r"mensch(en)? (bitte|sprechen)|mit jemandem (sprechen|reden)|"
    # "ich will eine Person", not "ein Zelt für eine Person"
    r"(will|möchte|moechte|brauche|hätte gerne?|haette gerne?)\s+(\w+\s+){0,2}"
    r"(eine[nm]?|einer)\s+(echte[nmr]?\s+|richtige[nmr]?\s+)?(person|menschen)|"
    r"(keine?n?|nicht mit (einem|dem|der)) (chat)?(bot|roboter|maschine|computer|ki)|"
    r"live[ -](agent|mitarbeiter\w*|person|support)|"
    r"(parler|discuter|échanger|parle|passez-moi|passer) (\w+ ){0,2}(à |avec )?(un|une|des|le|la) "
    r"(conseill\w+|humain|personne|agent|opérateur|operateur|responsable|vrai\w*)|"
    r"(un|une|des) (vrai[es]? )?(humain|conseill\w+)s?\b(?! (de|en) )|vraie personne|pas (un|à un) (bot|robot)|"
    r"(hablar|habla|comunicarme|pásame|pasame|páseme|paseme) (\w+ ){0,2}(con )?(alguien|"
    r"(una|un|algún|alguna) (persona|humano|agente|asesor\w*|operador\w*|encargad\w+))|"
    r"persona real|(un|una) (humano|asesor\w*|operador\w*)|no (quiero )?(un |una |con un )?(bot|robot|máquina|maquina))\b",
    re.IGNORECASE,
)
_LEGAL = re.compile(
    r"\b(chargeback|charge ?back|lawyer|attorney|solicitor|sue|suing|lawsuit|court|legal action|"
    r"consumer protection|small claims|ombudsman|trading standards|"
    r"anwalt|anwältin|rechtsanwalt|klage|verklagen|verbraucherzentrale|rückbuchung|"
    r"rechtliche\w* schritte|rechtsweg|vor gericht|gerichtlich\w*|strafanzeige|polizei|"
    r"anzeige (erstatten|erstatte|machen|gegen)|(zeige|zeigen) (euch|sie|dich|ihren laden) (\w+ ){0,3}an|"
    r"käuferschutz\w*|kaeuferschutz\w*|zurück ?buchen|zurueck ?buchen|zurückbuchung|"
    r"inkasso|rücklastschrift|lastschrift (\w+ ){0,2}(zurück\w*|widerruf\w*)|schlichtungsstelle|"
    r"avocat\w*|(porter|déposer|deposer|dépose|porte) (une )?plainte|tribunal|justice|dgccrf|"
    r"60 millions|que choisir|médiateur|mediateur|mise en demeure|opposition (sur|bancaire)|"
    r"litige|rétrofacturation|abogad\w*|denuncia\w*|demandar\w*|(una|la|poner) demanda|juzgado|tribunales|ocu|facua|"
    r"profeco|(oficina|departamento) de consumo|hoja de reclamaciones|contracargo|retrocargo|disputa)\b",
    re.IGNORECASE,
)
# Insults aimed at people. Plain swearing ("where's my fucking parcel") is frustration,
# which moves the message up a tier, not abuse.
_ABUSE = re.compile(
    r"\b(fuck (you|off|u)|screw you|you('re| are)? (an? )?(fucking )?(idiots?|morons?|stupid|useless|incompetent|clowns?)|"
    r"idiots|morons|asshole|bastards?|bitch|dumbass|stupid bot|"
    r"arschloch|idioten|leck mich|du idiot|ihr idioten|vollidiot\w*|trottel|deppen|penner|"
    r"wichser|unfähige[rn]? (haufen|bande|verein|idioten)|(blöde[rsn]?|dumme[rsn]?|"
    r"scheiß|scheiss) ?(bot|laden|verein|firma|saftladen)|"
    r"(ihr seid|sie sind|du bist) (\w+ ){0,2}(unfähig\w*|inkompetent\w*|das letzte|"
    r"der letzte \w+|versager)|"
    r"connards?|abrutis?|crétins?|cretins?|bande d'\w+|va te faire|(vous êtes|vous etes|t'es|tu es) (\w+ ){0,2}"
    r"(nuls|incompétents?|incompetents?|idiots?|des voleurs)|"
    r"idiotas|imbéciles|imbeciles|gilipollas|vete a la mierda|(sois|son|eres) (\w+ ){0,2}"
    r"(unos )?(inútiles|inutiles|incompetentes|idiotas|ladrones))\b",
    re.IGNORECASE,
)
_ANGER = re.compile(
    r"\b(ridiculous|unacceptable|outrageous|furious|angry|livid|disgusting|useless|pathetic|"
    r"terrible|horrible|worst|scam|fraud|rip-?off|sick of|fed up|never again|"
    r"fuck\w*|shit\w*|damn\w*|crap|"
    r"frech\w*|unverschämt\w*|wütend|stinkwütend|sauer|stinksauer|katastroph\w*|betrug|"
    r"verdammt\w*|scheiß\w*|scheiss\w*|saftladen|sauladen|zumutung|skandal\w*|"
    r"unfähig\w*|inkompetent\w*|raste (\w+ )?aus|reicht mir|schnauze voll|nie wieder|"
    r"inadmissible|scandaleu\w*|honteu\w*|inacceptable|furieu\w*|en colère|ras le bol|marre|"
    r"arnaque\w*|escroc\w*|putain|merde|plus jamais|"
    r"inaceptable|vergonzos\w*|indignante|vergüenza|harto|harta|estafa\w*|furios\w*|"
    r"cabread\w*|mierda|joder|nunca más)\b",
    re.IGNORECASE,
)
# Shoppers who tried and failed to reach a person by phone want one now.
_UNREACHABLE = re.compile(
    r"\b(call ?cent(er|re)|customer (care|service)|support|help ?line|hotline|phone|agents?|number)"
    r"\W+(\w+\W+){0,2}(not|n't|never)\W+(reachable|answering|picking up|responding|available|working)|"
    r"\b(call ?cent(er|re)|customer (care|service)|help ?line|hotline) (is )?unavailable|"
    r"\bis (there )?any ?(one|body) (there|available|around)|"
    r"\bno ?(one|body) (is )?(answering|answers|picking up|picks up|responding|replies)|"
    r"\bunreachable\b|\bcan(no|')t (get through|reach (you|anyone|anybody|somebody|someone))|"
    r"\b(niemand|keiner) (geht ran|antwortet|meldet sich|erreichbar)|nicht erreichbar|nie erreichbar|nicht zu erreichen|"
    r"\b(erreiche|erreicht) (\w+ ){0,2}(niemanden|keinen)|keiner geht ran|geht (niemand|keiner) ran|"
    r"\bins leere|"
    r"\bpersonne ne (répond|repond|décroche|decroche)|injoignable|impossible de vous (joindre|contacter)|"
    r"\bnadie (contesta|responde|atiende|me atiende)|no (contestan|responden|atienden) (nunca|el teléfono|el telefono)|"
    r"imposible (contactar|comunicarse|hablar con ustedes)",
    re.IGNORECASE,
)
_FOLLOW_UP = re.compile(
    r"^\s*(and|what about|how about|und|und was ist mit|also|et pour|et quid de|y qué hay de)\b|"
    r"\b(the other( one)?|that one|same for|the second|the first|die andere|das andere|"
    r"l'autre|la deuxième|le deuxième|la première|le premier|el otro|la otra|el segundo|"
    r"la segunda|el primero|la primera)\b",
    re.IGNORECASE,
)
_ORDER_NUMBER = re.compile(r"#?\b[A-Z]?\d{5,12}\b")
_AMOUNT = re.compile(
    r"(?:[$€£]\s?(\d[\d.,]*\d|\d)|(\d[\d.,]*\d|\d)\s?(?:usd|eur|gbp|dollars?|euros?|€|\$))",
    re.IGNORECASE,
)
_HIGH_VALUE_INTENTS = {"refund_request", "cancel_order", "negotiation"}
# "rebate 350 dollars" reads like a refund status to the classifier, but nothing in it asks
# how a refund is getting on: a refund of a stated amount with no such word is a request.
_PROGRESS = re.compile(
    r"\b(wait\w*|expect\w*|where|status|processed|process|track\w*|still|yet|update|"
    r"arriv\w*|credited|when|how long|already|warte\w*|wo|wann|schon|noch|"
    r"où|quand|déjà|encore|toujours|statut|attends?|dónde|donde|cuándo|cuando|ya|todavía|"
    r"aún|estado|espero|esperando)\b",
    re.IGNORECASE,
)
# Calling the shop a fraud or a scam is a dispute in the making: a person answers it.
_ACCUSATION = re.compile(
    r"\b(you|you guys|you people|your (shop|store|company|site)|this (shop|store|company|site))"
    r"\s+(are|is|r)\s+(a\s+)?(fraud|frauds|scam|scammers|cheats?|cheaters|thie(f|ves)|crooks?)\b|"
    r"\b(ihr seid|sie sind|ihr laden ist)\s+(betrüger|abzocker)\b|"
    r"\b(vous êtes|vous etes|votre (site|boutique|magasin) est)\s+(des\s+|une\s+)?"
    r"(escrocs?|arnaqueurs?|voleurs?|arnaque)\b|"
    r"\b(sois|son|ustedes son|su (tienda|web|página) es)\s+(unos\s+|una\s+)?"
    r"(estafadores|ladrones|estafa|timadores)\b",
    re.IGNORECASE,
)

# A parcel that came broken, wrong or incomplete: the order's status is not the answer,
# however much the question reads like "where is my order" (a tier-0 template cannot
# address it, so the model answers with the order in front of it).
_PROBLEM = re.compile(
    r"\b(broken|damaged|defective|faulty|torn|cracked|smashed|leak\w*|missing|"
    r"wrong (item|size|colou?r|product|order|parcel|package)|"
    r"kaputt\w*|beschädigt\w*|beschaedigt\w*|defekt\w*|zerbrochen|gerissen|undicht|"
    r"falsche[nmrs]? (artikel|ware|größe|groesse|farbe|produkt|paket)|fehlt|fehlen|fehlende[nmrs]?)\b",
    re.IGNORECASE,
)

# A shopper announcing they are leaving is about to be lost; a person can still keep them.
_CHURN = re.compile(
    r"(?i:\b(i'?m|i\s+am|we'?re|we\s+are)\s+(so\s+|totally\s+|completely\s+|just\s+)?done\s+with\s+)"
    r"((?i:you\b|your\s+(shop|store|company|site|service|app)|this\s+(shop|store|company|site|service|app))|"
    # "done with CureKart": the shop's name, not "done with the payment"
    r"[A-Z]\w+)|"
    r"(?i:\bnever\s+(again\s+)?(order|buy|shop|purchas)\w*\s+(\w+\s+){0,2}(from|with|at|here)\b(\s+\w+){0,2}\s+again\b|"
    r"\b(take|taking)\s+my\s+(business|money)\s+elsewhere|"
    r"\b(lost|losing)\s+(a|another|one)\s+(loyal\s+)?customer|"
    r"\b(bestelle|kaufe)\s+(\w+\s+){0,2}nie\s+wieder|\bnie\s+wieder\s+bei\s+(euch|ihnen)|"
    r"\b(je\s+ne\s+)?(commanderai|achèterai|acheterai)\s+plus\s+(jamais\s+)?chez\s+vous|"
    r"\bplus\s+jamais\s+chez\s+vous|"
    r"\bnunca\s+más\s+(vuelvo\s+a\s+)?(compr\w+|pedir?|ped\w+)|\bno\s+vuelvo\s+a\s+compr\w+)"
)


@dataclass(frozen=True)
class Turn:
    role: str  # shopper, bot, agent, system
    text: str


@dataclass(frozen=True)
class RouteDecision:
    tier: int
    intent: str
    confidence: float
    escalate: bool
    reasons: tuple[str, ...]
    tier0: bool = False
    vector: np.ndarray | None = field(default=None, compare=False, repr=False)
    # The language the message is clearly written in (``routing.language``), else None.
    language: str | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "tier": self.tier,
            "intent": self.intent,
            "escalate": self.escalate,
            "reasons": list(self.reasons),
            "confidence": round(self.confidence, 3),
        }


# "agent please", "AGENT!": in a message this short, "agent" can only be a request.
_SHORT_AGENT = re.compile(r"\b(agent|agents|operator)\b", re.IGNORECASE)
_SHORT = 4


# A message that is nothing but "support" or "contact customer service": typed into the
# support chat itself, it asks for the people behind it ("customer service hours?" does not).
_BARE_SUPPORT = re.compile(
    r"^\W*(please\s+)?(contact|call|reach|get|need)?\s*(the\s+)?(customer\s+)?"
    r"(support|service|care|help\s*desk|kundenservice|kundendienst|support\s+team)"
    r"(\s+(team|please|pls|now|bitte))*\W*$",
    re.IGNORECASE,
)


def asks_for_person(text: str) -> bool:
    """Does the shopper explicitly ask for a person (English, German, French or Spanish)?"""
    if _PERSON.search(text) or _BARE_SUPPORT.search(text):
        return True
    return len(text.split()) <= _SHORT and bool(_SHORT_AGENT.search(text))


def _angry(text: str) -> bool:
    letters = [c for c in text if c.isalpha()]
    shouting = len(letters) >= 12 and sum(c.isupper() for c in letters) / len(letters) > 0.7
    return bool(_ANGER.search(text)) or shouting or "!!!" in text


def _number(raw: str) -> Decimal:
    """An amount as shoppers write it: "1,299.99" and "1.299,99" (German), "89,90" and
    "89.90", "1,299" and "1.299" (thousands)."""
    comma, dot = raw.rfind(","), raw.rfind(".")
    decimals = len(raw) - max(comma, dot) - 1
    if comma > dot and decimals in (1, 2):
        return Decimal(raw.replace(".", "").replace(",", "."))
    if dot > comma and decimals in (1, 2):
        return Decimal(raw.replace(",", ""))
    return Decimal(raw.replace(",", "").replace(".", ""))


def _tier0_margin(language: str | None, confidence: float) -> float:
    if confidence >= TIER0_SURE or language in (None, "en"):
        return TIER0_MARGIN
    return TIER0_MARGIN_OTHER_LANGUAGE


def _amount(text: str) -> Decimal | None:
    values = []
    for match in _AMOUNT.finditer(text):
        try:
            values.append(_number(match.group(1) or match.group(2) or ""))
        except InvalidOperation:
            continue
    return max(values) if values else None


@dataclass
class _Draft:
    top: IntentScore
    confidence: float
    margin: float
    # The lead over the best intent that tier 0 would answer differently (or not at all).
    tier0_margin: float = 0.0
    reasons: list[str] = field(default_factory=list)
    escalate: bool = False
    tier: int = 1

    def up(self, reason: str, to: int | None = None) -> None:
        self.reasons.append(reason)
        self.tier = min(3, to if to is not None else self.tier + 1)

    def hand_off(self, reason: str) -> None:
        if reason not in self.reasons:
            self.reasons.append(reason)
        self.escalate = True


def route_decide(
    *,
    text: str,
    history: Sequence[Turn] = (),
    customer_known: bool = False,
    order_value: Decimal | None = None,
    vector: np.ndarray | None = None,
) -> RouteDecision:
    """Route one shopper message given the conversation before it."""
    vector = embed(text) if vector is None else vector
    scores = classify(vector)
    draft = _draft(scores)
    earlier = [turn.text for turn in history if turn.role == "shopper"]
    _follow_up(draft, text, earlier)
    _conversation_rules(draft, text, vector, earlier)
    _text_rules(draft, text, order_value)
    language = message_language(text)
    # The shop's data would answer it, with no model...
    answerable = (
        draft.top.tier0
        and not draft.escalate
        and draft.confidence >= LOW_CONFIDENCE
        and draft.tier0_margin >= _tier0_margin(language, draft.confidence)
        and "low_confidence" not in draft.reasons
        and draft.tier == 0
    )
    # ...for a customer the chat knows; anyone else is asked to verify the order first.
    tier0 = answerable and customer_known
    tier = 0 if tier0 else max(draft.tier, 1)
    if answerable and not customer_known:
        draft.reasons.append("needs_verification")
    return RouteDecision(
        tier=tier,
        intent=draft.top.name,
        confidence=draft.confidence,
        escalate=draft.escalate,
        reasons=tuple(draft.reasons),
        tier0=tier0,
        vector=vector,
        language=language,
    )


def _draft(scores: Sequence[IntentScore]) -> _Draft:
    if not scores:
        empty = IntentScore("unknown", 1, False, False, 0.0)
        return _Draft(top=empty, confidence=0.0, margin=0.0, reasons=["no_catalogue"], tier=1)
    top = scores[0]
    margin = top.score - scores[1].score if len(scores) > 1 else top.score
    template = tier0_template(top.name) if top.tier0 else None
    rival = next(
        (s.score for s in scores[1:] if template is None or tier0_template(s.name) != template),
        0.0,
    )
    draft = _Draft(
        top=top, confidence=top.score, margin=margin, tier0_margin=top.score - rival, tier=top.tier
    )
    needed = ESCALATE_INTENT_MIN if top.name == "human_agent" else LOW_CONFIDENCE
    if top.escalate and top.score >= needed:
        draft.hand_off("asked_for_person" if top.name == "human_agent" else top.name)
    if top.score < LOW_CONFIDENCE:
        # Out of scope or unclear: a stronger model, never a confident template. Tier 3
        # stays for cases known to be complex; uncertainty alone goes at most to tier 2.
        draft.up("low_confidence", to=max(top.tier, min(top.tier + 1, 2)))
    return draft


def _follow_up(draft: _Draft, text: str, earlier: list[str]) -> None:
    """'and the other one?' after an order question is still an order question."""
    if not earlier or len(text.split()) > 8 or not _FOLLOW_UP.search(text):
        return
    previous = _draft(classify(embed(earlier[-1])))
    if previous.confidence >= LOW_CONFIDENCE and previous.confidence > draft.confidence:
        draft.top, draft.confidence, draft.margin, draft.tier0_margin = (
            previous.top,
            previous.confidence,
            previous.margin,
            previous.tier0_margin,
        )
        draft.tier = previous.top.tier
        draft.reasons = [r for r in draft.reasons if r != "low_confidence"] + ["follow_up"]


def _conversation_rules(draft: _Draft, text: str, vector: np.ndarray, earlier: list[str]) -> None:
    if not earlier:
        return
    recent = earlier[-3:]
    similar = [float(embed(previous) @ vector) for previous in recent]
    repeats = sum(s >= REPEAT_SIMILARITY for s in similar)
    if repeats >= 2:
        draft.hand_off("repeated_failure")
    elif repeats == 1:
        draft.up("repeated")
    if _angry(text) and _angry(earlier[-1]):
        draft.hand_off("rising_anger")
    previous = _draft(classify(embed(earlier[-1])))
    if "low_confidence" in draft.reasons and "low_confidence" in previous.reasons:
        draft.hand_off("low_confidence_again")


def _text_rules(draft: _Draft, text: str, order_value: Decimal | None) -> None:
    if asks_for_person(text):
        draft.hand_off("asked_for_person")
    if _UNREACHABLE.search(text):
        draft.hand_off("support_unreachable")
    if _LEGAL.search(text):
        draft.hand_off("legal_threat")
    if _ABUSE.search(text):
        draft.hand_off("abuse")
    if _ACCUSATION.search(text):
        draft.hand_off("fraud_accusation")
    if _CHURN.search(text):
        draft.hand_off("churn_risk")
    if draft.tier == 0 and _PROBLEM.search(text):
        draft.up("problem_reported")
    if _angry(text) and draft.tier < 3:
        draft.up("angry")
    numbers = {m.group(0).lstrip("#") for m in _ORDER_NUMBER.finditer(text)}
    if len(numbers) >= 2 and draft.tier < 3:
        draft.up("several_orders", to=3)
    asks_for_refund = draft.top.name == "refund_status" and not _PROGRESS.search(text)
    if draft.top.name in _HIGH_VALUE_INTENTS or (asks_for_refund and _amount(text)):
        value = max(v for v in (_amount(text), order_value, Decimal(0)) if v is not None)
        if value > settings.ESCALATE_REFUND_ABOVE_USD:
            draft.hand_off("high_value")
