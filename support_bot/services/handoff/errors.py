"""The hand-off's errors: each says what the caller did wrong, for the agent console
and the widget to show."""

from __future__ import annotations


class HandoffError(Exception):
    """A refused handoff request; ``code`` is what the websocket error frame carries."""

    code = "handoff_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConversationNotFound(HandoffError):
    code = "not_found"


class IllegalTransition(HandoffError):
    code = "illegal_transition"


class AlreadyTaken(IllegalTransition):
    code = "already_taken"

    def __init__(self, holder: str) -> None:
        super().__init__(f"Already taken by {holder}.")
        self.holder = holder


class NotAssigned(IllegalTransition):
    code = "not_assigned"


class NotAnAgent(HandoffError):
    code = "not_an_agent"


class AgentNotOnDuty(HandoffError):
    code = "not_on_duty"


class InvalidInput(HandoffError):
    code = "invalid_input"


class InvalidRating(InvalidInput):
    code = "invalid_rating"


class InvalidEmail(InvalidInput):
    code = "invalid_email"


class RatingNotAllowed(HandoffError):
    code = "not_resolved"


class AlreadyRated(HandoffError):
    code = "already_rated"


class ContactNotAllowed(HandoffError):
    code = "not_waiting"
