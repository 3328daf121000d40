"""Unit tests of rule dispatch, settings and state with a fake host.

Policy/Detector evaluation is pure Python until `export()`, so these run
under plain CPython: python3 -m unittest discover sdk/python/tests
"""

import json
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from stance_sdk import (  # noqa: E402
    Alert,
    Asset,
    Detector,
    Event,
    Finding,
    PluginError,
    Policy,
    Severity,
    StateError,
    Status,
    _host,
    state,
)


class FakeHost:
    def __init__(self, settings="{}", quota=1000):
        self.settings_text = settings
        self.lines = []
        self.store = {}
        self.quota = quota

    def settings(self):
        return self.settings_text

    def log(self, level, message):
        self.lines.append((level, message))

    def state_get(self, key):
        return self.store.get(key)

    def state_set(self, key, value):
        if sum(len(v) for k, v in self.store.items() if k != key) + len(value) > self.quota:
            raise StateError(f"state {key}: quota exceeded")
        self.store[key] = value

    def state_delete(self, key):
        self.store.pop(key, None)

    def state_keys(self, prefix):
        return sorted(k for k in self.store if k.startswith(prefix))


def bucket(name, **body):
    return Asset(f"arn:aws:s3:::{name}", "aws_s3_bucket", json.dumps(body))


def make_policy():
    p = Policy("t", "0.1.0")
    p.setting("min", "number", default=2)

    @p.rule("t-versioning", title="v", severity=Severity.LOW, resource_types=["aws_s3_*"])
    def versioning(asset):
        if asset.field_str("versioning.status") == "Enabled":
            return Finding.pass_()
        return Finding.fail("no").with_evidence(
            "resource.versioning.status", asset.field("versioning.status"), "== 'Enabled'"
        )

    @p.rule("t-boom", title="b", severity=Severity.HIGH, resource_types=["aws_s3_bucket"])
    def boom(asset):
        if asset.name == "explodes":
            raise KeyError("grants")
        if asset.name == "skipped":
            return None
        return Finding.pass_()

    @p.rule("t-ec2", title="e", severity=Severity.HIGH, resource_types=["aws_ec2_instance"])
    def ec2(asset):
        return Finding.fail("never for buckets")

    @p.rule("t-min", title="m", severity=Severity.LOW, resource_types=["aws_s3_bucket"])
    def minimum(asset):
        n = p.settings.get_int("min")
        return Finding.pass_() if (asset.field_int("n") or 0) >= n else Finding.fail(f"< {n}")

    return p


