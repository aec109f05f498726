"""What an Outcome sends on its own becomes outbox rows, in the transaction of the change."""

from __future__ import annotations

import json
from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.events import Place
from bot.message import Audience, ChannelPost, DirectMessage, Outcome, Reply, Update
from bot.message_json import as_dict, from_dict
from storage import outbox


async def enqueue(
    session: AsyncSession, workspace: int, place: Place, *, outcome: Outcome, now: datetime
) -> int:
    """Queue every post, direct message and update of `outcome`; returns how many."""
    queued = outcome.queued()
    # An update whose subject already has one waiting is kept out by the outbox itself (one
    # waiting update per subject: it renders the state when it is sent), so none is looked up.
    updated: set[str] = set()
    rows: list[outbox.Queued] = []
    for item in queued:
        match item:
            case ChannelPost(message=message, channel_id=channel, channel_name=name):
                here = channel in ("", place.conversation_id)
                payload: dict[str, object] = {
                    "message": as_dict(message),
                    "name": name or place.conversation_name,
                }
                if here and place.answer_url:
                    payload["fallback_url"] = place.answer_url
                text = json.dumps(payload, ensure_ascii=False)
                where = channel or place.conversation_id
                rows.append(outbox.Queued("post", where, text, item.subject))
            case DirectMessage(message=message, user_id=user, user_name=name, forget=forget):
                payload = {"message": as_dict(message), "name": name}
                if forget:
                    payload["forget"] = True
                text = json.dumps(payload, ensure_ascii=False)
                rows.append(outbox.Queued("dm", f"user:{user}", text))
            case Update(subject=subject) if subject not in updated:
                updated.add(subject)  # once per subject: the row renders the state when sent
                rows.append(outbox.Queued("update", subject, subject=subject))
    await outbox.add(session, workspace, rows, now=now)
    return len(queued)


def answer_json(outcome: Outcome) -> str:
    """The replies of `outcome` (what the adapter sends itself), kept with the request."""
    replies = [
        {"audience": r.audience.value, "message": as_dict(r.message)} for r in outcome.replies()
    ]
    return json.dumps(replies, ensure_ascii=False)


def answer_from_json(answer: str | None) -> Outcome:
    """The replies recorded by `answer_json` (none: an empty outcome)."""
    outcome = Outcome()
    for reply in json.loads(answer) if answer else []:
        outcome.items.append(Reply(from_dict(reply["message"]), Audience(reply["audience"])))
    return outcome
