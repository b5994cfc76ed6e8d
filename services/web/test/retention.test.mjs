// @ts-check
// Disappearing messages (src/retention.ts, protocol v1.3): what the settings offer, the
// labels, values from the wire, and which messages an expiry reaches.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  createdBefore,
  retentionChoices,
  retentionFromValue,
  retentionFromWire,
  retentionLabel,
  retentionNote,
  retentionValue,
} from "../.test-build/retention.js";

test("the choices: Off, the usual durations, and the current one if it is another", () => {
  assert.deepEqual(retentionChoices(null), [null, 1, 7, 30, 90, 365]);
  assert.deepEqual(retentionChoices(30), [null, 1, 7, 30, 90, 365]);
  assert.deepEqual(retentionChoices(14), [null, 1, 7, 14, 30, 90, 365]);
  assert.deepEqual(retentionChoices(1000), [null, 1, 7, 30, 90, 365, 1000]);
});

test("labels, the header's note, and select values both ways", () => {
  assert.equal(retentionLabel(null), "Off");
  assert.equal(retentionLabel(1), "1 day");
  assert.equal(retentionLabel(7), "7 days");
  assert.equal(retentionNote(null), "");
  assert.equal(retentionNote(7), "Messages disappear after 7 days");
  assert.equal(retentionNote(1), "Messages disappear after 1 day");
  for (const d of [null, 1, 14, 365]) assert.equal(retentionFromValue(retentionValue(d)), d);
});

test("from the wire: a whole number or null; anything else is not said", () => {
  assert.equal(retentionFromWire(7), 7);
  assert.equal(retentionFromWire(null), null);
  assert.equal(retentionFromWire(undefined), undefined);
  assert.equal(retentionFromWire(1.5), undefined);
  assert.equal(retentionFromWire(-1), undefined);
  assert.equal(retentionFromWire("7"), undefined);
});

test("createdBefore: instants compared, beyond milliseconds too, offsets honoured", () => {
  const before = "2025-01-02T00:00:00Z";
  assert.equal(createdBefore("2025-01-01T23:59:59Z", before), true);
  assert.equal(createdBefore("2025-01-02T00:00:00Z", before), false);
  assert.equal(createdBefore("2025-01-02T00:00:00.000001Z", before), false);
  assert.equal(createdBefore("2025-01-01T23:59:59.999999999Z", before), true);
  assert.equal(createdBefore("2025-01-02T00:00:00.000000100Z", "2025-01-02T00:00:00.000000200Z"), true, "nanoseconds");
  assert.equal(createdBefore("2025-01-02T01:30:00+02:00", before), true, "23:30 UTC");
  assert.equal(createdBefore("2025-01-01T23:30:00-01:00", before), false, "00:30 UTC");
  assert.equal(createdBefore(null, before), false);
  assert.equal(createdBefore("not a time", before), false);
  assert.equal(createdBefore("2025-01-01T00:00:00Z", "garbage"), false);
});
