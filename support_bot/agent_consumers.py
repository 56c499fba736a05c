"""The agent console's websocket (protocol: docs/agent_protocol.md).

Only members of the "Support agents" group (and superusers) may connect. The consumer
parses frames, calls the handoff services and selectors, and shapes their answers; it
joins the "agents" group for board changes and, while an agent views a conversation,
that conversation's widget group and its agents-only group.
"""

from __future__ import annotations

import json
import logging
from dataclasses import fields, is_dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from channels.db import database_sync_to_async

from support_bot.services.handoff import (
    AGENTS_GROUP,
    MAX_NOTE_CHARS,
    MAX_REPLY_CHARS,
    HandoffError,
    NoteCard,
    QueueItem,
    agent_availability_set,
    agent_display_name,
    agent_presence_touch,
    agent_reply,
    canned_reply_list,
    conversation_detail,
    conversation_groups,
    conversation_hand_back,
    conversation_held_by,
    conversation_reassign,
    conversation_resolve,
    escalation_claim,
    note_add,
    note_payload,
    queue_board,
    user_is_agent,
)
from support_bot.streams import frame_event
from support_bot.websocket import WebsocketConsumer

logger = logging.getLogger(__name__)

MAX_FRAME_BYTES = 16_384
# Closing code for a refused handshake: the browser sees HTTP 403.
FORBIDDEN = 4403


class AgentFrameError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def plain(value: Any) -> Any:
    """Selector results (dataclasses, Decimal, datetime) as JSON-ready values."""
    if isinstance(value, NoteCard):
        return note_payload(value)
    if is_dataclass(value) and not isinstance(value, type):
        shaped = {f.name: plain(getattr(value, f.name)) for f in fields(value)}
        if isinstance(value, QueueItem):
            shaped["priority_label"] = value.priority_label
            shaped["reason_labels"] = list(value.reason_labels)
        return shaped
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    if isinstance(value, dict):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _conversation_id(frame: dict[str, Any]) -> int:
    value = frame.get("conversation_id")
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise AgentFrameError("bad_frame", "'conversation_id' must be a positive integer")
    return value


def _text(frame: dict[str, Any], key: str, limit: int) -> str:
    value = frame.get(key)
    if not isinstance(value, str) or not value.strip():
        raise AgentFrameError("bad_frame", f"'{key}' must be non-empty text")
    if len(value) > limit:
        raise AgentFrameError("too_large", f"'{key}' is longer than {limit} characters")
    return value


