"""Which language a shopper's message is written in, among those the bot answers in.

A conversation starts in the language the shop's page gives the widget (or the
customer's); a shopper who then writes in another of the bot's languages is answered in
that one. Short or mixed messages ("ok", "Danke, and the tracking?") say too little and
keep the conversation's language.

No detection library is installed here, and the choice is between four languages whose
commonest words barely overlap: counting them is enough, and costs microseconds.
"""

from __future__ import annotations

import re


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Frequent words of each language that are rare in the other three (no "die", "was",
# "will", "es", "a", "de", "la", "me", "no": two of them share those).
_WORDS: dict[str, frozenset[str]] = {
    "en": _words(
        "the is are were my your you i we where what when how why which can could "
        "would should please thanks thank have has had not don't it's i'm this that "
        "with for and of to order parcel package delivery refund return still yet "
        "already been any there does did do get got"
    ),
    "de": _words(
        "ist sind war wurde wird mein meine meiner meinem meinen dein ihr euch ich wir "
        "wo wann wie warum welche welcher kann können könnt könnten bitte danke habe hat "
        "hatte nicht kein keine das der den dem und oder mit für von zu zum zur bei auf "
        "noch schon bestellung paket lieferung sendung erstattung rücksendung ware "
        "gibt geht möchte will muss ein eine einen einer"
    ),
    "fr": _words(
        "est sont était mon ma mes votre vos vous je nous où quand comment pourquoi "
        "quel quelle puis peux pouvez merci bonjour ai avez avons pas ne et le les un "
        "une des du au aux pour avec sur dans commande colis livraison remboursement "
        "retour encore déjà toujours c'est j'ai qu'il"
    ),
    "es": _words(
        "son era está están mi mis su sus usted yo nosotros dónde donde cuándo cuando "
        "cómo por qué cuál puedo puede pueden gracias hola tengo tiene tienen y el los "
        "las una del al para con en pedido paquete envío entrega reembolso devolución "
        "todavía ya aún quiero necesito"
    ),
}
_LETTERS: dict[str, str] = {"de": "äöüß", "fr": "éèêàçœëîôù", "es": "ñ¿¡áíóú"}
_TOKENS = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?", re.UNICODE)
# Words of the winning language needed, and its lead over the runner-up.
MIN_WORDS = 2
MIN_LEAD = 2


def message_language(text: str) -> str | None:
    """ "en", "de", "fr" or "es" when the message is clearly written in it, else None."""
    tokens = [token.lower() for token in _TOKENS.findall(text)]
    if len(tokens) < 3:
        return None
    scores = {
        language: sum(token in words for token in tokens) for language, words in _WORDS.items()
    }
    lowered = text.lower()
    for language, letters in _LETTERS.items():
        if any(letter in lowered for letter in letters):
            scores[language] += 1
    ranked = sorted(scores.items(), key=lambda item: item[1], reverse=True)
    (best, top), (_, second) = ranked[0], ranked[1]
    if top >= MIN_WORDS and top - second >= MIN_LEAD:
        return best
    return None
