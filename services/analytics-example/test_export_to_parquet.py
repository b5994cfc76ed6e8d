"""export_to_parquet.py: an export's records through Parquet and back, and what it refuses.

From the repository root, with the venv infra/dev makes:

    .state/venv-analytics/bin/python -m unittest discover -s services/analytics-example -p 'test_*.py'

The sample is what `chatctl export` writes (services/chatctl/src/commands/export.rs,
`line_of`) for a message with an attachment, an edit of it, its deletion, and a message
whose author was erased.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import unittest

import pyarrow as pa
import pyarrow.parquet as pq

import export_to_parquet

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "export_to_parquet.py")

CONVERSATION = "6f1c2a4e-9b7d-4c1e-8a35-0d2f6b9e1a11"
ALICE = "1b0e7f62-3c55-4a8e-9d41-7e2a5c8b9f01"
BOB = "2c1f8073-4d66-4b9f-8e52-8f3b6d9caf02"
SENT_ID = "0a9d5e31-7b2c-4f6e-a1d8-3c4b5a6e7f10"
ERASED_ID = "0b8e6f42-8c3d-4a7f-b2e9-4d5c6b7f8a21"

SENT = {
    "conversation_id": CONVERSATION,
    "partition": 3,
    "seq": 41,
    "event_id": "5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a80",
    "kind": "message_sent",
    "actor_id": ALICE,
    "occurred_at": "2026-11-23T07:34:59.123Z",
    "erased": False,
    "message_id": SENT_ID,
    "message_kind": "text",
    "body": "the contract is in the attachment",
    "reply_to": None,
    "thread_root": None,
    "attachments": [
        {
            "name": "contract.pdf",
            "content_type": "application/pdf",
            "size_bytes": 48213,
            "object_key": "attachments/6f1c2a4e/contract.pdf",
            "url": "",
        }
    ],
}
EDITED = {
    "conversation_id": CONVERSATION,
    "partition": 3,
    "seq": 42,
    "event_id": "6f7a8b9c-0d1e-4f2a-9b3c-4d5e6f7a8b91",
    "kind": "message_edited",
    "actor_id": ALICE,
    # chatctl leaves out a zero fraction (`time`'s RFC 3339 format).
    "occurred_at": "2026-11-23T07:35:10Z",
    "erased": False,
    "message_id": SENT_ID,
    "body": "the contract (v2) is in the attachment",
}
DELETED = {
    "conversation_id": CONVERSATION,
    "partition": 3,
    "seq": 43,
    "event_id": "7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9ca2",
    "kind": "message_deleted",
    "actor_id": ALICE,
    "occurred_at": "2026-11-23T07:36:00.5Z",
    "erased": False,
    "message_id": SENT_ID,
}
ERASED = {
    "conversation_id": CONVERSATION,
    "partition": 3,
    "seq": 44,
    "event_id": "8b9c0d1e-2f3a-4b4c-9d5e-6f7a8b9cadb3",
    "kind": "message_sent",
    "actor_id": BOB,
    "occurred_at": "2026-11-23T07:37:01.007Z",
    "erased": True,
    "message_id": ERASED_ID,
    "message_kind": "text",
    "body": None,
    "reply_to": SENT_ID,
    "thread_root": SENT_ID,
    "attachments": [],
}
SAMPLE = [SENT, EDITED, DELETED, ERASED]


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.timezone.utc)


def jsonl(records: list[dict]) -> str:
    return "".join(json.dumps(r) + "\n" for r in records)


class ExportToParquet(unittest.TestCase):
    def setUp(self) -> None:
        self.dir = tempfile.TemporaryDirectory()
        self.addCleanup(self.dir.cleanup)

    def path(self, name: str) -> str:
        return os.path.join(self.dir.name, name)

    def run_script(self, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, SCRIPT, *args],
            input=stdin.encode("utf-8"),
            capture_output=True,
            timeout=60,
        )

    def test_sample_round_trips_through_parquet(self) -> None:
        src, out = self.path("export.jsonl"), self.path("export.parquet")
        with open(src, "w", encoding="utf-8") as f:
            f.write(jsonl(SAMPLE))
        done = self.run_script(src, out)
        self.assertEqual(done.returncode, 0, done.stderr.decode())

        table = pq.read_table(out)
        # The schema as declared, not as inferred from these four rows.
        self.assertTrue(table.schema.equals(export_to_parquet.SCHEMA, check_metadata=False))
        self.assertEqual(table.schema.field("occurred_at").type, pa.timestamp("ms", tz="UTC"))
        self.assertEqual(table.schema.field("erased").type, pa.bool_())
        self.assertEqual(table.num_rows, 4)
        rows = table.to_pylist()

        sent, edited, deleted, erased = rows
        self.assertEqual(
            sent,
            {
                "conversation_id": CONVERSATION,
                "partition": 3,
                "seq": 41,
                "event_id": SENT["event_id"],
                "kind": "message_sent",
                "actor_id": ALICE,
                "occurred_at": utc(2026, 11, 23, 7, 34, 59, 123_000),
                "erased": False,
                "message_id": SENT_ID,
                "message_kind": "text",
                "body": "the contract is in the attachment",
                "reply_to": None,
                "thread_root": None,
                "attachments": SENT["attachments"],
            },
        )
        # An edit: its body; the fields only a sent message has are null.
        self.assertEqual(edited["kind"], "message_edited")
        self.assertEqual(edited["body"], "the contract (v2) is in the attachment")
        self.assertEqual(edited["occurred_at"], utc(2026, 11, 23, 7, 35, 10))
        self.assertEqual(edited["message_id"], SENT_ID)
        for absent in ("message_kind", "reply_to", "thread_root", "attachments"):
            self.assertIsNone(edited[absent], absent)
        # A deletion: identity only.
        self.assertEqual(deleted["kind"], "message_deleted")
        self.assertEqual(deleted["occurred_at"], utc(2026, 11, 23, 7, 36, 0, 500_000))
        self.assertEqual(deleted["seq"], 43)
        for absent in ("message_kind", "body", "reply_to", "thread_root", "attachments"):
            self.assertIsNone(deleted[absent], absent)
        # An erased message: there, with its metadata, without content.
        self.assertTrue(erased["erased"])
        self.assertIsNone(erased["body"])
        self.assertEqual(erased["attachments"], [])
        self.assertEqual(erased["actor_id"], BOB)
        self.assertEqual(erased["reply_to"], SENT_ID)
        self.assertEqual(erased["occurred_at"], utc(2026, 11, 23, 7, 37, 1, 7_000))
        self.assertEqual([r["erased"] for r in rows], [False, False, False, True])

        # The instants themselves, in milliseconds as stored.
        millis = table.column("occurred_at").cast(pa.int64()).to_pylist()
        self.assertEqual(millis[0], 1795419299123)

    def test_reads_standard_input(self) -> None:
        out = self.path("stdin.parquet")
        done = self.run_script("-", out, stdin=jsonl(SAMPLE) + "\n")
        self.assertEqual(done.returncode, 0, done.stderr.decode())
        self.assertEqual(pq.read_table(out).column("seq").to_pylist(), [41, 42, 43, 44])

    def test_empty_export_is_an_empty_table_with_the_schema(self) -> None:
        out = self.path("empty.parquet")
        done = self.run_script("-", out, stdin="")
        self.assertEqual(done.returncode, 0, done.stderr.decode())
        table = pq.read_table(out)
        self.assertEqual(table.num_rows, 0)
        self.assertTrue(table.schema.equals(export_to_parquet.SCHEMA, check_metadata=False))

    def test_many_records_span_batches(self) -> None:
        records = []
        for i in range(export_to_parquet.BATCH_ROWS + 7):
            r = dict(DELETED, seq=i)
            records.append(r)
        out = self.path("many.parquet")
        done = self.run_script("-", out, stdin=jsonl(records))
        self.assertEqual(done.returncode, 0, done.stderr.decode())
        seqs = pq.read_table(out).column("seq").to_pylist()
        self.assertEqual(seqs, list(range(export_to_parquet.BATCH_ROWS + 7)))

    def test_refuses_what_is_not_an_export_record(self) -> None:
        without_body = dict(EDITED)
        del without_body["body"]
        # What the message must say -> the line.
        bad = {
            "not JSON": "{not json",
            "kind": json.dumps(dict(DELETED, kind="reaction_added")),
            # A `chatctl tail` line.
            "kind null is none of": json.dumps(
                {"topic": "chat.audit", "partition": 0, "offset": 1}
            ),
            "missing fields ['body']": json.dumps(without_body),
            "unknown fields ['extra']": json.dumps(dict(DELETED, extra=1)),
            "not an RFC 3339 time": json.dumps(dict(DELETED, occurred_at="yesterday")),
            "not an integer": json.dumps(dict(DELETED, seq="43")),
            "not true or false": json.dumps(dict(DELETED, erased="no")),
            "is not a UUID": json.dumps(dict(DELETED, actor_id="alice")),
            "erased, yet it has a body": json.dumps(dict(ERASED, body="still here")),
            "erased, yet it has attachments": json.dumps(
                dict(ERASED, attachments=SENT["attachments"])
            ),
            "attachments[0]": json.dumps(dict(SENT, attachments=[{"name": "x"}])),
            "message_kind": json.dumps(dict(SENT, message_kind="video")),
        }
        for why, line in bad.items():
            with self.subTest(why=why):
                out = self.path("refused.parquet")
                # The bad line third: what came before it is not written either.
                done = self.run_script("-", out, stdin=jsonl([SENT, EDITED]) + line + "\n")
                stderr = done.stderr.decode()
                self.assertEqual(done.returncode, 2, stderr)
                self.assertIn("not an export record: line 3:", stderr)
                self.assertIn(why, stderr)
                self.assertFalse(os.path.exists(out), "a refused export left a file")
                left = [n for n in os.listdir(self.dir.name) if n.endswith(".tmp")]
                self.assertEqual(left, [], "a temporary file was left")

    def test_refusal_keeps_an_existing_output(self) -> None:
        out = self.path("kept.parquet")
        self.assertEqual(self.run_script("-", out, stdin=jsonl(SAMPLE)).returncode, 0)
        done = self.run_script("-", out, stdin="[]\n")
        self.assertEqual(done.returncode, 2, done.stderr.decode())
        self.assertEqual(pq.read_table(out).num_rows, 4)

    def test_offsets_other_than_utc(self) -> None:
        self.assertEqual(
            export_to_parquet.unix_millis("2023-11-14T23:13:20.123+01:00"), 1_700_000_000_123
        )
        self.assertEqual(export_to_parquet.unix_millis("1970-01-01T00:00:00Z"), 0)
        self.assertEqual(export_to_parquet.unix_millis("1969-12-31T23:59:59.999Z"), -1)


if __name__ == "__main__":
    unittest.main()
