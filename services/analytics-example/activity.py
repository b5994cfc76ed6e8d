#!/usr/bin/env python3
"""Per-minute chat activity from chat.conversation-events, exactly once across restarts.

An example analytics consumer built only from stock clients (confluent-kafka and its
schema-registry AvroDeserializer). For every minute (UTC, of the event's `occurred_at`)
it counts messages sent, edits, deletes, reactions added, active users (distinct
`actor_id` of any event) and active conversations (distinct `conversation_id`), and
writes them as CSV.

Exactly once per record: the aggregates and the next offset of every partition live in
one SQLite database and are written in ONE transaction per poll batch. On partition
assignment the consumer seeks to the offsets stored there, never to the group's
committed offsets (it commits those too, after SQLite, only so lag can be monitored).
A crash before a transaction commits leaves neither the counts nor the offsets of that
batch; a crash after it leaves both. Within the transaction a record at an offset
already applied is skipped as well, so even a redelivery cannot count twice.

See README.md beside this file, and schemas/README.md ("Topic contract").
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import logging
import os
import signal
import sqlite3
import sys
import time
import uuid
from dataclasses import dataclass
from typing import Any, Optional

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, TopicPartition
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.schema_registry.error import SchemaRegistryError
from confluent_kafka.serialization import MessageField, SerializationContext

LOG = logging.getLogger("activity")

# System events (ContentErased, ContentExpired) carry the nil conversation id and are
# appended to every partition: they are no conversation's activity.
NIL_UUID = "00000000-0000-0000-0000-000000000000"

# The payload branches counted, by full Avro record name (return_record_name=True).
COUNTED = {
    "chat.events.MessageSent": "messages",
    "chat.events.MessageEdited": "edits",
    "chat.events.MessageDeleted": "deletes",
    "chat.events.ReactionAdded": "reactions",
}
CONTENT_ERASED = "chat.events.ContentErased"

CSV_COLUMNS = [
    "minute",
    "messages",
    "edits",
    "deletes",
    "reactions",
    "active_users",
    "active_conversations",
]

SCHEMA = """
CREATE TABLE IF NOT EXISTS offsets (
    topic TEXT NOT NULL,
    partition INTEGER NOT NULL,
    next_offset INTEGER NOT NULL,
    PRIMARY KEY (topic, partition)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS minutes (
    minute TEXT PRIMARY KEY,
    messages INTEGER NOT NULL DEFAULT 0,
    edits INTEGER NOT NULL DEFAULT 0,
    deletes INTEGER NOT NULL DEFAULT 0,
    reactions INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS minute_users (
    minute TEXT NOT NULL,
    user_id TEXT NOT NULL,
    PRIMARY KEY (minute, user_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS minute_conversations (
    minute TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    PRIMARY KEY (minute, conversation_id)
) WITHOUT ROWID;
-- Every counted action once, by the key the gateway recognises retries by: a retry that
-- reached the log twice (possible after a gateway crash) is one action.
CREATE TABLE IF NOT EXISTS actions (
    conversation_id TEXT NOT NULL,
    actor_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    client_msg_id TEXT NOT NULL,
    PRIMARY KEY (conversation_id, actor_id, kind, client_msg_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS skipped (
    topic TEXT NOT NULL,
    partition INTEGER NOT NULL,
    offset INTEGER NOT NULL,
    reason TEXT NOT NULL,
    PRIMARY KEY (topic, partition, offset)
) WITHOUT ROWID;
-- System events seen (no user ids kept): one row per record, each partition has a copy.
CREATE TABLE IF NOT EXISTS system_events (
    topic TEXT NOT NULL,
    partition INTEGER NOT NULL,
    offset INTEGER NOT NULL,
    kind TEXT NOT NULL,
    minute TEXT NOT NULL,
    PRIMARY KEY (topic, partition, offset)
) WITHOUT ROWID;
"""


@dataclass
class Record:
    """One consumed record: decoded, or the reason it could not be."""

    partition: int
    offset: int
    event: Optional[dict[str, Any]]
    error: Optional[str]


class TransientError(Exception):
    """The registry could not be asked: stop without writing anything for this batch."""


def open_state(path: str) -> sqlite3.Connection:
    # isolation_level=None: transactions are begun and committed explicitly below.
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    # A commit is on disk when COMMIT returns, so a committed batch survives a crash.
    db.execute("PRAGMA synchronous=FULL")
    db.executescript(SCHEMA)
    return db


def stored_offsets(db: sqlite3.Connection, topic: str) -> dict[int, int]:
    rows = db.execute("SELECT partition, next_offset FROM offsets WHERE topic = ?", (topic,))
    return {p: o for p, o in rows}


def minute_of(occurred_at: Any) -> str:
    """The UTC minute of a timestamp-millis value (a datetime from fastavro, or millis)."""
    if isinstance(occurred_at, dt.datetime):
        when = occurred_at if occurred_at.tzinfo else occurred_at.replace(tzinfo=dt.timezone.utc)
    else:
        when = dt.datetime.fromtimestamp(int(occurred_at) / 1000, tz=dt.timezone.utc)
    return when.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:00Z")


def branch_of(payload: Any) -> tuple[str, dict[str, Any]]:
    """The union branch's full record name and fields (return_record_name=True gives a
    (name, value) tuple; anything else is a shape this example does not know)."""
    if isinstance(payload, tuple) and len(payload) == 2 and isinstance(payload[1], dict):
        return str(payload[0]), payload[1]
    return "", payload if isinstance(payload, dict) else {}


def apply_event(
    db: sqlite3.Connection, topic: str, rec: Record, conversations: set[str]
) -> None:
    event = rec.event
    assert event is not None
    conversation = str(event["conversation_id"])
    actor = str(event["actor_id"])
    minute = minute_of(event["occurred_at"])
    name, fields = branch_of(event.get("payload"))

    if conversation == NIL_UUID:
        db.execute(
            "INSERT OR IGNORE INTO system_events (topic, partition, offset, kind, minute) "
            "VALUES (?, ?, ?, ?, ?)",
            (topic, rec.partition, rec.offset, name or "unknown", minute),
        )
        if name == CONTENT_ERASED:
            forget_user(db, str(fields.get("user_id", "")))
        return
    if conversations and conversation not in conversations:
        return
    # An operator's event in a conversation (v1.3 ConversationContentExpired, appended by
    # the retention task with the nil actor) is nobody's activity.
    if actor == NIL_UUID:
        db.execute(
            "INSERT OR IGNORE INTO system_events (topic, partition, offset, kind, minute) "
            "VALUES (?, ?, ?, ?, ?)",
            (topic, rec.partition, rec.offset, name or "unknown", minute),
        )
        return

    db.execute("INSERT OR IGNORE INTO minutes (minute) VALUES (?)", (minute,))
    db.execute(
        "INSERT OR IGNORE INTO minute_users (minute, user_id) VALUES (?, ?)", (minute, actor)
    )
    db.execute(
        "INSERT OR IGNORE INTO minute_conversations (minute, conversation_id) VALUES (?, ?)",
        (minute, conversation),
    )
    column = COUNTED.get(name)
    if column is None:
        return
    first_time = db.execute(
        "INSERT OR IGNORE INTO actions (conversation_id, actor_id, kind, client_msg_id) "
        "VALUES (?, ?, ?, ?)",
        (conversation, actor, column, str(fields.get("client_msg_id", ""))),
    ).rowcount
    if first_time:
        # `column` is one of COUNTED's values, never input.
        db.execute(f"UPDATE minutes SET {column} = {column} + 1 WHERE minute = ?", (minute,))


def forget_user(db: sqlite3.Connection, user_id: str) -> None:
    """An erased user's id leaves the analytics state; counts stay exact (the rows keep
    one pseudonym per erased user, so distinct counts do not change)."""
    if not user_id:
        return
    pseudonym = f"erased:{uuid.uuid4()}"
    db.execute("UPDATE minute_users SET user_id = ? WHERE user_id = ?", (pseudonym, user_id))
    db.execute("UPDATE actions SET actor_id = ? WHERE actor_id = ?", (pseudonym, user_id))


def apply_batch(
    db: sqlite3.Connection, topic: str, records: list[Record], conversations: set[str]
) -> dict[int, int]:
    """Apply a batch and advance the offsets in ONE transaction; the new next offsets of
    the partitions it touched."""
    db.execute("BEGIN IMMEDIATE")
    try:
        applied = stored_offsets(db, topic)
        advanced: dict[int, int] = {}
        for rec in records:
            # Already applied (a redelivery): never count it twice.
            if rec.offset < applied.get(rec.partition, 0):
                continue
            if rec.error is not None:
                db.execute(
                    "INSERT OR IGNORE INTO skipped (topic, partition, offset, reason) "
                    "VALUES (?, ?, ?, ?)",
                    (topic, rec.partition, rec.offset, rec.error[:500]),
                )
            else:
                apply_event(db, topic, rec, conversations)
            applied[rec.partition] = rec.offset + 1
            advanced[rec.partition] = rec.offset + 1
        for partition, next_offset in advanced.items():
            db.execute(
                "INSERT INTO offsets (topic, partition, next_offset) VALUES (?, ?, ?) "
                "ON CONFLICT (topic, partition) DO UPDATE SET next_offset = excluded.next_offset",
                (topic, partition, next_offset),
            )
        db.execute("COMMIT")
        return advanced
    except BaseException:
        db.execute("ROLLBACK")
        raise


def write_csv(db: sqlite3.Connection, path: str) -> int:
    """The whole state as CSV, one row per minute; written to a temporary file and
    renamed, so a reader never sees half a file."""
    rows = db.execute(
        """
        SELECT m.minute, m.messages, m.edits, m.deletes, m.reactions,
               (SELECT COUNT(*) FROM minute_users u WHERE u.minute = m.minute),
               (SELECT COUNT(*) FROM minute_conversations c WHERE c.minute = m.minute)
        FROM minutes m ORDER BY m.minute
        """
    ).fetchall()
    tmp = f"{path}.tmp"
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(CSV_COLUMNS)
        out.writerows(rows)
    os.replace(tmp, path)
    return len(rows)


def is_transient(err: Exception) -> bool:
    """Errors that say nothing about the record (the registry is unreachable or failing):
    retrying later may succeed, so the record must not be skipped."""
    if isinstance(err, SchemaRegistryError):
        status = getattr(err, "http_status_code", None)
        return status is None or status < 0 or status >= 500 or status in (401, 403, 429)
    if isinstance(err, OSError):
        return True
    # The registry client's HTTP errors (its transport library's timeouts, refused
    # connections), without importing that library by name.
    return type(err).__module__.split(".")[0].startswith("httpx")


def decode(deserializer: AvroDeserializer, topic: str, msg: Any) -> Record:
    value = msg.value()
    if value is None:
        return Record(msg.partition(), msg.offset(), None, "no value (tombstone)")
    try:
        event = deserializer(value, SerializationContext(topic, MessageField.VALUE))
    except Exception as err:  # noqa: BLE001 - classified just below
        if is_transient(err):
            raise TransientError(f"{type(err).__name__}: {err}") from err
        return Record(msg.partition(), msg.offset(), None, f"{type(err).__name__}: {err}")
    if not isinstance(event, dict) or not all(
        k in event for k in ("conversation_id", "actor_id", "occurred_at", "payload")
    ):
        return Record(msg.partition(), msg.offset(), None, "not a ConversationEvent")
    return Record(msg.partition(), msg.offset(), event, None)


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Per-minute chat activity from chat.conversation-events, exactly once.",
    )
    p.add_argument(
        "--bootstrap",
        default=os.environ.get("KAFKA_BROKERS", "127.0.0.1:9092"),
        help="Kafka bootstrap servers (default: $KAFKA_BROKERS or 127.0.0.1:9092)",
    )
    p.add_argument(
        "--registry",
        default=os.environ.get("SCHEMA_REGISTRY_URL", "http://127.0.0.1:8081/apis/ccompat/v7"),
        help="Confluent-compatible schema registry URL (default: $SCHEMA_REGISTRY_URL)",
    )
    p.add_argument("--topic", default="chat.conversation-events")
    p.add_argument(
        "--group",
        default="analytics-activity-example",
        help="consumer group of this consumer (never a platform role's)",
    )
    p.add_argument("--state", default="activity.sqlite", help="SQLite state database")
    p.add_argument("--out", default="activity.csv", help="CSV written from the state on exit")
    p.add_argument(
        "--conversation",
        action="append",
        default=[],
        metavar="ID",
        help="count only this conversation (repeatable); offsets still advance past others",
    )
    p.add_argument(
        "--until-idle",
        type=float,
        metavar="SECS",
        help="exit once no record has arrived for SECS after the partitions were assigned",
    )
    p.add_argument(
        "--max-records",
        type=int,
        metavar="N",
        help="stop after N records (a crash mid-stream: what was applied is committed)",
    )
    p.add_argument(
        "--kafka-property",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra librdkafka property (TLS, SASL), repeatable",
    )
    p.add_argument("--batch", type=int, default=500, help="records per poll batch")
    args = p.parse_args(argv)
    if args.max_records is not None and args.max_records < 1:
        p.error("--max-records must be at least 1")
    return args


def consumer_config(args: argparse.Namespace) -> dict[str, Any]:
    conf: dict[str, Any] = {
        "bootstrap.servers": args.bootstrap,
        "group.id": args.group,
        # Offsets come from SQLite; the group's are only committed for lag monitoring.
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "auto.offset.reset": "earliest",
        # Only what the platform's idempotent producers committed.
        "isolation.level": "read_committed",
        "enable.partition.eof": False,
    }
    for prop in args.kafka_property:
        key, sep, value = prop.partition("=")
        if not sep:
            raise SystemExit(f"--kafka-property {prop!r}: expected KEY=VALUE")
        conf[key] = value
    return conf


def run(args: argparse.Namespace) -> int:
    db = open_state(args.state)
    registry = SchemaRegistryClient({"url": args.registry})
    # The writer's schema, from the id in each record; union branches by record name.
    deserializer = AvroDeserializer(registry, return_record_name=True)
    conversations = {c.lower() for c in args.conversation}
    consumer = Consumer(consumer_config(args))

    stop = False
    assigned_at: Optional[float] = None

    def on_signal(signum: int, _frame: Any) -> None:
        nonlocal stop
        LOG.info("signal %d: stopping after the current batch", signum)
        stop = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    def on_assign(c: Consumer, partitions: list[TopicPartition]) -> None:
        nonlocal assigned_at
        # Read in a transaction of its own: the offsets of the last committed batch.
        stored = stored_offsets(db, args.topic)
        for tp in partitions:
            tp.offset = stored.get(tp.partition, OFFSET_BEGINNING)
        LOG.info(
            "assigned %s",
            ", ".join(f"{tp.partition}@{stored.get(tp.partition, 'beginning')}" for tp in partitions),
        )
        c.assign(partitions)
        assigned_at = time.monotonic()

    consumer.subscribe([args.topic], on_assign=on_assign)
    started = time.monotonic()
    last_record = started
    consumed = skipped = 0
    rc = 0
    try:
        while not stop:
            msgs = consumer.consume(num_messages=args.batch, timeout=1.0)
            records: list[Record] = []
            for msg in msgs:
                err = msg.error()
                if err is not None:
                    if err.fatal():
                        raise KafkaException(err)
                    if err.code() in (KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError._UNKNOWN_TOPIC):
                        # A mistyped --topic (or one not created yet): waiting would
                        # hide the mistake.
                        raise KafkaException(err)
                    # Transient broker errors: librdkafka retries by itself.
                    if err.code() != KafkaError._PARTITION_EOF:
                        LOG.warning("consumer error: %s", err)
                    continue
                records.append(decode(deserializer, args.topic, msg))
            if args.max_records is not None:
                records = records[: args.max_records - consumed]
            if records:
                advanced = apply_batch(db, args.topic, records, conversations)
                consumed += len(records)
                skipped += sum(1 for r in records if r.error is not None)
                last_record = time.monotonic()
                commit_for_monitoring(consumer, args.topic, advanced)
            if args.max_records is not None and consumed >= args.max_records:
                LOG.info("stopping after %d records (--max-records)", consumed)
                break
            now = time.monotonic()
            if args.until_idle is not None:
                if assigned_at is not None and now - max(last_record, assigned_at) >= args.until_idle:
                    LOG.info("no record for %.1fs: done", args.until_idle)
                    break
                if assigned_at is None and now - started > max(120.0, args.until_idle):
                    LOG.error("no partition of %s was assigned in %.0fs", args.topic, now - started)
                    rc = 2
                    break
    except TransientError as err:
        LOG.error("the schema registry failed (nothing of this batch was applied): %s", err)
        rc = 3
    except KafkaException as err:
        LOG.error("Kafka: %s", err)
        rc = 4
    finally:
        consumer.close()
        rows = write_csv(db, args.out)
        db.close()
        LOG.info(
            "%d records consumed (%d skipped); %d minutes written to %s",
            consumed,
            skipped,
            rows,
            args.out,
        )
    return rc


def commit_for_monitoring(consumer: Consumer, topic: str, advanced: dict[int, int]) -> None:
    """The group's committed offsets, for lag dashboards only (never read back)."""
    if not advanced:
        return
    try:
        consumer.commit(
            offsets=[TopicPartition(topic, p, o) for p, o in advanced.items()],
            asynchronous=True,
        )
    except KafkaException as err:
        LOG.warning("committing offsets for monitoring failed: %s", err)


def main(argv: list[str]) -> int:
    logging.basicConfig(
        level=os.environ.get("ACTIVITY_LOG", "INFO"),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # The registry client logs every HTTP request at INFO.
    logging.getLogger("httpx2").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    return run(parse_args(argv))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
