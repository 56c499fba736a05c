"""The things in a question that change its answer, for the cache's entity guard.

A semantic cache hit needs equal entity sets: "track order 3707955617" must never be
answered with what was said about order 732201349959, nor "shipping to Canada" with what
was said about Japan. The extractor is deliberately greedy: a spurious entity costs one
cache miss (a provider call), a missed one can cost a wrong answer.

Entities are typed, normalised strings (``num:1499``, ``country:canada``, ``size:xl``).
Shop product names come from the catalogue (``product_vocabulary``), refreshed now and
then; everything else is text-only.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterable

_NUMBER = re.compile(r"\d[\d,.]*\d|\d")
_TOKEN = re.compile(r"[#@\w][\w.@+-]*")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")
_URL = re.compile(r"https?://\S+|www\.\S+", re.IGNORECASE)
# Words that people glue to a number ("order732201349959", "inv#00108"): not codes.
_GLUE = re.compile(r"^(?:#|no|nr|n°|id|ref|order|orders|purchase|invoice|bill|receipt|item)+", re.I)
_CURRENCIES = {
    "$": "usd",
    "usd": "usd",
    "dollar": "usd",
    "dollars": "usd",
    "bucks": "usd",
    "€": "eur",
    "eur": "eur",
    "euro": "eur",
    "euros": "eur",
    "£": "gbp",
    "gbp": "gbp",
    "pound": "gbp",
    "pounds": "gbp",
    "₹": "inr",
    "inr": "inr",
    "rs": "inr",
    "rupee": "inr",
    "rupees": "inr",
    "chf": "chf",
    "cad": "cad",
    "aud": "aud",
    "¥": "jpy",
    "yen": "jpy",
}
_CURRENCY = re.compile(
    r"[$€£₹¥]|\b(?:" + "|".join(k for k in _CURRENCIES if k.isalpha()) + r")\b", re.I
)

COUNTRIES = {
    "afghanistan", "albania", "algeria", "andorra", "angola", "argentina", "armenia",
    "australia", "austria", "azerbaijan", "bahamas", "bahrain", "bangladesh", "barbados",
    "belarus", "belgium", "belize", "benin", "bhutan", "bolivia", "bosnia", "botswana",
    "brazil", "brunei", "bulgaria", "burkina faso", "burundi", "cambodia", "cameroon",
    "canada", "chad", "chile", "china", "colombia", "congo", "costa rica", "croatia",
    "cuba", "cyprus", "czech republic", "czechia", "denmark", "djibouti", "dominica",
    "dominican republic", "ecuador", "egypt", "el salvador", "estonia", "eswatini",
    "ethiopia", "fiji", "finland", "france", "gabon", "gambia", "georgia", "germany",
    "ghana", "greece", "greenland", "guatemala", "guinea", "guyana", "haiti", "honduras",
    "hong kong", "hungary", "iceland", "india", "indonesia", "iran", "iraq", "ireland",
    "israel", "italy", "ivory coast", "jamaica", "japan", "jordan", "kazakhstan", "kenya",
    "kosovo", "kuwait", "kyrgyzstan", "laos", "latvia", "lebanon", "lesotho", "liberia",
    "libya", "liechtenstein", "lithuania", "luxembourg", "macau", "madagascar", "malawi",
    "malaysia", "maldives", "mali", "malta", "mauritania", "mauritius", "mexico",
    "moldova", "monaco", "mongolia", "montenegro", "morocco", "mozambique", "myanmar",
    "namibia", "nepal", "netherlands", "holland", "new zealand", "nicaragua", "niger",
    "nigeria", "north korea", "north macedonia", "norway", "oman", "pakistan", "panama",
    "paraguay", "peru", "philippines", "poland", "portugal", "puerto rico", "qatar",
    "romania", "russia", "rwanda", "san marino", "saudi arabia", "senegal", "serbia",
    "singapore", "slovakia", "slovenia", "somalia", "south africa", "south korea", "korea",
    "spain", "sri lanka", "sudan", "suriname", "sweden", "switzerland", "syria", "taiwan",
    "tajikistan", "tanzania", "thailand", "togo", "trinidad", "tunisia", "turkey",
    "turkmenistan", "uganda", "ukraine", "united arab emirates", "uae", "united kingdom",
    "uk", "great britain", "britain", "england", "scotland", "wales", "northern ireland",
    "united states", "usa", "us", "america", "uruguay", "uzbekistan", "venezuela",
    "vietnam", "yemen", "zambia", "zimbabwe", "europe", "asia", "africa", "deutschland",
    "österreich", "schweiz", "frankreich", "spanien", "italien", "abroad", "overseas",
    "international", "internationally", "domestic", "eu",
}  # fmt: skip
# Spellings that name the same place.
_COUNTRY_ALIASES = {
    "usa": "united states",
    "us": "united states",
    "america": "united states",
    "uk": "united kingdom",
    "great britain": "united kingdom",
    "britain": "united kingdom",
    "holland": "netherlands",
    "czechia": "czech republic",
    "uae": "united arab emirates",
    "deutschland": "germany",
    "österreich": "austria",
    "schweiz": "switzerland",
    "frankreich": "france",
    "spanien": "spain",
    "italien": "italy",
    "korea": "south korea",
    "overseas": "abroad",
    "internationally": "international",
}
CITIES = {
    "amsterdam", "athens", "atlanta", "auckland", "austin", "baltimore", "bangalore",
    "bangkok", "barcelona", "beijing", "belfast", "berlin", "birmingham", "bogota",
    "bordeaux", "boston", "bristol", "brussels", "bucharest", "budapest", "buenos aires",
    "cairo", "calgary", "cape town", "chennai", "chicago", "cologne", "copenhagen",
    "dallas", "delhi", "new delhi", "denver", "detroit", "dortmund", "dresden", "dubai",
    "dublin", "dusseldorf", "düsseldorf", "edinburgh", "florence", "frankfurt", "geneva",
    "glasgow", "gothenburg", "hamburg", "hanover", "helsinki", "houston", "hyderabad",
    "istanbul", "jakarta", "johannesburg", "karachi", "kolkata", "krakow", "kyiv", "kiev",
    "lagos", "las vegas", "leeds", "leipzig", "lima", "lisbon", "liverpool", "london",
    "los angeles", "lyon", "madrid", "manchester", "manila", "marseille", "melbourne",
    "miami", "milan", "minneapolis", "montreal", "moscow", "mumbai", "munich", "naples",
    "nashville", "new york", "nice", "nuremberg", "oakland", "orlando", "osaka", "oslo",
    "ottawa", "paris", "perth", "philadelphia", "phoenix", "pittsburgh", "porto",
    "portland", "prague", "pune", "rio de janeiro", "riga", "rome", "rotterdam",
    "san diego", "san francisco", "san jose", "santiago", "sao paulo", "seattle", "seoul",
    "seville", "shanghai", "singapore", "stockholm", "stuttgart", "sydney", "taipei",
    "tallinn", "tel aviv", "tokyo", "toronto", "turin", "valencia", "vancouver", "venice",
    "vienna", "vilnius", "warsaw", "washington", "wellington", "zagreb", "zurich", "zürich",
    "köln", "münchen", "wien",
}  # fmt: skip
COLOURS = {
    "black", "white", "red", "blue", "green", "yellow", "orange", "purple", "violet",
    "pink", "brown", "grey", "gray", "beige", "navy", "teal", "turquoise", "gold",
    "silver", "bronze", "cream", "ivory", "khaki", "olive", "maroon", "burgundy",
    "charcoal", "tan", "coral", "mint", "lavender", "magenta", "cyan", "indigo", "rose",
    "nude", "camel", "mustard", "schwarz", "weiss", "weiß", "rot", "blau", "grün", "gelb",
}  # fmt: skip
_COLOUR_ALIASES = {"gray": "grey", "weiß": "white", "weiss": "white", "schwarz": "black",
                   "rot": "red", "blau": "blue", "grün": "green", "gelb": "yellow"}  # fmt: skip
# Membership or account tiers change an answer about that tier ("free" vs "gold").
_PLAN_WORDS = (
    r"free|freemium|premium|pro|gold|golden|platinum|silver|bronze|standard|basic|plus|"
    r"business|student|family|vip|enterprise|starter|personal|trial"
)
# A plan word glued to the word before it ("creating aPro account") still counts.
_PLAN = re.compile(
    rf"(?:\b|(?-i:(?<=[a-z])(?=[A-Z])))({_PLAN_WORDS})\s*(?:-\s*)?(?:user\s+)?(?:account|plan|membership|subscription|tier|member|level|version|card|"
    r"profile|acount|accout|accont|accunt|accounmt|acct)s?\b",
    re.IGNORECASE,
)
# What may follow "size": a size, not any word ("what size to order" names none). Sizes
# given as numbers are entities as numbers too.
_SIZE_VALUE = (
    r"xxs|xs|s|m|l|xl|xxl|xxxl|[2-5]xl|small|medium|large|king|queen|single|double|twin|"
    r"full|petite|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|"
    r"fourteen|sixteen|eighteen|twenty|\d+(?:[.,/x]\d+)*"
)
_SIZE = re.compile(
    rf"\b(?:size|sized|gr(?:ö|oe)(?:ß|ss)e)\b\s*:?\s*({_SIZE_VALUE})\b|\b(xxs|xs|xxl|xxxl|[2-5]xl|xl)\b|"
    r"\b(king|queen|single|double|twin|full|petite|plus|small|medium|large|custom|"
    r"customi[sz]ed?)\s*[- ]?size[ds]?\b",
    re.IGNORECASE,
)
_MONTHS = re.compile(
    r"\b(jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|jun(?:e)?|jul(?:y)?|"
    r"aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\b\.?(?=\s*\d)|"
    r"\b(january|february|april|june|july|august|september|october|november|december)\b",
    re.IGNORECASE,
)
_DAYS = re.compile(
    r"\b(today|tonight|tomorrow|yesterday|monday|tuesday|wednesday|thursday|friday|"
    r"saturday|sunday|weekend|next week|this week|last week|next month|last month|"
    r"this month|heute|morgen|gestern)\b",
    re.IGNORECASE,
)
_TITLE_NAME = re.compile(r"\b(mr|mrs|ms|miss|dr|herr|frau)\.?\s+([A-Za-z][\w'-]+)", re.I)
_WORD = re.compile(r"[^\W\d_]+")


def _number(raw: str) -> str:
    """'1,499.00' -> '1499', '00123842' -> '123842', '12.5' -> '12.5'."""
    text = raw.replace(",", "")
    if "." in text:
        whole, _, fraction = text.partition(".")
        if set(fraction) <= {"0"} or not fraction:
            text = whole
        elif "." in fraction:  # a date or version ("12.05.2024"): keep its digits
            text = text.replace(".", "")
    stripped = text.lstrip("0")
    return stripped if stripped and not stripped.startswith(".") else text or "0"


def _phrases(words: list[str], vocabulary: Iterable[str]) -> set[str]:
    """Which of the single- or multi-word ``vocabulary`` entries occur in ``words``."""
    found: set[str] = set()
    joined = f" {' '.join(words)} "
    for entry in vocabulary:
        if f" {entry} " in joined:
            found.add(entry)
    return found


def _numbers(text: str, without: str) -> set[str]:
    body = _EMAIL.sub(" ", _URL.sub(" ", without))
    return {f"num:{_number(raw)}" for raw in _NUMBER.findall(body)}


def _codes(text: str) -> set[str]:
    codes = set()
    for token in _TOKEN.findall(text):
        bare = _GLUE.sub("", token.strip(".-+"))
        if any(c.isdigit() for c in bare) and any(c.isalpha() for c in bare) and "@" not in bare:
            codes.add(f"code:{re.sub(r'[^0-9A-Za-z]', '', bare).upper()}")
    return codes


def _currencies(text: str) -> set[str]:
    return {f"cur:{_CURRENCIES[m.group(0).lower()]}" for m in _CURRENCY.finditer(text)}


def _places(words: list[str]) -> set[str]:
    found = {
        f"country:{_COUNTRY_ALIASES.get(c, c)}"
        for c in _phrases(words, COUNTRIES)
        if c != "us" or "the us" in " ".join(words)  # "us" is mostly the pronoun
    }
    found |= {f"city:{c}" for c in _phrases(words, CITIES)}
    return found


def _colours(words: list[str], plan: set[str]) -> set[str]:
    plans = {entity.split(":", 1)[1] for entity in plan}
    return {f"colour:{_COLOUR_ALIASES.get(w, w)}" for w in words if w in COLOURS and w not in plans}


def _sizes(text: str) -> set[str]:
    found = set()
    for match in _SIZE.finditer(text):
        value = next(g for g in match.groups() if g).lower()
        found.add("size:custom" if value.startswith("custom") else f"size:{value}")
    return found


def _plans(text: str) -> set[str]:
    return {f"plan:{m.group(1).lower().replace('golden', 'gold')}" for m in _PLAN.finditer(text)}


def _dates(text: str) -> set[str]:
    found = {f"month:{(m.group(1) or m.group(2)).lower()[:3]}" for m in _MONTHS.finditer(text)}
    found |= {f"day:{m.group(1).lower()}" for m in _DAYS.finditer(text)}
    return found


def _names(text: str, vocabulary: frozenset[str]) -> set[str]:
    """People and proper nouns: "Mr. Smith", and capitalised words mid-sentence that are
    no ordinary word of a shop conversation ("bills from Anna Freeman", "SOF Ergo")."""
    found = {f"name:{m.group(2).lower()}" for m in _TITLE_NAME.finditer(text)}
    for sentence in re.split(r"(?<=[.!?])\s+|\n", text):
        words = _WORD.findall(sentence)
        if (
            len(words) >= 3
            and all(w[0].isupper() for w in words)
            and sum(w.lower() in vocabulary for w in words) * 2 >= len(words)
        ):
            continue  # Title Case of ordinary words: a capital says nothing ("Need Nearby Store")
        for word in words[1:]:
            lowered = word.lower()
            if (
                word[0].isupper()
                and len(word) > 1
                and lowered not in vocabulary
                and lowered not in COUNTRIES
                and lowered not in CITIES
                and lowered not in COLOURS
                and word not in {"I", "OK", "Hi", "Hello"}
            ):
                found.add(f"name:{lowered}")
    return found


def _products(words: list[str]) -> set[str]:
    return {f"product:{name}" for name in _phrases(words, product_vocabulary())}


def question_entities(text: str, *, common_words: frozenset[str] = frozenset()) -> frozenset[str]:
    """The typed, normalised entities of one shopper message."""
    emails = {f"email:{e.lower()}" for e in _EMAIL.findall(text)}
    urls = {f"url:{u.lower().rstrip('/.')}" for u in _URL.findall(text)}
    words = [w.lower() for w in _WORD.findall(text)]
    plans = _plans(text)
    entities = (
        emails
        | urls
        | _numbers(text, text)
        | _codes(_EMAIL.sub(" ", _URL.sub(" ", text)))
        | _currencies(text)
        | _places(words)
        | plans
        | _colours(words, plans)
        | _sizes(text)
        | _dates(text)
        | _names(text, common_words or _common_words())
        | _products(words)
    )
    return frozenset(entities)


# --- vocabularies that come from the database, refreshed now and then ---------------

REFRESH_SECONDS = 60.0
_lock = threading.Lock()
_products_cache: tuple[float, frozenset[str]] = (0.0, frozenset())
_common_cache: frozenset[str] | None = None
# Words of a shop conversation that may be capitalised without naming anything.
_BASE_WORDS = [
    "a",
    "about",
    "account",
    "after",
    "again",
    "all",
    "also",
    "am",
    "an",
    "and",
    "any",
    "anyone",
    "are",
    "as",
    "ask",
    "at",
    "back",
    "be",
    "because",
    "been",
    "before",
    "bill",
    "but",
    "buy",
    "by",
    "can",
    "cancel",
    "card",
    "cart",
    "change",
    "check",
    "code",
    "contact",
    "could",
    "credit",
    "customer",
    "day",
    "days",
    "deliver",
    "delivery",
    "did",
    "do",
    "does",
    "don",
    "dont",
    "email",
    "for",
    "from",
    "get",
    "give",
    "good",
    "got",
    "had",
    "has",
    "have",
    "hello",
    "help",
    "hey",
    "hi",
    "how",
    "i",
    "if",
    "in",
    "info",
    "information",
    "invoice",
    "is",
    "it",
    "item",
    "items",
    "just",
    "know",
    "last",
    "let",
    "like",
    "lost",
    "me",
    "mine",
    "money",
    "more",
    "my",
    "need",
    "new",
    "no",
    "not",
    "now",
    "number",
    "of",
    "on",
    "one",
    "online",
    "or",
    "order",
    "orders",
    "our",
    "out",
    "parcel",
    "password",
    "pay",
    "payment",
    "phone",
    "please",
    "policy",
    "problem",
    "product",
    "purchase",
    "receipt",
    "refund",
    "return",
    "returns",
    "right",
    "send",
    "service",
    "ship",
    "shipping",
    "shop",
    "so",
    "some",
    "status",
    "still",
    "support",
    "thank",
    "thanks",
    "that",
    "the",
    "their",
    "them",
    "then",
    "there",
    "these",
    "they",
    "this",
    "time",
    "to",
    "track",
    "tracking",
    "understand",
    "up",
    "us",
    "use",
    "want",
    "was",
    "we",
    "what",
    "when",
    "where",
    "which",
    "who",
    "why",
    "will",
    "with",
    "would",
    "yes",
    "yet",
    "you",
    "your",
    "hallo",
    "bitte",
    "danke",
    "ich",
    "meine",
    "mein",
    "bestellung",
    "wo",
    "wie",
    "was",
]


def _common_words() -> frozenset[str]:
    """Ordinary words of a shop conversation: the intent catalogue's own vocabulary."""
    global _common_cache
    if _common_cache is None:
        from routing.catalogue import CATALOGUE

        words = set(_BASE_WORDS)
        for spec in CATALOGUE.values():
            for phrase in [*spec["examples"], spec["description"]]:
                words.update(w.lower() for w in _WORD.findall(phrase))
        _common_cache = frozenset(words)
    return _common_cache


def product_vocabulary() -> frozenset[str]:
    """Lower-case product names of the shop's catalogue (empty without a database)."""
    global _products_cache
    with _lock:
        at, names = _products_cache
        if time.monotonic() - at < REFRESH_SECONDS:
            return names
    try:
        from orders.models import Product

        names = frozenset(
            " ".join(_WORD.findall(name.lower()))
            for name in Product.objects.values_list("name", flat=True)[:5000]
        )
    except Exception:  # no database here (the eval command on a bare checkout)
        names = frozenset()
    with _lock:
        _products_cache = (time.monotonic(), names)
    return names


def reset_vocabularies() -> None:
    """Forget cached vocabularies (tests; the catalogue changed)."""
    global _products_cache
    with _lock:
        _products_cache = (0.0, frozenset())