class PolicyTests(unittest.TestCase):
    def tearDown(self):
        _host.install(None)

    def test_dispatch_and_ids(self):
        host = FakeHost()
        _host.install(host)
        p = make_policy()
        out = p.evaluate(
            [bucket("good", versioning={"status": "Enabled"}, n=3), bucket("bad", versioning={})]
        )
        by = {(f.rule_id, f.asset_id): f for f in out}
        self.assertEqual(by[("t-versioning", "arn:aws:s3:::good")].status, Status.PASS)
        bad = by[("t-versioning", "arn:aws:s3:::bad")]
        self.assertEqual(bad.status, Status.FAIL)
        self.assertEqual(bad.evidence[0].actual, "null")
        self.assertNotIn("t-ec2", {f.rule_id for f in out})
        self.assertEqual(by[("t-min", "arn:aws:s3:::good")].status, Status.PASS)
        self.assertEqual(by[("t-min", "arn:aws:s3:::bad")].status, Status.FAIL)

    def test_exception_is_an_error_finding_of_one_rule_on_one_asset(self):
        _host.install(FakeHost())
        out = make_policy().evaluate([bucket("explodes"), bucket("fine")])
        errors = [f for f in out if f.status == Status.ERROR]
        self.assertEqual(len(errors), 1)
        self.assertEqual((errors[0].rule_id, errors[0].asset_id), ("t-boom", "arn:aws:s3:::explodes"))
        self.assertIn("KeyError", errors[0].message)
        self.assertIn("test_plugin.py:", errors[0].message)

    def test_none_means_no_finding(self):
        _host.install(FakeHost())
        out = make_policy().evaluate([bucket("skipped")])
        self.assertNotIn("t-boom", {f.rule_id for f in out})

    def test_wrong_return_type_is_an_error(self):
        _host.install(FakeHost())
        p = Policy("t", "0.1.0")
        p.rule("r", title="r", severity=Severity.LOW, resource_types=["*"])(lambda a: True)
        [f] = p.evaluate([bucket("x")])
        self.assertEqual(f.status, Status.ERROR)
        self.assertIn("returned bool", f.message)

    def test_plugin_error_fails_the_batch(self):
        _host.install(FakeHost())
        p = Policy("t", "0.1.0")

        @p.rule("r", title="r", severity=Severity.LOW, resource_types=["*"])
        def r(asset):
            raise PluginError("cannot read anything")

        with self.assertRaises(PluginError) as cm:
            p.evaluate([bucket("x")])
        self.assertEqual(cm.exception.rule_id, "r")

    def test_settings_defaults_and_checks(self):
        _host.install(FakeHost('{"min": 5}'))
        p = make_policy()
        p.evaluate([])
        self.assertEqual(p.settings.get_int("min"), 5)
        _host.install(FakeHost("{}"))
        p.evaluate([])
        self.assertEqual(p.settings.get_int("min"), 2)
        self.assertEqual(dict(p.settings), {"min": 2})

    def test_describe_refuses_bad_settings(self):
        p = make_policy()

        @p.check_settings
        def positive(settings):
            if settings.get_int("min") < 0:
                raise ValueError("min must not be negative")

        for text, why in [
            ('{"min": "x"}', "must be of kind number"),
            ('{"nope": 1}', "unknown setting `nope`"),
            ("[]", "must be a JSON object"),
            ('{"min": -1}', "min must not be negative"),
        ]:
            _host.install(FakeHost(text))
            with self.assertRaises(PluginError) as cm:
                p.describe()
            self.assertIn(why, cm.exception.message)
        _host.install(FakeHost('{"min": 1}'))
        info = p.describe()
        self.assertEqual([r.id for r in info.rules], ["t-versioning", "t-boom", "t-ec2", "t-min"])
        self.assertEqual(info.settings[0].kind, "number")

    def test_required_setting(self):
        p = Policy("t", "0.1.0").setting("accounts", "array", required=True, description="who")
        _host.install(FakeHost("{}"))
        with self.assertRaises(PluginError) as cm:
            p.describe()
        self.assertIn("`accounts` is required", cm.exception.message)

    def test_declaration_errors(self):
        p = Policy("t", "0.1.0")
        deco = p.rule("r", title="r", severity=Severity.LOW, resource_types=["*"])
        deco(lambda a: None)
        with self.assertRaises(ValueError):
            p.rule("r", title="again", severity=Severity.LOW, resource_types=["*"])
        with self.assertRaises(TypeError):
            p.rule("s", title="s", severity=Severity.LOW, resource_types="aws_s3_bucket")
        with self.assertRaises(ValueError):
            p.setting("x", "list")


class DetectorTests(unittest.TestCase):
    def tearDown(self):
        _host.install(None)

    def test_alerts_state_and_errors(self):
        host = FakeHost()
        _host.install(host)
        d = Detector("d", "0.1.0")

        @d.rule("d-fail", title="f", severity=Severity.MEDIUM)
        def failures(event):
            if event.field_str("errorCode") is None:
                return None
            who = event.field_str("userIdentity.arn") or "?"
            seen = state.get_json(f"fail/{who}", [])
            seen.append(event.id)
            state.set_json(f"fail/{who}", seen)
            if len(seen) >= 2:
                return Alert.on(event, "repeated failures").with_group_key(who)
            return None

        @d.rule("d-boom", title="b", severity=Severity.LOW, sources=["aws_*"])
        def boom(event):
            raise RuntimeError("bug")

        events = [
            Event(f"e{i}", {"errorCode": "AccessDenied", "userIdentity": {"arn": "u"}},
                  time=f"2026-11-20T09:3{i}:00Z")
            for i in range(3)
        ]
        out = d.evaluate(events)
        self.assertEqual([a.rule_id for a in out], ["d-fail", "d-fail"])
        self.assertEqual(out[0].severity, Severity.MEDIUM)
        self.assertEqual(out[0].window_start, "2026-11-20T09:31:00Z")
        self.assertEqual(state.keys("fail/"), ["fail/u"])
        self.assertEqual(len([l for l in host.lines if l[0] == "error"]), 3)
        self.assertIn("rule d-boom on event e0: RuntimeError: bug", host.lines[0][1])

    def test_alert_over_window(self):
        evs = [Event("b", {}, time="2026-11-20T10:00:00Z"), Event("a", {}, time="2026-11-20T09:00:00Z")]
        a = Alert.over(evs, "t", group_key="k")
        self.assertEqual((a.window_start, a.window_end), ("2026-11-20T09:00:00Z", "2026-11-20T10:00:00Z"))
        self.assertEqual(a.event_ids, ["b", "a"])

    def test_state_quota_and_types(self):
        _host.install(FakeHost(quota=4))
        state.set("k", b"1234")
        with self.assertRaises(StateError):
            state.set("j", b"5")
        with self.assertRaises(TypeError):
            state.set("k", "text")  # type: ignore[arg-type]
        state.delete("k")
        self.assertIsNone(state.get("k"))


if __name__ == "__main__":
    unittest.main()
