"""What the shopper reads when a person joins, leaves or is waited for (en/de/fr/es)."""

from __future__ import annotations

NOTICES: dict[str, dict[str, str]] = {
    "queued": {
        "en": "I'm passing you to a person from our support team. You're number {position} "
        "in the queue; the wait is about {minutes} minutes.",
        "de": "Ich leite Sie an eine Person aus unserem Support-Team weiter. Sie sind Nummer "
        "{position} in der Warteschlange; die Wartezeit beträgt etwa {minutes} Minuten.",
        "fr": "Je vous transfère à une personne de notre équipe d'assistance. Vous êtes "
        "numéro {position} dans la file d'attente ; l'attente est d'environ {minutes} minutes.",
        "es": "Te paso con una persona de nuestro equipo de soporte. Eres el número "
        "{position} en la cola; la espera es de unos {minutes} minutos.",
    },
    "queued_soon": {
        "en": "I'm passing you to a person from our support team. You're number {position} "
        "in the queue; someone will be with you in a few minutes.",
        "de": "Ich leite Sie an eine Person aus unserem Support-Team weiter. Sie sind Nummer "
        "{position} in der Warteschlange; in wenigen Minuten ist jemand für Sie da.",
        "fr": "Je vous transfère à une personne de notre équipe d'assistance. Vous êtes "
        "numéro {position} dans la file d'attente ; quelqu'un sera avec vous dans quelques "
        "minutes.",
        "es": "Te paso con una persona de nuestro equipo de soporte. Eres el número "
        "{position} en la cola; alguien te atenderá en unos minutos.",
    },
    "nobody": {
        "en": "Nobody from our support team is available right now. Please leave your email "
        "address here and we'll get back to you as soon as we can.",
        "de": "Gerade ist leider niemand aus unserem Support-Team erreichbar. Hinterlassen Sie "
        "hier Ihre E-Mail-Adresse, dann melden wir uns so schnell wie möglich.",
        "fr": "Personne de notre équipe d'assistance n'est disponible pour le moment. "
        "Laissez-nous votre adresse e-mail ici et nous vous répondrons dès que possible.",
        "es": "Ahora mismo no hay nadie disponible en nuestro equipo de soporte. Déjanos aquí "
        "tu dirección de correo electrónico y te responderemos lo antes posible.",
    },
    "joined": {
        "en": "{name} from our support team has joined the chat.",
        "de": "{name} aus unserem Support-Team ist jetzt im Chat.",
        "fr": "{name}, de notre équipe d'assistance, a rejoint la conversation.",
        "es": "{name}, de nuestro equipo de soporte, se ha unido al chat.",
    },
    "joined_unnamed": {
        "en": "A person from our support team has joined the chat.",
        "de": "Eine Person aus unserem Support-Team ist jetzt im Chat.",
        "fr": "Une personne de notre équipe d'assistance a rejoint la conversation.",
        "es": "Una persona de nuestro equipo de soporte se ha unido al chat.",
    },
    "handed_back": {
        "en": "You're chatting with our virtual assistant again. You can ask for a person at "
        "any time.",
        "de": "Sie chatten jetzt wieder mit unserem virtuellen Assistenten. Sie können "
        "jederzeit nach einer Person fragen.",
        "fr": "Vous discutez de nouveau avec notre assistant virtuel. Vous pouvez demander "
        "une personne à tout moment.",
        "es": "Vuelves a hablar con nuestro asistente virtual. Puedes pedir una persona "
        "cuando quieras.",
    },
    "contact_saved": {
        "en": "Thanks! We'll reply to {email} as soon as someone is available.",
        "de": "Danke! Wir antworten an {email}, sobald jemand verfügbar ist.",
        "fr": "Merci ! Nous répondrons à {email} dès que quelqu'un sera disponible.",
        "es": "¡Gracias! Responderemos a {email} en cuanto haya alguien disponible.",
    },
}


def _notice(key: str, language: str, **values: object) -> str:
    texts = NOTICES[key]
    return texts.get(language, texts["en"]).format(**values)
