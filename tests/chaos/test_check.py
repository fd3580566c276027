#!/usr/bin/env python3
"""test_check.py - the chaos checker (tests/chaos/check) catches what it claims to catch.

Feeds it doctored streams and logs, no broker: a clean history passes, and a doubled, a lost, an invented
command, a gap, a repeat, an oversell, a sync outcome that differs from the event, an aborted record read as
committed, and a shard file that differs from the fold are each named, with the command, SKU and offsets.
Python 3 standard library only (the checker imports confluent_kafka only when it reads a topic).
"""

import importlib.machinery
import importlib.util
import os
import sqlite3
import struct
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))


def load_checker():
    loader = importlib.machinery.SourceFileLoader("chaos_check", os.path.join(HERE, "check"))
    spec = importlib.util.spec_from_loader("chaos_check", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


check = load_checker()


class Stream:
    """Builds a doctored events topic: events appended per partition with increasing offsets."""

    def __init__(self):
        self.partitions = {}
        self.sequences = {}

    def add(self, partition, command_id, sku, kind, data, sequence=None, offset_gap=1):
        events = self.partitions.setdefault(partition, [])
        offset = events[-1].offset + offset_gap if events else 0
        if sequence is None:
            sequence = self.sequences.get(sku, 0) + 1
        self.sequences[sku] = sequence
        value = {"type": kind, "sku": sku, "sequence": sequence, "command_id": command_id, "time_ms": 1,
                 "data": data}
        event = check.Event(partition, offset, sku, value)
        events.append(event)
        return event


def clean_history():
    """A small history that breaks nothing: create, receive, reserve, fulfil, a rejection, on two SKUs."""
    stream = Stream()
    stream.add(0, "c1", "A", "SkuCreated", {"name": "a", "reorder_point": 1})
    stream.add(0, "c2", "A", "StockReceived", {"location": "L1", "quantity": 10})
    stream.add(1, "c3", "B", "SkuCreated", {"name": "b", "reorder_point": 0})
    stream.add(0, "c4", "A", "StockReserved", {"reservation_id": "R1", "location": "L1", "quantity": 4})
    stream.add(0, "c5", "A", "ReservationFulfilled", {"reservation_id": "R1", "location": "L1", "quantity": 4})
    stream.add(1, "c6", "B", "CommandRejected", {"command_type": "ReserveStock", "reason": "insufficient_stock",
                                                  "detail": ""})
    stream.add(0, "expire-A-1", "A", "CommandRejected", {"command_type": "ExpireReservations",
                                                          "reason": "reservation_not_expired", "detail": ""})
    log = [
        {"id": "c1", "sku": "A", "type": "CreateSku", "via": "http-sync", "answer": "acked",
         "outcome": {"status": "accepted", "position": "0:0", "sequence": 1}},
        {"id": "c2", "sku": "A", "type": "ReceiveStock", "via": "http-async", "answer": "acked", "outcome": None},
        {"id": "c3", "sku": "B", "type": "CreateSku", "via": "kafka", "answer": "acked", "outcome": None},
        {"id": "c4", "sku": "A", "type": "ReserveStock", "via": "http-async", "answer": "unknown",
         "outcome": None},
        {"id": "c5", "sku": "A", "type": "FulfilReservation", "via": "http-async", "answer": "acked",
         "outcome": None},
        {"id": "c6", "sku": "B", "type": "ReserveStock", "via": "http-sync", "answer": "acked",
         "outcome": {"status": "rejected", "reason": "insufficient_stock", "position": "1:1", "sequence": 2}},
        {"id": "c7", "sku": "B", "type": "ReceiveStock", "via": "http-async", "answer": "unknown",
         "outcome": None},
        {"id": "c8", "sku": "B", "type": "ReceiveStock", "via": "http-async", "answer": "refused",
         "outcome": None},
    ]
    return stream, log


def violations_of(stream, log):
    fold = check.fold_events(stream.partitions)
    found = list(fold.violations) + check.check_log(fold, log)
    found.sort(key=lambda v: v.order)
    return found


class CheckerTest(unittest.TestCase):
    def assert_first(self, found, kind, command_id=None, sku=None, offset=None):
        self.assertTrue(found, "expected a %s violation, got none" % kind)
        first = found[0]
        self.assertEqual(first.kind, kind, [str(v) for v in found])
        if command_id is not None:
            self.assertEqual(first.command_id, command_id, str(first))
        if sku is not None:
            self.assertEqual(first.sku, sku, str(first))
        if offset is not None:
            self.assertIn(offset, first.offsets, str(first))

    def test_clean_history_has_no_violation(self):
        stream, log = clean_history()
        self.assertEqual([str(v) for v in violations_of(stream, log)], [])
        fold = check.fold_events(stream.partitions)
        self.assertEqual(fold.skus["A"].locations, {"L1": [6, 0]})
        self.assertEqual(fold.skus["A"].reservations["R1"]["status"], "fulfilled")

    def test_doubled_command_is_named_with_both_offsets(self):
        stream, log = clean_history()
        stream.add(0, "c2", "A", "StockReceived", {"location": "L1", "quantity": 10})
        found = violations_of(stream, log)
        self.assert_first(found, "doubled", "c2", "A", "0:1")
        self.assertIn("0:5", found[0].offsets)

    def test_lost_acknowledged_command_is_named(self):
        stream, log = clean_history()
        log.append({"id": "c9", "sku": "B", "type": "ReceiveStock", "via": "kafka", "answer": "acked",
                    "outcome": None})
        self.assert_first(violations_of(stream, log), "lost", "c9", "B")

    def test_unknown_answer_may_be_missing_but_not_doubled(self):
        stream, log = clean_history()
        self.assertEqual(violations_of(stream, log), [])  # c7 unknown and never decided: fine
        stream.add(1, "c7", "B", "CommandRejected", {"command_type": "ReceiveStock", "reason": "x", "detail": ""})
        stream.add(1, "c7", "B", "CommandRejected", {"command_type": "ReceiveStock", "reason": "x", "detail": ""},
                   offset_gap=3)
        self.assert_first(violations_of(stream, log), "doubled", "c7", "B")

    def test_consecutive_events_of_one_decision_are_one_decision(self):
        stream, log = clean_history()
        stream.add(0, "c10", "A", "StockReserved", {"reservation_id": "R2", "location": "L1", "quantity": 1})
        stream.add(0, "c11", "A", "StockReserved", {"reservation_id": "R3", "location": "L1", "quantity": 1})
        stream.add(0, "expire-A-2", "A", "ReservationExpired", {"reservation_id": "R2", "location": "L1",
                                                                 "quantity": 1})
        stream.add(0, "expire-A-2", "A", "ReservationExpired", {"reservation_id": "R3", "location": "L1",
                                                                 "quantity": 1})
        log += [{"id": c, "sku": "A", "type": "ReserveStock", "via": "kafka", "answer": "acked", "outcome": None}
                for c in ("c10", "c11")]
        self.assertEqual([str(v) for v in violations_of(stream, log)], [])
        fold = check.fold_events(stream.partitions)
        self.assertEqual(len(fold.decisions["expire-A-2"]), 1)
        self.assertEqual(fold.skus["A"].locations["L1"], [6, 0])

    def test_invented_command_is_named(self):
        stream, log = clean_history()
        stream.add(1, "nobody", "B", "StockReceived", {"location": "L9", "quantity": 1})
        self.assert_first(violations_of(stream, log), "invented", "nobody", "B", "1:2")

    def test_refused_command_that_was_decided_is_named(self):
        stream, log = clean_history()
        stream.add(1, "c8", "B", "StockReceived", {"location": "L9", "quantity": 1})
        self.assert_first(violations_of(stream, log), "decided-refused", "c8", "B")

    def test_sequence_gap_is_named(self):
        stream, log = clean_history()
        stream.add(0, "c12", "A", "StockReceived", {"location": "L1", "quantity": 1}, sequence=9)
        log.append({"id": "c12", "sku": "A", "type": "ReceiveStock", "via": "kafka", "answer": "acked",
                    "outcome": None})
        self.assert_first(violations_of(stream, log), "gap", "c12", "A", "0:5")

    def test_sequence_repeat_is_named(self):
        stream, log = clean_history()
        stream.add(0, "c12", "A", "StockReceived", {"location": "L1", "quantity": 1}, sequence=3)
        log.append({"id": "c12", "sku": "A", "type": "ReceiveStock", "via": "kafka", "answer": "acked",
                    "outcome": None})
        self.assert_first(violations_of(stream, log), "repeat", "c12", "A")

    def test_oversell_is_named(self):
        stream, log = clean_history()
        stream.add(0, "c12", "A", "StockReserved", {"reservation_id": "R9", "location": "L1", "quantity": 7})
        log.append({"id": "c12", "sku": "A", "type": "ReserveStock", "via": "kafka", "answer": "acked",
                    "outcome": None})
        self.assert_first(violations_of(stream, log), "oversell", "c12", "A", "0:5")

    def test_negative_stock_is_named(self):
        stream, log = clean_history()
        stream.add(0, "c12", "A", "StockTransferred", {"from_location": "L1", "to_location": "L2",
                                                        "quantity": 7})
        log.append({"id": "c12", "sku": "A", "type": "TransferStock", "via": "kafka", "answer": "acked",
                    "outcome": None})
        self.assert_first(violations_of(stream, log), "negative-stock", "c12", "A")

    def test_sync_outcome_differing_from_event_is_named(self):
        stream, log = clean_history()
        log[5]["outcome"] = {"status": "accepted", "position": "1:1", "sequence": 2}
        self.assert_first(violations_of(stream, log), "sync-mismatch", "c6", "B", "1:1")

    def test_wrong_sku_is_named(self):
        stream, log = clean_history()
        log[1]["sku"] = "B"
        self.assert_first(violations_of(stream, log), "wrong-sku", "c2")

    def test_aborted_record_read_as_committed_is_named(self):
        found, aborted = check.check_aborted({0: {0, 1, 3}}, {0: {0, 1, 2}})
        self.assertEqual(aborted, 1)
        self.assertEqual([v.kind for v in found], ["aborted-visible"])
        self.assertEqual(found[0].offsets, ["0:3"])

    def test_torn_log_line_is_ignored(self):
        with tempfile.NamedTemporaryFile("w", suffix=".log", delete=False) as log:
            log.write('{"id": "x", "answer": "acked"}\n{"id": "y", "ans')
        try:
            entries = check.read_logs([log.name])
        finally:
            os.unlink(log.name)
        self.assertEqual([e["id"] for e in entries], ["x"])


def make_shard(path, partition, checkpoint, skus, reservations=(), commands=()):
    with open(os.path.join(SOURCE_ROOT, "schema", "state", "001_initial.sql"), encoding="utf-8") as ddl:
        schema = ddl.read()
    db = sqlite3.connect(path)
    db.executescript(schema)
    db.execute("INSERT INTO shard_meta VALUES ('partition', ?), ('checkpoint', ?)", (partition, checkpoint))
    for sku, created, name, reorder_point, sequence, locations in skus:
        blob = bytes([1, len(locations)])
        for location, (on_hand, reserved) in locations.items():
            blob += bytes([len(location)]) + location.encode() + struct.pack("<qq", on_hand, reserved)
        db.execute("INSERT INTO skus VALUES (?, ?, ?, ?, ?, ?)", (sku, created, name, reorder_point, sequence,
                                                                  blob))
    for row in reservations:
        db.execute("INSERT INTO reservations VALUES (?, ?, ?, ?, ?, 0, 0, 0)", row)
    for row in commands:
        db.execute("INSERT INTO commands VALUES (?, ?, ?, ?, ?, '', 0)", row)
    db.commit()
    db.close()


class ShardCheckTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.path = os.path.join(self.dir.name, "shard-0000.db")
        self.stream, _ = clean_history()

    def tearDown(self):
        self.dir.cleanup()

    def test_shard_equal_to_fold_up_to_its_checkpoint_passes(self):
        # Checkpoint 4: the fulfilment (offset 3) and the expiry rejection (4) are not folded yet.
        make_shard(self.path, 0, 3, [("A", 1, "a", 1, 3, {"L1": (10, 4)})], [("A", "R1", "L1", 4, 1)],
                   [("c1", "A", 1, 1, 0), ("c4", "A", 3, 1, 0)])
        self.assertEqual([str(v) for v in check.check_shard(self.path, self.stream.partitions)], [])

    def test_shard_with_wrong_stock_is_named(self):
        make_shard(self.path, 0, 3, [("A", 1, "a", 1, 3, {"L1": (10, 5)})], [("A", "R1", "L1", 4, 1)])
        found = check.check_shard(self.path, self.stream.partitions)
        self.assertEqual([v.kind for v in found], ["shard-mismatch"])
        self.assertEqual(found[0].sku, "A")

    def test_shard_missing_a_reservation_is_named(self):
        make_shard(self.path, 0, 3, [("A", 1, "a", 1, 3, {"L1": (10, 4)})])
        self.assertEqual([v.kind for v in check.check_shard(self.path, self.stream.partitions)],
                         ["shard-mismatch"])

    def test_shard_command_row_the_fold_never_decided_is_named(self):
        make_shard(self.path, 0, 3, [("A", 1, "a", 1, 3, {"L1": (10, 4)})], [("A", "R1", "L1", 4, 1)],
                   [("c99", "A", 3, 1, 0)])
        found = check.check_shard(self.path, self.stream.partitions)
        self.assertEqual([(v.kind, v.command_id) for v in found], [("shard-mismatch", "c99")])


if __name__ == "__main__":
    unittest.main(verbosity=2)
