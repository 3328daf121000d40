"""Unit tests of the SDK's pure helpers: paths, typed getters, evidence text.

Run from the repository root: python3 -m unittest discover sdk/python/tests
(no componentize-py, no wit_world needed).
"""

import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from stance_sdk import fields  # noqa: E402
from stance_sdk.model import Asset, BodyError, Event, Finding, Severity, Status  # noqa: E402

DOC = {
    "a": {"b": [{"c": 1}, {"c": 2}]},
    "x": {"y.z": 3},
    "flag": True,
    "count": 7,
    "ratio": 0.5,
    "name": "acme",
    "nothing": None,
    "list": ["p", "q"],
}


class PathTests(unittest.TestCase):
    def test_split_path(self):
        self.assertEqual(fields.split_path("a.b[0].c"), ["a", "b", 0, "c"])
        self.assertEqual(fields.split_path("a[1][2]"), ["a", 1, 2])
        self.assertEqual(fields.split_path('x["y.z"]'), ["x", "y.z"])
        self.assertEqual(fields.split_path("x['y.z'].w"), ["x", "y.z", "w"])
        self.assertEqual(fields.split_path("a[key]"), ["a", "key"])
        self.assertEqual(fields.split_path("a[-1]"), ["a", "-1"])
        self.assertEqual(fields.split_path(".a..b."), ["a", "b"])
        self.assertEqual(fields.split_path(""), [])

    def test_bad_paths_raise(self):
        with self.assertRaises(ValueError):
            fields.split_path("a[0")
        with self.assertRaises(ValueError):
            fields.split_path('a["b]')

    def test_walks_keys_and_indexes(self):
        self.assertEqual(fields.field(DOC, "a.b[1].c"), 2)
        self.assertIsNone(fields.field(DOC, "a.b[2].c"))
        self.assertIsNone(fields.field(DOC, "a.missing"))
        self.assertIsNone(fields.field(DOC, "a.b.c"))  # a key step on a list
        self.assertIsNone(fields.field(DOC, "name[0]"))  # an index step on a string
        self.assertEqual(fields.field(DOC, 'x["y.z"]'), 3)
        self.assertIs(fields.field(DOC, ""), DOC)

    def test_has_field_tells_null_from_absent(self):
        self.assertTrue(fields.has_field(DOC, "nothing"))
        self.assertIsNone(fields.field(DOC, "nothing"))
        self.assertFalse(fields.has_field(DOC, "absent"))

    def test_typed_getters(self):
        self.assertEqual(fields.field_str(DOC, "name"), "acme")
        self.assertIsNone(fields.field_str(DOC, "count"))
        self.assertIs(fields.field_bool(DOC, "flag"), True)
        self.assertIsNone(fields.field_bool(DOC, "count"))
        self.assertEqual(fields.field_int(DOC, "count"), 7)
        self.assertIsNone(fields.field_int(DOC, "flag"))  # bool is not an int here
        self.assertIsNone(fields.field_int(DOC, "ratio"))
        self.assertEqual(fields.field_float(DOC, "count"), 7.0)
        self.assertEqual(fields.field_float(DOC, "ratio"), 0.5)
        self.assertEqual(fields.field_list(DOC, "list"), ["p", "q"])
        self.assertIsNone(fields.field_list(DOC, "name"))
        self.assertEqual(fields.field_dict(DOC, "x"), {"y.z": 3})
        self.assertIsNone(fields.field_dict(DOC, "list"))

    def test_as_list(self):
        self.assertEqual(fields.as_list(None), [])
        self.assertEqual(fields.as_list("s3:GetObject"), ["s3:GetObject"])
        self.assertEqual(fields.as_list(["a", "b"]), ["a", "b"])

    def test_json_text(self):
        self.assertEqual(fields.json_text({"a": [1, None, True]}), '{"a":[1,null,true]}')
        self.assertEqual(fields.json_text("é"), '"é"')
        self.assertEqual(fields.json_text(None), "null")
        with self.assertRaises(TypeError):
            fields.json_text({1, 2})
        with self.assertRaises(TypeError):
            fields.json_text(float("nan"))


class RecordTests(unittest.TestCase):
    def test_asset_body_and_tags(self):
        a = Asset(
            "arn:aws:s3:::acme-logs",
            "aws_s3_bucket",
            '{"versioning": {"status": "Enabled"}}',
            tags={"Owner": "platform"},
        )
        self.assertEqual(a.name, "acme-logs")
        self.assertEqual(a.field_str("versioning.status"), "Enabled")
        self.assertEqual(a.tag("Owner"), "platform")
        self.assertIsNone(a.tag("owner"))
        self.assertEqual(a.tag_ci("owner"), "platform")

    def test_asset_body_errors(self):
        with self.assertRaises(BodyError):
            _ = Asset("i", "t", "not json").body
        with self.assertRaises(BodyError):
            _ = Asset("i", "t", "[1]").body

    def test_event_time(self):
        e = Event("ev-1", {"eventName": "ConsoleLogin"}, time="2026-11-20T09:30:00Z")
        self.assertEqual(e.field_str("eventName"), "ConsoleLogin")
        self.assertEqual(e.timestamp().isoformat(), "2026-11-20T09:30:00+00:00")

    def test_finding_builders(self):
        f = (
            Finding.fail("open")
            .with_evidence("resource.a", {"b": 1}, "== {}")
            .with_severity(Severity.CRITICAL)
        )
        self.assertEqual(f.status, Status.FAIL)
        self.assertEqual(f.evidence[0].actual, '{"b":1}')
        self.assertEqual(f.severity, Severity.CRITICAL)
        self.assertEqual(Finding.pass_().status, Status.PASS)
        self.assertEqual(Finding.error("x").status, Status.ERROR)


if __name__ == "__main__":
    unittest.main()
