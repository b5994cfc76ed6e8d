#!/usr/bin/env python3
"""An e-discovery export (`chatctl export`, JSON Lines) as one Parquet file.

    chatctl export --conversation ID | python export_to_parquet.py - out.parquet
    python export_to_parquet.py export.jsonl out.parquet

The Parquet file has an explicit schema, one column per field `chatctl export` writes
(services/chatctl/src/commands/export.rs, `line_of`): ids as strings, `occurred_at` as
timestamp[ms, UTC], `erased` as bool, `attachments` as a list of structs. A field that a
kind of record does not have is null (an edit has no `attachments`, a deletion no
`body`), so a null says "not part of this event" and an empty list or a null body on an
erased record says "was there, and is gone".

Every line is checked against what chatctl writes before anything is kept: a line that
is not an export record (not JSON, a missing or unknown field, a wrong type, a kind the
export never writes, content on an erased record) stops the conversion with exit code 2
and the line's number, and no output file is left behind. An e-discovery copy that
silently dropped or altered a field would be worse than none.

Exit codes: 0 written; 1 the input could not be read or the output written; 2 a bad
line or bad arguments.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import sys
import tempfile
import uuid
from typing import IO, Any, Iterator, Optional

import pyarrow as pa
import pyarrow.parquet as pq

ATTACHMENT = pa.struct(
    [
        pa.field("name", pa.string(), nullable=False),
        pa.field("content_type", pa.string(), nullable=False),
        pa.field("size_bytes", pa.int64(), nullable=False),
        pa.field("object_key", pa.string(), nullable=False),
        pa.field("url", pa.string(), nullable=False),
    ]
)

# In the order chatctl writes the fields: the event's identity, then the message's.
SCHEMA = pa.schema(
    [
        pa.field("conversation_id", pa.string(), nullable=False),
        pa.field("partition", pa.int32(), nullable=False),
        pa.field("seq", pa.int64(), nullable=False),
        pa.field("event_id", pa.string(), nullable=False),
        pa.field("kind", pa.string(), nullable=False),
        pa.field("actor_id", pa.string(), nullable=False),
        pa.field("occurred_at", pa.timestamp("ms", tz="UTC"), nullable=False),
        pa.field("erased", pa.bool_(), nullable=False),
        pa.field("message_id", pa.string(), nullable=False),
        # message_sent only.
        pa.field("message_kind", pa.string()),
        # message_sent and message_edited; null when erased.
        pa.field("body", pa.string()),
        # message_sent only (and null there when the message is no reply / in no thread).
        pa.field("reply_to", pa.string()),
        pa.field("thread_root", pa.string()),
        # message_sent only; empty when erased.
        pa.field("attachments", pa.list_(pa.field("item", ATTACHMENT, nullable=False))),
    ],
    metadata={b"source": b"chatctl export (JSON Lines), converted by export_to_parquet.py"},
)

# The fields each kind has, beside the common ones: exactly what `line_of` writes.
COMMON = (
    "conversation_id",
    "partition",
    "seq",
    "event_id",
    "kind",
    "actor_id",
    "occurred_at",
    "erased",
)
BY_KIND = {
    "message_sent": (
        "message_id",
        "message_kind",
        "body",
        "reply_to",
        "thread_root",
        "attachments",
    ),
    "message_edited": ("message_id", "body"),
    "message_deleted": ("message_id",),
}
MESSAGE_KINDS = {"text", "image", "file", "system"}
ATTACHMENT_FIELDS = ("name", "content_type", "size_bytes", "object_key", "url")

INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)

# RFC 3339 as chatctl writes it (`UnixMillis::to_rfc3339`: UTC, `Z`, at most millisecond
# digits), with any offset accepted as RFC 3339 allows.
RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,3}))?([Zz]|[+-]\d{2}:\d{2})"
)
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)

# Rows per record batch written: bounds memory on a large export.
BATCH_ROWS = 10_000


class NotAnExportRecord(ValueError):
    """A line that `chatctl export` would not have written."""


def unix_millis(text: str) -> int:
    """An RFC 3339 time as integer milliseconds since the epoch (no float rounding)."""
    m = RFC3339.fullmatch(text)
    if not m:
        raise NotAnExportRecord(f"occurred_at {text!r} is not an RFC 3339 time")
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    fraction, offset = m.group(7), m.group(8)
    if offset in ("Z", "z"):
        tz = dt.timezone.utc
    else:
        sign = -1 if offset[0] == "-" else 1
        tz = dt.timezone(sign * dt.timedelta(hours=int(offset[1:3]), minutes=int(offset[4:6])))
    try:
        at = dt.datetime(year, month, day, hour, minute, second, tzinfo=tz)
    except ValueError as e:
        raise NotAnExportRecord(f"occurred_at {text!r}: {e}") from None
    millis = int((fraction or "").ljust(3, "0"))
    return (at - EPOCH) // dt.timedelta(seconds=1) * 1000 + millis


def _uuid(record: dict[str, Any], name: str, *, nullable: bool = False) -> Optional[str]:
    value = record[name]
    if value is None and nullable:
        return None
    if not isinstance(value, str):
        raise NotAnExportRecord(f"{name} is {json.dumps(value)}, not a UUID string")
    try:
        uuid.UUID(value)
    except ValueError:
        raise NotAnExportRecord(f"{name} {value!r} is not a UUID") from None
    return value


def _int(record: dict[str, Any], name: str, bounds: tuple[int, int]) -> int:
    value = record[name]
    # bool is an int in Python; `true` is no offset.
    if not isinstance(value, int) or isinstance(value, bool):
        raise NotAnExportRecord(f"{name} is {json.dumps(value)}, not an integer")
    if not bounds[0] <= value <= bounds[1]:
        raise NotAnExportRecord(f"{name} {value} is out of range")
    return value


def _attachment(value: Any, index: int) -> dict[str, Any]:
    where = f"attachments[{index}]"
    if not isinstance(value, dict):
        raise NotAnExportRecord(f"{where} is not an object")
    fields = set(value)
    if fields != set(ATTACHMENT_FIELDS):
        missing = sorted(set(ATTACHMENT_FIELDS) - fields)
        unknown = sorted(fields - set(ATTACHMENT_FIELDS))
        raise NotAnExportRecord(f"{where}: missing fields {missing}, unknown fields {unknown}")
    for name in ("name", "content_type", "object_key", "url"):
        if not isinstance(value[name], str):
            raise NotAnExportRecord(f"{where}.{name} is not a string")
    size = value["size_bytes"]
    if not isinstance(size, int) or isinstance(size, bool) or not INT64[0] <= size <= INT64[1]:
        raise NotAnExportRecord(f"{where}.size_bytes is {json.dumps(size)}, not an integer")
    return {name: value[name] for name in ATTACHMENT_FIELDS}


def parse_record(line: str) -> dict[str, Any]:
    """One export line as a row of SCHEMA, or NotAnExportRecord saying what is wrong."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError as e:
        raise NotAnExportRecord(f"not JSON ({e})") from None
    if not isinstance(record, dict):
        raise NotAnExportRecord("not a JSON object")
    kind = record.get("kind")
    if kind not in BY_KIND:
        raise NotAnExportRecord(
            f"kind {json.dumps(kind)} is none of {sorted(BY_KIND)}: is this a chatctl export?"
        )
    expected = set(COMMON) | set(BY_KIND[kind])
    fields = set(record)
    if fields != expected:
        missing = sorted(expected - fields)
        unknown = sorted(fields - expected)
        # An unknown field is refused rather than dropped: it may be something a newer
        # chatctl writes, and a copy that loses it silently is not a faithful export.
        raise NotAnExportRecord(f"{kind}: missing fields {missing}, unknown fields {unknown}")

    erased = record["erased"]
    if not isinstance(erased, bool):
        raise NotAnExportRecord(f"erased is {json.dumps(erased)}, not true or false")
    occurred_at = record["occurred_at"]
    if not isinstance(occurred_at, str):
        raise NotAnExportRecord(f"occurred_at is {json.dumps(occurred_at)}, not a string")
    row: dict[str, Any] = {
        "conversation_id": _uuid(record, "conversation_id"),
        "partition": _int(record, "partition", INT32),
        "seq": _int(record, "seq", INT64),
        "event_id": _uuid(record, "event_id"),
        "kind": kind,
        "actor_id": _uuid(record, "actor_id"),
        "occurred_at": unix_millis(occurred_at),
        "erased": erased,
        "message_id": _uuid(record, "message_id"),
        "message_kind": None,
        "body": None,
        "reply_to": None,
        "thread_root": None,
        "attachments": None,
    }
    if "body" in record:
        body = record["body"]
        # chatctl writes the body exactly when the content could be opened.
        if erased and body is not None:
            raise NotAnExportRecord("erased, yet it has a body")
        if not erased and not isinstance(body, str):
            raise NotAnExportRecord(f"body is {json.dumps(body)}, not a string")
        row["body"] = body
    if kind == "message_sent":
        message_kind = record["message_kind"]
        if message_kind not in MESSAGE_KINDS:
            raise NotAnExportRecord(
                f"message_kind {json.dumps(message_kind)} is none of {sorted(MESSAGE_KINDS)}"
            )
        row["message_kind"] = message_kind
        row["reply_to"] = _uuid(record, "reply_to", nullable=True)
        row["thread_root"] = _uuid(record, "thread_root", nullable=True)
        attachments = record["attachments"]
        if not isinstance(attachments, list):
            raise NotAnExportRecord("attachments is not a list")
        if erased and attachments:
            raise NotAnExportRecord("erased, yet it has attachments")
        row["attachments"] = [_attachment(a, i) for i, a in enumerate(attachments)]
    return row