class AgentConsumer(WebsocketConsumer):
    agent_id: int = 0
    viewing: int | None = None
    viewing_groups: tuple[str, ...] = ()

    async def connect(self) -> None:
        user = self.scope.get("user")
        if not await database_sync_to_async(user_is_agent)(user=user):
            await self.close(code=FORBIDDEN)
            return
        assert user is not None
        self.agent_id = user.pk
        self.agent_name = agent_display_name(user)
        self.viewing = None
        self.viewing_groups = ()
        await self.accept()
        await self.channel_layer.group_add(AGENTS_GROUP, self.channel_name)
        await database_sync_to_async(agent_presence_touch)(agent_id=self.agent_id)
        board = await database_sync_to_async(queue_board)()
        canned = await database_sync_to_async(canned_reply_list)()
        await self._send(
            {
                "type": "welcome",
                "agent": {"id": self.agent_id, "name": self.agent_name},
                "board": plain(board),
                "canned_replies": plain(canned),
            }
        )
        await self._board_changed("presence", None)

    async def disconnect(self, code: int) -> None:
        if not self.agent_id:
            return
        await self.channel_layer.group_discard(AGENTS_GROUP, self.channel_name)
        await self._leave()

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        frame: dict[str, Any] = {}
        try:
            frame = self._parse(text_data)
            handler = self.HANDLERS.get(frame["type"])
            if handler is None:
                raise AgentFrameError("unknown_type", f"unknown frame type {frame['type']!r}")
            await handler(self, frame)
        except (AgentFrameError, HandoffError) as error:
            await self._send(
                {
                    "type": "error",
                    "code": error.code,
                    "message": error.message,
                    "action": frame.get("type"),
                    "conversation_id": frame.get("conversation_id"),
                }
            )

    def _parse(self, text_data: str | None) -> dict[str, Any]:
        if text_data is None or len(text_data.encode()) > MAX_FRAME_BYTES:
            raise AgentFrameError(
                "bad_frame", f"send JSON text frames under {MAX_FRAME_BYTES} bytes"
            )
        try:
            frame = json.loads(text_data)
        except ValueError:
            raise AgentFrameError("bad_json", "the frame is not valid JSON") from None
        if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
            raise AgentFrameError("bad_frame", "a frame is a JSON object with a string 'type'")
        return frame

    async def _send(self, frame: dict[str, Any]) -> None:
        await self.send(text_data=json.dumps(frame))

    async def _ok(self, frame: dict[str, Any], **extra: Any) -> None:
        await self._send(
            {
                "type": "ok",
                "action": frame["type"],
                "conversation_id": frame.get("conversation_id"),
                **extra,
            }
        )

    async def _board_changed(self, change: str, conversation_id: int | None) -> None:
        frame = {
            "type": "board_changed",
            "change": change,
            "conversation_id": conversation_id,
            "agent_id": self.agent_id,
        }
        await self.channel_layer.group_send(AGENTS_GROUP, frame_event(frame))

    # --- viewing a conversation ------------------------------------------------------

    async def _leave(self) -> None:
        for group in self.viewing_groups:
            await self.channel_layer.group_discard(group, self.channel_name)
        self.viewing, self.viewing_groups = None, ()

    async def _send_detail(self, conversation_id: int) -> None:
        detail = await database_sync_to_async(conversation_detail)(conversation_id=conversation_id)
        await self._send({"type": "conversation", "conversation": plain(detail)})

    async def on_open(self, frame: dict[str, Any]) -> None:
        conversation_id = _conversation_id(frame)
        groups = await database_sync_to_async(conversation_groups)(conversation_id=conversation_id)
        await self._leave()
        # Join before reading, like the widget: nothing published in between is lost.
        for group in groups:
            await self.channel_layer.group_add(group, self.channel_name)
        self.viewing, self.viewing_groups = conversation_id, groups
        await self._send_detail(conversation_id)

    async def on_close(self, frame: dict[str, Any]) -> None:
        await self._leave()

    # --- acting on a conversation ----------------------------------------------------

    async def on_claim(self, frame: dict[str, Any]) -> None:
        conversation_id = _conversation_id(frame)
        result = await database_sync_to_async(escalation_claim)(
            conversation_id=conversation_id, agent_id=self.agent_id
        )
        await self._ok(frame, claimed=result.claimed)

    async def on_reply(self, frame: dict[str, Any]) -> None:
        conversation_id = _conversation_id(frame)
        text = _text(frame, "text", MAX_REPLY_CHARS)
        message = await database_sync_to_async(agent_reply)(
            conversation_id=conversation_id, agent_id=self.agent_id, text=text
        )
        await self._ok(frame, message_id=message.pk)

    async def on_resolve(self, frame: dict[str, Any]) -> None:
        await database_sync_to_async(conversation_resolve)(
            conversation_id=_conversation_id(frame), agent_id=self.agent_id
        )
        await self._ok(frame)

    async def on_hand_back(self, frame: dict[str, Any]) -> None:
        await database_sync_to_async(conversation_hand_back)(
            conversation_id=_conversation_id(frame), agent_id=self.agent_id
        )
        await self._ok(frame)

    async def on_reassign(self, frame: dict[str, Any]) -> None:
        to_agent_id = frame.get("to_agent_id")
        if isinstance(to_agent_id, bool) or not isinstance(to_agent_id, int):
            raise AgentFrameError("bad_frame", "'to_agent_id' must be an integer")
        await database_sync_to_async(conversation_reassign)(
            conversation_id=_conversation_id(frame),
            from_agent_id=self.agent_id,
            to_agent_id=to_agent_id,
        )
        await self._ok(frame)

    async def on_note(self, frame: dict[str, Any]) -> None:
        note = await database_sync_to_async(note_add)(
            conversation_id=_conversation_id(frame),
            agent_id=self.agent_id,
            text=_text(frame, "text", MAX_NOTE_CHARS),
        )
        await self._ok(frame, note_id=note.pk)

    async def on_typing(self, frame: dict[str, Any]) -> None:
        conversation_id = _conversation_id(frame)
        if conversation_id != self.viewing or not self.viewing_groups:
            return
        held = await database_sync_to_async(conversation_held_by)(
            conversation_id=conversation_id, agent_id=self.agent_id
        )
        if held:
            widget_group = self.viewing_groups[0]
            await self.channel_layer.group_send(
                widget_group, frame_event({"type": "typing", "role": "agent"})
            )

    # --- the agent ---------------------------------------------------------------------

    async def on_availability(self, frame: dict[str, Any]) -> None:
        available = frame.get("available")
        if not isinstance(available, bool):
            raise AgentFrameError("bad_frame", "'available' must be true or false")
        await database_sync_to_async(agent_availability_set)(
            agent_id=self.agent_id, available=available
        )
        await self._ok(frame, available=available)

    async def on_board(self, frame: dict[str, Any]) -> None:
        board = await database_sync_to_async(queue_board)()
        await self._send({"type": "board", "board": plain(board), "change": None})

    async def on_ping(self, frame: dict[str, Any]) -> None:
        # The console's heartbeat keeps the agent "on duty" (seen in the last minute).
        await database_sync_to_async(agent_presence_touch)(agent_id=self.agent_id)
        await self._send({"type": "pong"})

    HANDLERS = {
        "open": on_open,
        "close": on_close,
        "claim": on_claim,
        "reply": on_reply,
        "resolve": on_resolve,
        "hand_back": on_hand_back,
        "reassign": on_reassign,
        "note": on_note,
        "typing": on_typing,
        "availability": on_availability,
        "board": on_board,
        "ping": on_ping,
    }

    # --- group events ----------------------------------------------------------------

    async def chat_frame(self, event: dict[str, Any]) -> None:
        frame = event["frame"]
        if frame.get("type") == "board_changed":
            board = await database_sync_to_async(queue_board)()
            await self._send({"type": "board", "board": plain(board), "change": frame})
            if self.viewing is not None and frame.get("conversation_id") == self.viewing:
                await self._send_detail(self.viewing)
            return
        # Agents-only frames name their conversation; widget frames are the viewed one's.
        conversation_id = frame.get("conversation_id", self.viewing)
        if conversation_id is None or conversation_id != self.viewing:
            return
        await self._send(
            {"type": "conversation_frame", "conversation_id": conversation_id, "frame": frame}
        )
