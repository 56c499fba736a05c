"""Human escalation: the handoff services and the conversation's state machine."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.db import connection
from django.utils import timezone

from orders.models import Customer
from support_bot.models import (
    AgentAction,
    AgentPresence,
    Conversation,
    InternalNote,
    Message,
    Rating,
)
from support_bot.services import handoff
from support_bot.services.handoff import (
    AgentNotOnDuty,
    AlreadyRated,
    AlreadyTaken,
    ContactNotAllowed,
    IllegalTransition,
    InvalidEmail,
    InvalidInput,
    InvalidRating,
    NotAnAgent,
    NotAssigned,
    RatingNotAllowed,
    agent_availability_set,
    agent_presence_touch,
    agent_reply,
    agents_on_duty,
    contact_email_record,
    conversation_escalate,
    conversation_hand_back,
    conversation_reassign,
    conversation_reopen,
    conversation_resolve,
    conversation_resolve_by_bot,
    escalation_claim,
    handoff_summary,
    note_add,
    queue_board,
    rating_record,
    shopper_message_receive,
    wants_a_person,
)
from support_bot.services.handoff.errors import ConversationNotFound
from support_bot.services.messages import (
    Received,
    reply_claim,
    reply_finish,
    reply_heartbeat,
)
from tests.conftest import SUPPORT_AGENTS
from tests.factories import CustomerFactory, OrderFactory

pytestmark = [pytest.mark.django_db, pytest.mark.embedded]


# --- fixtures ------------------------------------------------------------------------------


def make_agent(username: str, first_name: str = "") -> User:
    group, _ = Group.objects.get_or_create(name=SUPPORT_AGENTS)
    user = User.objects.create_user(username, f"{username}@example.com", None)
    user.first_name = first_name
    user.save()
    user.groups.add(group)
    return user


@pytest.fixture
def anna(agent: User) -> User:
    """The conftest agent, on duty, with a first name the shopper sees."""
    agent.first_name = "Anna"
    agent.last_name = "Agent"
    agent.save()
    agent_presence_touch(agent_id=agent.pk)
    return agent


@pytest.fixture
def ben(db: Any) -> User:
    user = make_agent("ben", "Ben")
    agent_presence_touch(agent_id=user.pk)
    return user


@pytest.fixture
def outsider(db: Any) -> User:
    return User.objects.create_user("outsider", "outsider@example.com", None, is_staff=True)


@pytest.fixture
def conversation(customer: Customer) -> Conversation:
    conversation = Conversation.objects.create(customer=customer, language="en")
    Message.objects.create(conversation=conversation, role="shopper", text="Where is my parcel?")
    Message.objects.create(
        conversation=conversation, role="bot", text="It is on its way with UPS.", status="done"
    )
    return conversation


def state_of(conversation: Conversation) -> str:
    conversation.refresh_from_db()
    return conversation.state


def actions(conversation: Conversation) -> list[str]:
    return list(
        AgentAction.objects.filter(conversation=conversation).values_list("kind", flat=True)
    )


def system_texts(conversation: Conversation) -> list[str]:
    return list(
        Message.objects.filter(conversation=conversation, role="system").values_list(
            "text", flat=True
        )
    )


def escalate(conversation: Conversation, *reasons: str) -> handoff.EscalationResult:
    return conversation_escalate(
        conversation_id=conversation.pk, reasons=list(reasons) or ["asked_for_person"]
    )


def held_by(conversation: Conversation, agent: User) -> Conversation:
    escalate(conversation)
    escalation_claim(conversation_id=conversation.pk, agent_id=agent.pk)
    conversation.refresh_from_db()
    return conversation


# --- asking for a person -------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "I want to talk to a human",
        "Can I speak to a real person please?",
        "connect me to an agent",
        "HUMAN!!!",
        "let me chat with someone",
        "Ich möchte mit einem Mitarbeiter sprechen",
        "bitte einen Menschen",
        "Mensch bitte, kein Bot",
        "Kann ich mit jemandem reden?",
        "eine echte Person bitte",
    ],
)
def test_an_explicit_request_for_a_person_is_recognised(text: str) -> None:
    assert wants_a_person(text)


@pytest.mark.parametrize(
    "text",
    [
        "Where is my parcel?",
        "Mensch, wo bleibt mein Paket?",  # "Mensch!" is an exclamation, not a request
        "is the delivery agent coming today?",
        "I want to return my shoes",
        "personal data?",
    ],
)
def test_ordinary_questions_are_not_requests_for_a_person(text: str) -> None:
    assert not wants_a_person(text)


# --- escalate: bot → waiting -----------------------------------------------------------------


def test_escalating_queues_the_conversation_and_stops_the_bot(
    conversation: Conversation, anna: User
) -> None:
    shopper = Message.objects.create(conversation=conversation, role="shopper", text="Hello?")
    streaming = Message.objects.create(
        conversation=conversation, role="bot", status="queued", reply_to=shopper
    )
    assert reply_claim(reply_id=streaming.pk)  # the writer is streaming it now
    queued = Message.objects.create(conversation=conversation, role="bot", status="queued")

    result = escalate(conversation, "angry")

    assert result.escalated and result.state == "waiting" and result.position == 1
    assert set(result.stopped_reply_ids) == {streaming.pk, queued.pk}
    conversation.refresh_from_db()
    assert conversation.state == "waiting" and conversation.escalation_reasons == ["angry"]
    assert conversation.escalated_at is not None
    for reply in (streaming, queued):
        reply.refresh_from_db()
        assert (reply.status, reply.error_code) == ("failed", "handed_off")
    # The writer notices at its next heartbeat, and cannot store what it wrote.
    assert not reply_heartbeat(reply_id=streaming.pk)
    assert not reply_finish(reply_id=streaming.pk, text="Too late")
    streaming.refresh_from_db()
    assert streaming.status == "failed" and streaming.text == ""
    [notice] = system_texts(conversation)
    assert "number 1 in the queue" in notice and "a few minutes" in notice
    assert actions(conversation) == ["escalated"]


def test_with_nobody_on_duty_the_shopper_is_asked_for_an_email_in_their_language(
    conversation: Conversation, agent: User
) -> None:
    conversation.language = "de"
    conversation.save()
    result = escalate(conversation)
    assert result.agents_on_duty == 0 and result.wait_minutes is None
    assert system_texts(conversation) == [handoff.NOTICES["nobody"]["de"]]
    assert "E-Mail-Adresse" in system_texts(conversation)[0]
    assert state_of(conversation) == "waiting"  # it stays queued for the morning


def test_an_agent_who_is_away_or_silent_is_not_on_duty(agent: User) -> None:
    agent_presence_touch(agent_id=agent.pk)
    assert [a.id for a in agents_on_duty()] == [agent.pk]
    agent_availability_set(agent_id=agent.pk, available=False)
    assert agents_on_duty() == []
    agent_availability_set(agent_id=agent.pk, available=True)
    AgentPresence.objects.filter(agent=agent).update(
        last_seen_at=timezone.now() - timedelta(seconds=61)
    )
    assert agents_on_duty() == []


def test_the_wait_estimate_is_position_times_the_average_handling_time(
    customer: Customer, anna: User
) -> None:
    now = timezone.now()
    for minutes in (8, 10, 12):
        done = Conversation.objects.create(customer=customer)
        claimed = AgentAction.objects.create(conversation=done, agent=anna, kind="claimed")
        resolved = AgentAction.objects.create(conversation=done, agent=anna, kind="resolved")
        AgentAction.objects.filter(pk=claimed.pk).update(created_at=now - timedelta(hours=1))
        AgentAction.objects.filter(pk=resolved.pk).update(
            created_at=now - timedelta(hours=1) + timedelta(minutes=minutes)
        )
    first = Conversation.objects.create(customer=customer, language="fr")
    second = Conversation.objects.create(customer=customer, language="es")
    assert escalate(first).wait_minutes == 10
    assert "environ 10 minutes" in system_texts(first)[0]
    result = escalate(second)
    assert (result.position, result.wait_minutes) == (2, 20)
    assert "número 2" in system_texts(second)[0]


def test_escalating_again_is_a_no_op_that_keeps_the_new_reasons(
    conversation: Conversation, anna: User
) -> None:
    escalate(conversation, "asked_for_person")
    again = escalate(conversation, "chargeback")
    assert not again.escalated and again.state == "waiting"
    conversation.refresh_from_db()
    assert conversation.escalation_reasons == ["asked_for_person", "chargeback"]
    escalation_claim(conversation_id=conversation.pk, agent_id=anna.pk)
    assert not escalate(conversation).escalated
    assert state_of(conversation) == "agent"
    assert len(system_texts(conversation)) == 2  # queued, then "Anna joined"
    assert actions(conversation) == ["escalated", "claimed"]


def test_a_resolved_conversation_cannot_be_escalated(conversation: Conversation) -> None:
    conversation_resolve_by_bot(conversation_id=conversation.pk)
    with pytest.raises(IllegalTransition):
        escalate(conversation)


# --- claim: waiting → agent ----------------------------------------------------------------


def test_claiming_gives_the_conversation_to_the_agent_and_tells_the_shopper(
    conversation: Conversation, anna: User
) -> None:
    escalate(conversation)
    result = escalation_claim(conversation_id=conversation.pk, agent_id=anna.pk)
    assert result.claimed
    conversation.refresh_from_db()
    assert conversation.state == "agent" and conversation.assigned_agent == anna
    assert system_texts(conversation)[-1] == "Anna from our support team has joined the chat."
    assert actions(conversation) == ["escalated", "claimed"]


def test_a_second_claim_is_refused_with_the_holders_name(
    conversation: Conversation, anna: User, ben: User
) -> None:
    escalate(conversation)
    escalation_claim(conversation_id=conversation.pk, agent_id=anna.pk)
    with pytest.raises(AlreadyTaken) as taken:
        escalation_claim(conversation_id=conversation.pk, agent_id=ben.pk)
    assert str(taken.value) == "Already taken by Anna Agent."
    # The holder clicking twice is not an error.
    assert not escalation_claim(conversation_id=conversation.pk, agent_id=anna.pk).claimed
    assert actions(conversation) == ["escalated", "claimed"]


@pytest.mark.parametrize("state", ["bot", "resolved"])
def test_only_a_waiting_conversation_can_be_claimed(
    conversation: Conversation, anna: User, state: str
) -> None:
    Conversation.objects.filter(pk=conversation.pk).update(state=state)
    with pytest.raises(IllegalTransition):
        escalation_claim(conversation_id=conversation.pk, agent_id=anna.pk)
    assert state_of(conversation) == state


def test_someone_outside_the_support_team_cannot_claim(
    conversation: Conversation, outsider: User
) -> None:
    escalate(conversation)
    with pytest.raises(NotAnAgent):
        escalation_claim(conversation_id=conversation.pk, agent_id=outsider.pk)
    assert state_of(conversation) == "waiting"


@pytest.mark.topology
@pytest.mark.django_db(transaction=True)
def test_many_agents_claiming_at_once_get_exactly_one_winner(customer: Customer) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("the row-lock race needs PostgreSQL")
    agents = [make_agent(f"racer{i}", f"Racer{i}") for i in range(8)]
    conversation = Conversation.objects.create(customer=customer)
    escalate(conversation)
    barrier = threading.Barrier(len(agents))
    outcomes: dict[int, str] = {}

    def claim(agent: User) -> None:
        try:
            barrier.wait(timeout=10)
            escalation_claim(conversation_id=conversation.pk, agent_id=agent.pk)
            outcomes[agent.pk] = "won"
        except AlreadyTaken as error:
            outcomes[agent.pk] = str(error)
        finally:
            connection.close()  # each thread had its own connection

    threads = [threading.Thread(target=claim, args=(a,)) for a in agents]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    winners = [pk for pk, outcome in outcomes.items() if outcome == "won"]
    assert len(outcomes) == len(agents) and len(winners) == 1
    winner = User.objects.get(pk=winners[0])
    taken = f"Already taken by {winner.get_full_name()}."
    assert all(outcome == taken for outcome in outcomes.values() if outcome != "won")
    conversation.refresh_from_db()
    assert conversation.assigned_agent_id == winner.pk
    assert actions(conversation) == ["escalated", "claimed"]


# --- with an agent -------------------------------------------------------------------------


def test_the_holder_replies_and_the_reply_is_stored(conversation: Conversation, anna: User) -> None:
    held_by(conversation, anna)
    message = agent_reply(conversation_id=conversation.pk, agent_id=anna.pk, text="  Hi!  ")
    assert (message.role, message.text, message.status) == ("agent", "Hi!", "done")
    assert actions(conversation)[-1] == "replied"


def test_only_the_holder_may_reply(conversation: Conversation, anna: User, ben: User) -> None:
    escalate(conversation)
    with pytest.raises(IllegalTransition):  # nobody holds it yet
        agent_reply(conversation_id=conversation.pk, agent_id=anna.pk, text="Hi")
    escalation_claim(conversation_id=conversation.pk, agent_id=anna.pk)
    with pytest.raises(NotAssigned):
        agent_reply(conversation_id=conversation.pk, agent_id=ben.pk, text="Hi")
    with pytest.raises(InvalidInput):
        agent_reply(conversation_id=conversation.pk, agent_id=anna.pk, text="   ")
    assert not Message.objects.filter(conversation=conversation, role="agent").exists()


def test_the_holder_resolves(conversation: Conversation, anna: User, ben: User) -> None:
    held_by(conversation, anna)
    with pytest.raises(NotAssigned):
        conversation_resolve(conversation_id=conversation.pk, agent_id=ben.pk)
    conversation_resolve(conversation_id=conversation.pk, agent_id=anna.pk)
    conversation.refresh_from_db()
    assert (conversation.state, conversation.resolution) == ("resolved", "agent")
    assert conversation.resolved_at is not None and conversation.assigned_agent == anna
    with pytest.raises(IllegalTransition):
        conversation_resolve(conversation_id=conversation.pk, agent_id=anna.pk)


@pytest.mark.parametrize("state", ["bot", "waiting"])
def test_an_agent_cannot_resolve_what_no_agent_holds(
    conversation: Conversation, anna: User, state: str
) -> None:
    Conversation.objects.filter(pk=conversation.pk).update(state=state)
    with pytest.raises(IllegalTransition):
        conversation_resolve(conversation_id=conversation.pk, agent_id=anna.pk)


def test_the_bot_resolves_only_its_own_conversations(
    conversation: Conversation, anna: User
) -> None:
    conversation_resolve_by_bot(conversation_id=conversation.pk)
    conversation.refresh_from_db()
    assert (conversation.state, conversation.resolution) == ("resolved", "bot")
    assert actions(conversation) == ["resolved"]
    with pytest.raises(IllegalTransition):
        conversation_resolve_by_bot(conversation_id=conversation.pk)
    other = Conversation.objects.create()
    held_by(other, anna)
    with pytest.raises(IllegalTransition):
        conversation_resolve_by_bot(conversation_id=other.pk)


def test_handing_back_gives_the_bot_the_conversation_again(
    conversation: Conversation, anna: User, ben: User
) -> None:
    held_by(conversation, anna)
    with pytest.raises(NotAssigned):
        conversation_hand_back(conversation_id=conversation.pk, agent_id=ben.pk)
    conversation_hand_back(conversation_id=conversation.pk, agent_id=anna.pk)
    conversation.refresh_from_db()
    assert conversation.state == "bot" and conversation.assigned_agent is None
    assert "virtual assistant again" in system_texts(conversation)[-1]
    assert actions(conversation) == ["escalated", "claimed", "handed_back"]
    # The bot answers again.
    received = shopper_message_receive(
        conversation_id=conversation.pk, text="And the invoice?", client_id=uuid.uuid4()
    )
    assert received.received.reply_id is not None


@pytest.mark.parametrize("state", ["bot", "waiting", "resolved"])
def test_only_a_held_conversation_can_be_handed_back(
    conversation: Conversation, anna: User, state: str
) -> None:
    Conversation.objects.filter(pk=conversation.pk).update(state=state, assigned_agent=anna)
    with pytest.raises(IllegalTransition):
        conversation_hand_back(conversation_id=conversation.pk, agent_id=anna.pk)


def test_reassigning_passes_the_conversation_to_an_agent_on_duty(
    conversation: Conversation, anna: User, ben: User, outsider: User
) -> None:
    held_by(conversation, anna)
    with pytest.raises(NotAssigned):
        conversation_reassign(
            conversation_id=conversation.pk, from_agent_id=ben.pk, to_agent_id=ben.pk
        )
    with pytest.raises(IllegalTransition):
        conversation_reassign(
            conversation_id=conversation.pk, from_agent_id=anna.pk, to_agent_id=anna.pk
        )
    with pytest.raises(NotAnAgent):
        conversation_reassign(
            conversation_id=conversation.pk, from_agent_id=anna.pk, to_agent_id=outsider.pk
        )
    away = make_agent("carla", "Carla")  # an agent, but no console open
    with pytest.raises(AgentNotOnDuty):
        conversation_reassign(
            conversation_id=conversation.pk, from_agent_id=anna.pk, to_agent_id=away.pk
        )
    conversation_reassign(
        conversation_id=conversation.pk, from_agent_id=anna.pk, to_agent_id=ben.pk
    )
    conversation.refresh_from_db()
    assert conversation.state == "agent" and conversation.assigned_agent == ben
    assert system_texts(conversation)[-1] == "Ben from our support team has joined the chat."
    action = AgentAction.objects.filter(conversation=conversation).last()
    assert action is not None and action.kind == "reassigned"
    assert action.agent == anna and action.detail == {"to_agent_id": ben.pk}
    with pytest.raises(NotAssigned):  # Anna let go
        agent_reply(conversation_id=conversation.pk, agent_id=anna.pk, text="Still me")


def test_reassigning_a_waiting_conversation_is_illegal(
    conversation: Conversation, anna: User, ben: User
) -> None:
    escalate(conversation)
    with pytest.raises(IllegalTransition):
        conversation_reassign(
            conversation_id=conversation.pk, from_agent_id=anna.pk, to_agent_id=ben.pk
        )


def test_a_resolved_conversation_reopens_for_the_bot(conversation: Conversation) -> None:
    with pytest.raises(IllegalTransition):
        conversation_reopen(conversation_id=conversation.pk)
    conversation_resolve_by_bot(conversation_id=conversation.pk)
    conversation_reopen(conversation_id=conversation.pk)
    conversation.refresh_from_db()
    assert (conversation.state, conversation.resolution, conversation.resolved_at) == (
        "bot",
        "",
        None,
    )
    assert actions(conversation) == ["resolved", "reopened"]


def test_a_message_is_stored_with_its_reply_queued_behind_it(conversation: Conversation) -> None:
    before, stored = timezone.now(), conversation.messages.count()
    asked = uuid.uuid4()
    result = shopper_message_receive(
        conversation_id=conversation.pk, text="Where is my parcel?", client_id=asked
    )
    assert result.received.created and result.received.reply_id is not None
    shopper = Message.objects.get(pk=result.received.shopper_message_id)
    reply = Message.objects.get(pk=result.received.reply_id)
    assert (shopper.role, shopper.status, shopper.text, shopper.client_id) == (
        "shopper",
        "done",
        "Where is my parcel?",
        asked,
    )
    assert (reply.role, reply.status, reply.text, reply.reply_to_id, reply.attempts) == (
        "bot",
        "queued",
        "",
        shopper.pk,
        0,
    )
    assert before <= shopper.created_at <= reply.created_at <= timezone.now()
    assert list(conversation.messages.values_list("pk", flat=True))[stored:] == [
        shopper.pk,
        reply.pk,
    ]
    conversation.refresh_from_db()
    assert conversation.updated_at >= reply.created_at
    # The same frame again is known by its client_id: nothing new is stored or queued.
    again = shopper_message_receive(
        conversation_id=conversation.pk, text="Where is my parcel?", client_id=asked
    )
    assert again.received == Received(shopper.pk, reply.pk, created=False)
    assert conversation.messages.count() == stored + 2


def test_a_message_into_no_conversation_is_refused_and_stores_nothing() -> None:
    with pytest.raises(ConversationNotFound):
        shopper_message_receive(conversation_id=987654321, text="Hello?", client_id=uuid.uuid4())
    assert not Message.objects.exists()


def test_writing_into_a_resolved_conversation_reopens_it(conversation: Conversation) -> None:
    conversation_resolve_by_bot(conversation_id=conversation.pk)
    result = shopper_message_receive(
        conversation_id=conversation.pk, text="One more question", client_id=uuid.uuid4()
    )
    assert state_of(conversation) == "bot" and result.received.reply_id is not None


def test_a_resend_is_stored_once_and_neither_escalates_again_nor_reopens(
    conversation: Conversation,
) -> None:
    asked = uuid.uuid4()
    first = shopper_message_receive(
        conversation_id=conversation.pk, text="I want to talk to a human", client_id=asked
    )
    assert first.escalation is not None and state_of(conversation) == "waiting"
    again = shopper_message_receive(
        conversation_id=conversation.pk, text="I want to talk to a human", client_id=asked
    )
    assert again.escalation is None and not again.received.created
    assert again.received.shopper_message_id == first.received.shopper_message_id
    # Resolved meanwhile (an agent closed it): the same frame arriving late must not
    # reopen the conversation.
    Conversation.objects.filter(pk=conversation.pk).update(state="resolved", resolution="agent")
    late = shopper_message_receive(
        conversation_id=conversation.pk, text="I want to talk to a human", client_id=asked
    )
    assert not late.received.created and state_of(conversation) == "resolved"
    assert Message.objects.filter(conversation=conversation, client_id=asked).count() == 1
    assert actions(conversation).count("escalated") == 1
    assert "reopened" not in actions(conversation)


def test_notes_are_for_agents_only(conversation: Conversation, anna: User, outsider: User) -> None:
    note = note_add(conversation_id=conversation.pk, agent_id=anna.pk, text="VIP, be kind")
    assert InternalNote.objects.get().author == anna and note.text == "VIP, be kind"
    assert actions(conversation) == ["noted"]
    with pytest.raises(NotAnAgent):
        note_add(conversation_id=conversation.pk, agent_id=outsider.pk, text="hi")
    assert not Message.objects.filter(text__contains="VIP").exists()


def test_every_step_of_a_handoff_is_in_the_audit_trail(
    conversation: Conversation, anna: User, ben: User
) -> None:
    held_by(conversation, anna)
    agent_reply(conversation_id=conversation.pk, agent_id=anna.pk, text="Hi")
    note_add(conversation_id=conversation.pk, agent_id=anna.pk, text="Passing to Ben")
    conversation_reassign(
        conversation_id=conversation.pk, from_agent_id=anna.pk, to_agent_id=ben.pk
    )
    conversation_resolve(conversation_id=conversation.pk, agent_id=ben.pk)
    trail = list(
        AgentAction.objects.filter(conversation=conversation).values_list("kind", "agent__username")
    )
    assert trail == [
        ("escalated", None),
        ("claimed", "agent"),
        ("replied", "agent"),
        ("noted", "agent"),
        ("reassigned", "agent"),
        ("resolved", "ben"),
    ]


def test_a_claimed_reply_marks_its_first_token_and_stays_alive(
    conversation: Conversation,
) -> None:
    reply = Message.objects.create(conversation=conversation, role="bot", status="queued")
    assert reply_claim(reply_id=reply.pk)
    reply.refresh_from_db()
    claimed_beat = reply.heartbeat_at
    assert reply.first_token_at is None and claimed_beat is not None

    assert reply_heartbeat(reply_id=reply.pk, first_token=True)
    reply.refresh_from_db()
    first = reply.first_token_at
    assert first is not None and first.tzinfo is not None and first >= claimed_beat
    assert reply.heartbeat_at == first

    assert reply_heartbeat(reply_id=reply.pk)  # later beats leave the first token alone
    reply.refresh_from_db()
    assert reply.first_token_at == first and reply.heartbeat_at >= first

    assert reply_finish(reply_id=reply.pk, text="Done.")
    assert not reply_heartbeat(reply_id=reply.pk)  # finished: no longer anyone's to write
    reply.refresh_from_db()
    assert (reply.status, reply.first_token_at) == ("done", first)


# --- the reply writer while a person holds the conversation --------------------------------


def test_a_reply_cannot_be_stored_while_a_person_holds_the_conversation(
    conversation: Conversation, anna: User
) -> None:
    reply = Message.objects.create(conversation=conversation, role="bot", status="queued")
    assert reply_claim(reply_id=reply.pk)
    # Even if a reply were still "generating" (it cannot be, the escalation failed it).
    Conversation.objects.filter(pk=conversation.pk).update(state="agent", assigned_agent=anna)
    assert not reply_finish(reply_id=reply.pk, text="Bot answer")
    reply.refresh_from_db()
    assert (reply.status, reply.error_code, reply.text) == ("failed", "handed_off", "")


def test_messages_while_waiting_or_with_an_agent_get_no_bot_reply(
    conversation: Conversation, anna: User
) -> None:
    escalate(conversation)
    waiting = shopper_message_receive(
        conversation_id=conversation.pk, text="Still there?", client_id=uuid.uuid4()
    )
    escalation_claim(conversation_id=conversation.pk, agent_id=anna.pk)
    with_agent = shopper_message_receive(
        conversation_id=conversation.pk, text="Thanks Anna", client_id=uuid.uuid4()
    )
    assert waiting.received.reply_id is None and with_agent.received.reply_id is None
    assert not Message.objects.filter(conversation=conversation, status="queued").exists()


def test_asking_for_a_person_stores_the_message_and_escalates_without_a_bot_reply(
    conversation: Conversation, anna: User
) -> None:
    client_id = uuid.uuid4()
    result = shopper_message_receive(
        conversation_id=conversation.pk, text="I want a real person", client_id=client_id
    )
    assert result.received.created and result.received.reply_id is None
    assert result.escalation is not None and result.escalation.escalated
    conversation.refresh_from_db()
    assert conversation.state == "waiting"
    assert conversation.escalation_reasons == ["asked_for_person"]
    again = shopper_message_receive(
        conversation_id=conversation.pk, text="I want a real person", client_id=client_id
    )
    assert not again.received.created and again.escalation is None
    assert len(system_texts(conversation)) == 1


def test_asking_for_a_person_in_german_is_answered_in_german(conversation: Conversation) -> None:
    assert conversation.language == "en"  # the page's language
    shopper_message_receive(
        conversation_id=conversation.pk,
        text="Ich möchte bitte mit einem Mitarbeiter sprechen",
        client_id=uuid.uuid4(),
    )
    conversation.refresh_from_db()
    assert conversation.language == "de"
    assert system_texts(conversation) == [handoff.NOTICES["nobody"]["de"]]


# --- contact email -------------------------------------------------------------------------


def test_a_waiting_shopper_leaves_an_email_address(conversation: Conversation, agent: User) -> None:
    escalate(conversation)  # nobody on duty
    result = shopper_message_receive(
        conversation_id=conversation.pk, text="sure, it's alice@example.com", client_id=uuid.uuid4()
    )
    assert result.contact_email == "alice@example.com"
    conversation.refresh_from_db()
    assert conversation.contact_email == "alice@example.com"
    assert system_texts(conversation)[-1] == (
        "Thanks! We'll reply to alice@example.com as soon as someone is available."
    )
    contact_email_record(conversation_id=conversation.pk, email="alice@work.example")
    conversation.refresh_from_db()
    assert conversation.contact_email == "alice@work.example"


@pytest.mark.parametrize("email", ["not-an-email", "a@b", "x" * 250 + "@example.com", ""])
def test_an_invalid_email_address_is_refused(conversation: Conversation, email: str) -> None:
    escalate(conversation)
    with pytest.raises(InvalidEmail):
        contact_email_record(conversation_id=conversation.pk, email=email)


def test_an_email_address_is_taken_only_while_waiting(conversation: Conversation) -> None:
    with pytest.raises(ContactNotAllowed):
        contact_email_record(conversation_id=conversation.pk, email="alice@example.com")
    result = shopper_message_receive(
        conversation_id=conversation.pk, text="alice@example.com", client_id=uuid.uuid4()
    )
    assert result.contact_email is None and result.received.reply_id is not None


# --- CSAT ----------------------------------------------------------------------------------


def test_a_resolved_conversation_is_rated_once(conversation: Conversation, anna: User) -> None:
    held_by(conversation, anna)
    with pytest.raises(RatingNotAllowed):
        rating_record(conversation_id=conversation.pk, score=5, comment="")
    conversation_resolve(conversation_id=conversation.pk, agent_id=anna.pk)
    rating_record(conversation_id=conversation.pk, score=4, comment="  Quick and kind  ")
    rating = Rating.objects.get(conversation=conversation)
    assert (rating.score, rating.comment) == (4, "Quick and kind")
    with pytest.raises(AlreadyRated):
        rating_record(conversation_id=conversation.pk, score=1, comment="changed my mind")
    assert Rating.objects.get(conversation=conversation).score == 4


@pytest.mark.parametrize(
    ("score", "comment"),
    [(0, ""), (6, ""), ("5", ""), (True, ""), (4.5, ""), (None, ""), (3, "x" * 2001), (3, 42)],
)
def test_an_invalid_rating_is_refused(conversation: Conversation, score: Any, comment: Any) -> None:
    conversation_resolve_by_bot(conversation_id=conversation.pk)
    with pytest.raises(InvalidRating):
        rating_record(conversation_id=conversation.pk, score=score, comment=comment)
    assert not Rating.objects.exists()


def test_a_comment_of_exactly_2000_characters_is_kept(conversation: Conversation) -> None:
    conversation_resolve_by_bot(conversation_id=conversation.pk)
    rating_record(conversation_id=conversation.pk, score=2, comment="y" * 2000)
    assert len(Rating.objects.get().comment) == 2000


# --- what the agent reads ------------------------------------------------------------------


def test_the_handoff_summary_says_what_the_shopper_wants_and_what_the_bot_tried(
    conversation: Conversation, anna: User
) -> None:
    Message.objects.create(
        conversation=conversation, role="bot", status="done", text="Tracking: " + "z" * 400
    )
    Message.objects.create(conversation=conversation, role="shopper", text="It says delivered!")
    escalate(conversation, "angry", "asked_for_person")
    summary = handoff_summary(conversation_id=conversation.pk)
    assert summary.shopper_wants == ("Where is my parcel?", "It says delivered!")
    assert summary.bot_tried[0] == "It is on its way with UPS."
    assert len(summary.bot_tried[1]) == 280 and summary.bot_tried[1].endswith("…")
    assert summary.reasons == ("Angry", "Asked for a person")
    assert summary.customer is not None and summary.customer.name == "Alice Shopper"
    assert summary.orders_text is not None and "Order 100001" in summary.orders_text


def test_the_queue_puts_disputes_first_then_anger_then_the_rest_oldest_first(
    anna: User,
) -> None:
    def waiting(reason: str, minutes_ago: int, order_total: str | None = None) -> Conversation:
        owner = CustomerFactory.create()
        if order_total:
            OrderFactory(customer=owner, total=Decimal(order_total))
        conversation = Conversation.objects.create(customer=owner)
        escalate(conversation, reason)
        Conversation.objects.filter(pk=conversation.pk).update(
            escalated_at=timezone.now() - timedelta(minutes=minutes_ago)
        )
        return conversation

    asked_old = waiting("asked_for_person", 30)
    asked_new = waiting("asked_for_person", 5)
    angry = waiting("sentiment:angry", 10)
    legal = waiting("dispute", 0)
    big_spender = waiting("asked_for_person", 2, order_total="480.00")
    board = queue_board()
    assert [item.conversation_id for item in board.waiting] == [
        legal.pk,
        angry.pk,
        big_spender.pk,
        asked_old.pk,
        asked_new.pk,
    ]
    assert [item.priority_label for item in board.waiting] == [
        "Urgent",
        "High",
        "High",
        "Normal",
        "Normal",
    ]
    assert board.waiting[2].order_value == Decimal("480.00")
    escalation_claim(conversation_id=legal.pk, agent_id=anna.pk)
    board = queue_board()
    assert [item.conversation_id for item in board.active] == [legal.pk]
    assert board.active[0].assigned_agent_name == "Anna Agent"


# --- every illegal transition, from every state ---------------------------------------------

ILLEGAL = {
    "escalate": ["resolved"],
    "claim": ["bot", "resolved"],
    "reply": ["bot", "waiting", "resolved"],
    "resolve": ["bot", "waiting", "resolved"],
    "resolve_by_bot": ["waiting", "agent", "resolved"],
    "hand_back": ["bot", "waiting", "resolved"],
    "reassign": ["bot", "waiting", "resolved"],
    "reopen": ["bot", "waiting", "agent"],
}


def _attempt(action: str, conversation: Conversation, agent: User, colleague: User) -> None:
    cid, aid = conversation.pk, agent.pk
    {
        "escalate": lambda: conversation_escalate(conversation_id=cid, reasons=["x"]),
        "claim": lambda: escalation_claim(conversation_id=cid, agent_id=aid),
        "reply": lambda: agent_reply(conversation_id=cid, agent_id=aid, text="Hi"),
        "resolve": lambda: conversation_resolve(conversation_id=cid, agent_id=aid),
        "resolve_by_bot": lambda: conversation_resolve_by_bot(conversation_id=cid),
        "hand_back": lambda: conversation_hand_back(conversation_id=cid, agent_id=aid),
        "reassign": lambda: conversation_reassign(
            conversation_id=cid, from_agent_id=aid, to_agent_id=colleague.pk
        ),
        "reopen": lambda: conversation_reopen(conversation_id=cid),
    }[action]()


@pytest.mark.parametrize(
    ("action", "state"), [(action, state) for action, states in ILLEGAL.items() for state in states]
)
def test_an_illegal_transition_is_refused_and_changes_nothing(
    conversation: Conversation, anna: User, ben: User, action: str, state: str
) -> None:
    # Even the agent named on the conversation may not do it from this state.
    Conversation.objects.filter(pk=conversation.pk).update(state=state, assigned_agent=anna)
    before = Message.objects.filter(conversation=conversation).count()
    with pytest.raises(IllegalTransition):
        _attempt(action, conversation, anna, ben)
    conversation.refresh_from_db()
    assert conversation.state == state and conversation.assigned_agent == anna
    assert Message.objects.filter(conversation=conversation).count() == before
    assert actions(conversation) == []