def records(lines: IO[str]) -> Iterator[dict[str, Any]]:
    """The rows of an export; NotAnExportRecord names the line (from 1) that is not one."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue  # a blank line (a trailing one, say) holds no record
        try:
            yield parse_record(line)
        except NotAnExportRecord as e:
            raise NotAnExportRecord(f"line {number}: {e}") from None


def convert(lines: IO[str], out_path: str) -> int:
    """Write the export read from `lines` to `out_path` as Parquet; returns the row count.

    It writes to a temporary file beside `out_path` and renames it at the end, so a bad
    line (NotAnExportRecord) or a failure leaves no half-written file at `out_path`.
    """
    directory = os.path.dirname(os.path.abspath(out_path))
    fd, tmp_path = tempfile.mkstemp(prefix=".export-", suffix=".parquet.tmp", dir=directory)
    os.close(fd)
    count = 0
    try:
        with pq.ParquetWriter(tmp_path, SCHEMA) as writer:
            batch: list[dict[str, Any]] = []
            for row in records(lines):
                batch.append(row)
                if len(batch) >= BATCH_ROWS:
                    writer.write_table(pa.Table.from_pylist(batch, schema=SCHEMA))
                    count += len(batch)
                    batch = []
            if batch:
                writer.write_table(pa.Table.from_pylist(batch, schema=SCHEMA))
                count += len(batch)
        os.replace(tmp_path, out_path)
    except BaseException:
        try:
            os.unlink(tmp_path)
        except FileNotFoundError:
            pass
        raise
    return count


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Convert a `chatctl export` (JSON Lines) to one Parquet file.",
    )
    p.add_argument("input", help="the export's JSON Lines file, or - for standard input")
    p.add_argument("output", help="the Parquet file to write (replaced if it exists)")
    return p.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    try:
        if args.input == "-":
            # chatctl writes UTF-8 (JSON), whatever the locale of this process says.
            sys.stdin.reconfigure(encoding="utf-8")
            count = convert(sys.stdin, args.output)
        else:
            with open(args.input, encoding="utf-8") as f:
                count = convert(f, args.output)
    except NotAnExportRecord as e:
        print(f"export_to_parquet: not an export record: {e}; nothing written", file=sys.stderr)
        return 2
    except (OSError, UnicodeDecodeError, pa.ArrowException) as e:
        print(f"export_to_parquet: {e}", file=sys.stderr)
        return 1
    print(f"export_to_parquet: {count} records written to {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
