"""What a question asks to have done, for the cache's second guard.

The routing catalogue has one intent per answer, but a classifier can still put "how do
I delete my account" and "how do I create my account" (embeddings 0.8+ apart) under one
intent. The frame is the set of actions a question names, each a small family of
synonyms; every hit but an exact one needs equal frames (the answer key includes it). A question whose
verb is not listed here has an empty frame and only matches another such question.

An intent implies some actions: nearly every phrasing of ``recover_password`` names
"recover" or "password". Those say nothing more once the intent is known, so the answer
key leaves them out (``answer_frame``): "reset my password" and "I can't get into my
account" then share an answer, while "delete my account" misfiled under
``create_account`` still keeps "delete" and misses.
"""

from __future__ import annotations

import re
import threading
from collections import Counter

_ACTIONS: dict[str, str] = {
    "cancel": r"cancel\w*|annul\w*|call(?:ing)? off|revok\w*|stornier\w*",
    "create": r"creat\w*|open(?:ing)? (?:up )?(?:a |an |my |new )*(?:\w+ )?account|sign(?:ing)?[- ]?up|"
    r"signup|regist\w*|enrol\w*|new (?:\w+ )?account|make (?:a |an )?(?:\w+ )?account",
    "delete": r"delet\w*|remov\w*|clos(?:e|ing) (?:my |the |a )*(?:\w+ )?account|deactivat\w*|"
    r"terminat\w*|eras\w*|get rid|löschen",
    "edit": r"edit\w*|modif\w*|updat\w*|correct\w*|amend\w*|"
    r"chang\w* (?:the |my |some )*(?:details|info|information|data|name|e-?mail|personal)",
    "switch": r"switch\w*|(?:chang|mov|go|upgrad|downgrad)\w* (?:\w+ )?to (?:a |an |the )?\w+ account|"
    r"upgrad\w*|downgrad\w*",
    "recover": r"recover\w*|reset\w*|forg[eo]t\w*|retriev\w*|restor\w*|"
    r"lost (?:my )?(?:password|pass|key|pin)",
    "track": r"track\w*|trac(?:e|ing)\b|where(?:'?s| is| are)",
    "return": r"return\w*|send (?:it |them )?back|zurückschick\w*|rücksend\w*",
    "refund": r"refund\w*|reimburs\w*|money back|rebate\w*|repay\w*|cashback|erstatt\w*",
    "exchange": r"exchang\w*|swap\w*|replac\w*|umtausch\w*",
    "subscribe": r"(?<!un)subscri\w*",
    "unsubscribe": r"unsubscri\w*|opt(?:ing)? out|stop (?:the |receiving )*(?:e-?mails|newsletter)",
    "complain": r"complain\w*|complaint\w*|reclamation|dissatisf\w*|unhappy|not happy",
    "review": r"review\w*|feedback|opinion\w*|testimonial\w*|\brate\b|rating",
    "contact": r"contact\w*|speak\w*|talk\w*|\bcall\b|calling|phone|reach\w*|customer (?:service|support|care)",
    "pay": r"\bpay\w*|payment\w*|instal+ments?|\bemi\b|cash on delivery|\bcod\b",
    "invoice": r"invoice\w*|\bbills?\b|receipt\w*|rechnung\w*",
    "address": r"address\w*|adresse",
    "password": r"password\w*|passcode|log ?in|sign ?in|anmelden",
    "fee": r"\bfees?\b|penalt\w*|surcharge|how much (?:does|do|is|will) (?:it|the|cancel)",
    "warranty": r"warrant\w*|guarantee\w*|garantie",
    "trial": r"\btrial\w*|test (?:it|the)",
    "problem": r"problem\w*|\bissues?\b|\berrors?\b|trouble\w*|fail\w*|declin\w*|"
    r"(?:does|did|is)n'?t work\w*|not work\w*|wrong",
}
# Each family starts at a word ("credit" is no edit, "prepay" no payment).
_PATTERNS = {
    name: re.compile(rf"\b(?:{pattern})", re.IGNORECASE) for name, pattern in _ACTIONS.items()
}


def question_frame(text: str) -> frozenset[str]:
    """The action families a question names."""
    return frozenset(name for name, pattern in _PATTERNS.items() if pattern.search(text))


def frames_agree(a: str, b: str) -> bool:
    return question_frame(a) == question_frame(b)


# An action named by at least this share of an intent's phrasings is implied by it.
IMPLIED_SHARE = 0.5
_implied_lock = threading.Lock()
_implied: tuple[object, dict[str, frozenset[str]]] = (None, {})


def intent_actions(intent: str) -> frozenset[str]:
    """The actions the catalogue's phrasings of ``intent`` mostly name."""
    global _implied
    from routing.classifier import catalogue_version
    from routing.models import IntentExample

    version = catalogue_version()
    with _implied_lock:
        if _implied[0] != version:
            texts: dict[str, list[str]] = {}
            for name, text in IntentExample.objects.values_list("intent__name", "text"):
                texts.setdefault(name, []).append(text)
            implied = {}
            for name, phrasings in texts.items():
                counts = Counter(action for t in phrasings for action in question_frame(t))
                implied[name] = frozenset(
                    action for action, n in counts.items() if n >= IMPLIED_SHARE * len(phrasings)
                )
            _implied = (version, implied)
        return _implied[1].get(intent, frozenset())


def answer_frame(text: str, intent: str) -> frozenset[str]:
    """The actions a question names beyond what its intent implies."""
    return question_frame(text) - intent_actions(intent)
