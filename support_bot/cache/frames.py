"""What a question asks to have done, for the cache's second guard.

The routing catalogue has one intent per answer, but a classifier can still put "how do
I delete my account" and "how do I create my account" (embeddings 0.8+ apart) under one
intent. The frame is the set of actions a question names, each a small family of
synonyms; every hit but an exact one needs equal frames (the answer key includes it). A question whose
verb is not listed here has an empty frame and only matches another such question.
"""

from __future__ import annotations

import re

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
_PATTERNS = {name: re.compile(pattern, re.IGNORECASE) for name, pattern in _ACTIONS.items()}


def question_frame(text: str) -> frozenset[str]:
    """The action families a question names."""
    return frozenset(name for name, pattern in _PATTERNS.items() if pattern.search(text))


def frames_agree(a: str, b: str) -> bool:
    return question_frame(a) == question_frame(b)
