"""Human escalation: the bot hands a conversation to a person, and back.

The conversation's state machine (``Conversation.state``); every arrow is one service
below, taken under ``select_for_update`` of the conversation row, recorded as an
``AgentAction``, and refused with ``IllegalTransition`` from any other state::

    bot ─escalate─▶ waiting ─claim─▶ agent ─resolve─▶ resolved ─reopen─▶ bot
     │                                 │ ▲                 ▲
     │                                 │ └─reassign─┘      │
     ├◀──────────hand back─────────────┘                   │
     └─────────────────────resolve_by_bot──────────────────┘

Escalating stops the bot: its open replies are flipped to failed (``handed_off``), so the
reply writer's conditional heartbeat/finish updates fail, and the shopper's consumer
drops bot frames while a person holds the conversation.

Frames go out only after commit. Widgets get ``state`` and ``message`` frames on the
conversation's group; agent consoles also get internal frames on
``conversation.agents_group_name`` and board changes on ``AGENTS_GROUP``
(docs/agent_protocol.md).

The package: ``transitions`` (the arrows above, notes, ratings, a contact address),
``shopper`` (a shopper's message under the hand-off rules), ``agents`` (who is an agent,
who is on duty), ``console`` (what the agent console reads), ``notices`` (what the
shopper reads), ``errors``, and ``common`` (the lock, checks and frames the writes share).
Callers import from the package.
"""

from __future__ import annotations

from support_bot.services.handoff.agents import (
    agent_availability_set,
    agent_display_name,
    agent_presence_touch,
    agents_on_duty,
    user_is_agent,
)
from support_bot.services.handoff.common import (
    AGENTS_GROUP,
    MAX_NOTE_CHARS,
    MAX_REPLY_CHARS,
)
from support_bot.services.handoff.console import (
    NoteCard,
    QueueItem,
    canned_reply_list,
    conversation_detail,
    conversation_groups,
    conversation_held_by,
    handoff_summary,
    note_payload,
    queue_board,
)
from support_bot.services.handoff.errors import (
    AgentNotOnDuty,
    AlreadyRated,
    AlreadyTaken,
    ContactNotAllowed,
    HandoffError,
    IllegalTransition,
    InvalidEmail,
    InvalidInput,
    InvalidRating,
    NotAnAgent,
    NotAssigned,
    RatingNotAllowed,
)
from support_bot.services.handoff.notices import NOTICES
from support_bot.services.handoff.shopper import (
    shopper_message_receive,
    shopper_typing_frame,
    wants_a_person,
)
from support_bot.services.handoff.transitions import (
    EscalationResult,
    agent_reply,
    contact_email_record,
    conversation_escalate,
    conversation_hand_back,
    conversation_reassign,
    conversation_reopen,
    conversation_resolve,
    conversation_resolve_by_bot,
    escalation_claim,
    note_add,
    rating_record,
)

__all__ = [
    "AGENTS_GROUP",
    "MAX_NOTE_CHARS",
    "MAX_REPLY_CHARS",
    "NOTICES",
    "AgentNotOnDuty",
    "AlreadyRated",
    "AlreadyTaken",
    "ContactNotAllowed",
    "EscalationResult",
    "HandoffError",
    "IllegalTransition",
    "InvalidEmail",
    "InvalidInput",
    "InvalidRating",
    "NotAnAgent",
    "NotAssigned",
    "NoteCard",
    "QueueItem",
    "RatingNotAllowed",
    "agent_availability_set",
    "agent_display_name",
    "agent_presence_touch",
    "agent_reply",
    "agents_on_duty",
    "canned_reply_list",
    "contact_email_record",
    "conversation_detail",
    "conversation_escalate",
    "conversation_groups",
    "conversation_hand_back",
    "conversation_held_by",
    "conversation_reassign",
    "conversation_reopen",
    "conversation_resolve",
    "conversation_resolve_by_bot",
    "escalation_claim",
    "handoff_summary",
    "note_add",
    "note_payload",
    "queue_board",
    "rating_record",
    "shopper_message_receive",
    "shopper_typing_frame",
    "user_is_agent",
    "wants_a_person",
]
