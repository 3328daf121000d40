//! The account context: one `aws_account_context` asset per account, derived
//! from the assets already collected (trails, their buckets and log groups,
//! metric filters, alarms), so rules that need several resources at once stay
//! single-asset rules and plugins never call the cloud. Schema:
//! `docs/aws-resources.md#aws_account_context`.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use crate::model::{Asset, CollectionError, Gap};

/// The resource type of the derived context assets, one per account.
pub const CONTEXT_TYPE: &str = "aws_account_context";

const TRAIL: &str = "aws_cloudtrail_trail";
const BUCKET: &str = "aws_s3_bucket";
const ACCOUNT_BLOCK: &str = "aws_s3_account_public_access_block";
const LOG_GROUP: &str = "aws_logs_log_group";
const ALARM: &str = "aws_cloudwatch_alarm";

/// The context fields and the resource types each is built from.
const FIELDS: &[(&str, &[&str])] = &[
    ("trails", &[TRAIL, BUCKET, ACCOUNT_BLOCK, LOG_GROUP]),
    ("monitoring", &[TRAIL, LOG_GROUP, ALARM]),
];

const INPUTS: [&str; 5] = [TRAIL, BUCKET, ACCOUNT_BLOCK, LOG_GROUP, ALARM];

/// What the collection covered.
pub enum Covered<'a> {
    /// A saved snapshot: it is taken as the full statement of what exists,
    /// for the accounts that hold at least one input (trail, bucket, log
    /// group, alarm); `accounts` is ignored.
    All,
    /// A live collection of these resource types, for every account of `accounts`.
    Only(&'a BTreeSet<String>),
}

/// Append one context asset per account that has none yet.
///
/// A field is a gap (so the rules reading it report `error`) when a type it
/// is built from was not collected for the account: not selected, a
/// collection error in any region, or a gap in a field the context reads.
pub fn derive(
    assets: &mut Vec<Asset>,
    errors: &[CollectionError],
    accounts: &[String],
    covered: Covered<'_>,
    collected_at: &str,
) {
    let have: BTreeSet<String> = assets
        .iter()
        .filter(|a| a.resource_type == CONTEXT_TYPE)
        .map(|a| a.account.clone())
        .collect();
    let accounts: BTreeSet<&str> = match covered {
        Covered::Only(_) => accounts.iter().map(String::as_str).collect(),
        // A snapshot: the accounts that hold something the context is built from.
        Covered::All => assets
            .iter()
            .filter(|a| INPUTS.contains(&a.resource_type.as_str()))
            .map(|a| a.account.as_str())
            .collect(),
    };
    let accounts: Vec<String> = accounts
        .into_iter()
        .filter(|a| !a.is_empty() && !have.contains(*a))
        .map(str::to_string)
        .collect();
    let mut built = Vec::new();
    for account in accounts {
        let mine: Vec<&Asset> = assets.iter().filter(|a| a.account == account).collect();
        let bodies = Bodies::parse(&mine);
        let body = json!({
            "account_id": account,
            "trails": trails(&bodies),
            "monitoring": monitoring(&bodies),
        });
        let gaps = gaps(&account, &mine, errors, &covered);
        built.push(Asset {
            id: format!("arn:aws:stance::{account}:account-context"),
            resource_type: CONTEXT_TYPE.to_string(),
            provider: "aws".to_string(),
            account: account.clone(),
            region: "global".to_string(),
            name: account.clone(),
            tags: Vec::new(),
            collected_at: collected_at.to_string(),
            body: body.to_string(),
            gaps,
        });
    }
    assets.extend(built);
}

/// The input bodies of one account, by type.
struct Bodies<'a> {
    by_type: BTreeMap<&'a str, Vec<(&'a Asset, Value)>>,
}

impl<'a> Bodies<'a> {
    fn parse(assets: &[&'a Asset]) -> Bodies<'a> {
        let mut by_type: BTreeMap<&str, Vec<(&Asset, Value)>> = BTreeMap::new();
        for a in assets {
            if INPUTS.contains(&a.resource_type.as_str())
                && let Ok(v) = serde_json::from_str::<Value>(&a.body)
            {
                by_type.entry(&a.resource_type).or_default().push((a, v));
            }
        }
        Bodies { by_type }
    }

    fn of(&self, ty: &str) -> &[(&'a Asset, Value)] {
        self.by_type.get(ty).map(Vec::as_slice).unwrap_or(&[])
    }
}

fn trails(b: &Bodies) -> Vec<Value> {
    let account_block = b.of(ACCOUNT_BLOCK).first().map(|(_, v)| v);
    b.of(TRAIL)
        .iter()
        .map(|(asset, t)| {
            let bucket_name = t["s3_bucket_name"].as_str();
            let bucket = bucket_name.and_then(|n| {
                b.of(BUCKET)
                    .iter()
                    .find(|(a, v)| v["name"].as_str() == Some(n) || a.name == n)
            });
            let log_group = log_group_id(t);
            json!({
                "arn": asset.id,
                "name": t["name"],
                "home_region": t["home_region"],
                "is_multi_region_trail": t["is_multi_region_trail"],
                "is_logging": t["is_logging"],
                "management_events_all": management_events_all(t),
                "s3_bucket_name": t["s3_bucket_name"],
                // null when the bucket is in another account (or not collected)
                "s3_bucket_public": bucket.map(|(_, v)| bucket_public(v, account_block)),
                "cloud_watch_logs_log_group_arn": t["cloud_watch_logs_log_group_arn"],
                "log_group_found": log_group
                    .as_deref()
                    .is_some_and(|id| b.of(LOG_GROUP).iter().any(|(a, _)| a.id == id)),
            })
        })
        .collect()
}

/// The chains trail → log group → metric filter → alarm, for every trail that
/// can feed CIS monitoring: multi-region, logging, all management events,
/// delivering to CloudWatch Logs.
fn monitoring(b: &Bodies) -> Vec<Value> {
    let mut out = Vec::new();
    for (trail, t) in b.of(TRAIL) {
        let feeds = t["is_multi_region_trail"] == true
            && t["is_logging"] == true
            && management_events_all(t);
        let Some(group_id) = log_group_id(t).filter(|_| feeds) else {
            continue;
        };
        let Some((group, g)) = b.of(LOG_GROUP).iter().find(|(a, _)| a.id == group_id) else {
            continue;
        };
        for filter in g["metric_filters"].as_array().into_iter().flatten() {
            let pattern = filter["filter_pattern"].as_str().unwrap_or("");
            for metric in filter["metric_transformations"]
                .as_array()
                .into_iter()
                .flatten()
            {
                let alarms: Vec<Value> = b
                    .of(ALARM)
                    .iter()
                    .filter(|(a, v)| {
                        a.region == group.region
                            && v["namespace"] == metric["metric_namespace"]
                            && v["metric_name"] == metric["metric_name"]
                    })
                    .map(|(a, v)| {
                        json!({
                            "alarm_name": v["alarm_name"],
                            "arn": a.id,
                            "actions_enabled": v["actions_enabled"],
                            "alarm_actions": v["alarm_actions"],
                        })
                    })
                    .collect();
                out.push(json!({
                    "trail": trail.id,
                    "log_group": group.id,
                    "filter_name": filter["filter_name"],
                    "filter_pattern": pattern,
                    "pattern": normalize(pattern),
                    "metric_namespace": metric["metric_namespace"],
                    "metric_name": metric["metric_name"],
                    "alarms": alarms,
                }));
            }
        }
    }
    out
}

/// A filter pattern without whitespace and double quotes, so rules compare
/// `{ ($.eventName = "ConsoleLogin") }` and `{($.eventName=ConsoleLogin)}` alike.
fn normalize(pattern: &str) -> String {
    pattern
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '"')
        .collect()
}

/// The trail's log group id: its ARN without the trailing `:*`.
fn log_group_id(t: &Value) -> Option<String> {
    t["cloud_watch_logs_log_group_arn"]
        .as_str()
        .map(|arn| arn.trim_end_matches(":*").to_string())
}

/// Does the trail record every read and write management event?
fn management_events_all(t: &Value) -> bool {
    let basic = t["event_selectors"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|s| s["read_write_type"] == "All" && s["include_management_events"] == true);
    let advanced = t["advanced_event_selectors"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|s| {
            let fields: Vec<&Value> = s["field_selectors"]
                .as_array()
                .into_iter()
                .flatten()
                .collect();
            let management = fields.iter().any(|f| {
                f["field"] == "eventCategory"
                    && f["equals"]
                        .as_array()
                        .is_some_and(|e| e.iter().any(|v| v == "Management"))
            });
            // A readOnly selector limits the trail to reads or to writes.
            let narrowed = fields.iter().any(|f| f["field"] == "readOnly");
            management && !narrowed
        });
    basic || advanced
}

/// Is the bucket readable or writable by anyone: a public ACL grant or a
/// policy statement allowing `*` without a condition, not neutralised by the
/// bucket's or the account's public access block.
fn bucket_public(bucket: &Value, account_block: Option<&Value>) -> bool {
    let blocked = |field: &str| {
        bucket["public_access_block"][field] == true
            || account_block.is_some_and(|a| a[field] == true)
    };
    let acl_public = bucket["acl"]["grants"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|g| {
            g["grantee_uri"].as_str().is_some_and(|u| {
                u.ends_with("/global/AllUsers") || u.ends_with("/global/AuthenticatedUsers")
            })
        });
    let policy_public = bucket["policy"]["Statement"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|s| {
            s["Effect"] == "Allow"
                && (s["Principal"] == "*"
                    || s["Principal"]["AWS"]
                        .as_array()
                        .is_some_and(|p| p.iter().any(|v| v == "*")))
                && s.get("Condition").is_none_or(Value::is_null)
        });
    (acl_public && !blocked("ignore_public_acls"))
        || (policy_public && !blocked("restrict_public_buckets"))
}

fn gaps(
    account: &str,
    mine: &[&Asset],
    errors: &[CollectionError],
    covered: &Covered<'_>,
) -> Vec<Gap> {
    // Only the buckets that receive some trail's logs matter.
    let trail_buckets: BTreeSet<String> = mine
        .iter()
        .filter(|a| a.resource_type == TRAIL)
        .filter_map(|a| serde_json::from_str::<Value>(&a.body).ok())
        .filter_map(|t| t["s3_bucket_name"].as_str().map(str::to_string))
        .collect();
    let mut out = Vec::new();
    for (field, types) in FIELDS {
        let why = types.iter().find_map(|ty| {
            if let Covered::Only(set) = covered
                && !set.contains(*ty)
            {
                return Some((
                    "collection".to_string(),
                    format!("{ty} was not collected (its service was not selected)"),
                ));
            }
            if let Some(e) = errors
                .iter()
                .find(|e| e.account == account && e.resource_types.iter().any(|t| t == ty))
            {
                return Some((
                    e.operation.clone(),
                    format!("{ty} not collected in {}: {}", e.region, e.kind),
                ));
            }
            mine.iter()
                .filter(|a| a.resource_type == *ty && relevant(a, &trail_buckets))
                .find_map(|a| a.gaps.iter().find(|g| reads(ty, &g.field)))
                .map(|g| {
                    (
                        g.operation.clone(),
                        format!("{ty} {}: {}", g.field, g.error),
                    )
                })
        });
        if let Some((operation, error)) = why {
            out.push(Gap {
                field: field.to_string(),
                operation,
                error,
            });
        }
    }
    out
}

/// Does the context read this body field of an input type? Gaps elsewhere
/// (a bucket's versioning, say) leave the context whole.
fn reads(ty: &str, field: &str) -> bool {
    let fields: &[&str] = match ty {
        TRAIL => &[
            "is_multi_region_trail",
            "is_logging",
            "event_selectors",
            "advanced_event_selectors",
            "cloud_watch_logs_log_group_arn",
            "s3_bucket_name",
        ],
        BUCKET => &["name", "public_access_block", "acl", "policy"],
        LOG_GROUP => &["metric_filters"],
        ALARM => &[
            "namespace",
            "metric_name",
            "actions_enabled",
            "alarm_actions",
        ],
        _ => return true,
    };
    fields.contains(&field)
}

/// Is this input asset one the context is built from (for buckets: one that receives trail logs)?
fn relevant(a: &Asset, trail_buckets: &BTreeSet<String>) -> bool {
    a.resource_type != BUCKET || trail_buckets.contains(&a.name) || {
        serde_json::from_str::<Value>(&a.body)
            .ok()
            .and_then(|b| b["name"].as_str().map(|n| trail_buckets.contains(n)))
            .unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asset(ty: &str, id: &str, region: &str, body: Value) -> Asset {
        Asset {
            id: id.into(),
            resource_type: ty.into(),
            provider: "aws".into(),
            account: "111122223333".into(),
            region: region.into(),
            name: id.rsplit([':', '/']).next().unwrap_or(id).into(),
            tags: Vec::new(),
            collected_at: "2026-11-01T00:00:00Z".into(),
            body: body.to_string(),
            gaps: Vec::new(),
        }
    }

    fn inputs() -> Vec<Asset> {
        vec![
            asset(
                TRAIL,
                "arn:aws:cloudtrail:us-east-1:111122223333:trail/main",
                "us-east-1",
                json!({"name": "main", "home_region": "us-east-1", "s3_bucket_name": "logs",
                    "is_multi_region_trail": true, "is_logging": true,
                    "event_selectors": [{"read_write_type": "All", "include_management_events": true, "data_resources": []}],
                    "advanced_event_selectors": [],
                    "cloud_watch_logs_log_group_arn": "arn:aws:logs:us-east-1:111122223333:log-group:trail:*"}),
            ),
            asset(
                BUCKET,
                "arn:aws:s3:::logs",
                "us-east-1",
                json!({"name": "logs", "public_access_block": null, "acl": {"grants": [
                    {"grantee_type": "Group", "grantee_uri": "http://acs.amazonaws.com/groups/global/AllUsers", "grantee_id": null, "permission": "READ"}]},
                    "policy": null}),
            ),
            asset(
                LOG_GROUP,
                "arn:aws:logs:us-east-1:111122223333:log-group:trail",
                "us-east-1",
                json!({"metric_filters": [{"filter_name": "root", "filter_pattern": "{ $.userIdentity.type = \"Root\" }",
                    "metric_transformations": [{"metric_name": "RootUse", "metric_namespace": "CIS", "metric_value": "1"}]}]}),
            ),
            asset(
                ALARM,
                "arn:aws:cloudwatch:us-east-1:111122223333:alarm:root",
                "us-east-1",
                json!({"alarm_name": "root", "namespace": "CIS", "metric_name": "RootUse",
                    "actions_enabled": true, "alarm_actions": ["arn:aws:sns:us-east-1:111122223333:sec"]}),
            ),
        ]
    }

    fn context(assets: &[Asset]) -> (Value, Vec<Gap>) {
        let a = assets
            .iter()
            .find(|a| a.resource_type == CONTEXT_TYPE)
            .expect("a context asset");
        (serde_json::from_str(&a.body).unwrap(), a.gaps.clone())
    }

    #[test]
    fn chains_trail_log_group_filter_and_alarm() {
        let mut assets = inputs();
        derive(
            &mut assets,
            &[],
            &["111122223333".into()],
            Covered::All,
            "2026-11-01T00:00:00Z",
        );
        let (body, gaps) = context(&assets);
        assert!(gaps.is_empty(), "{gaps:?}");
        assert_eq!(body["trails"][0]["s3_bucket_public"], true);
        assert_eq!(body["trails"][0]["log_group_found"], true);
        let chain = &body["monitoring"][0];
        assert_eq!(chain["pattern"], "{$.userIdentity.type=Root}");
        assert_eq!(chain["alarms"][0]["alarm_name"], "root");
        // Derived once: a second pass adds nothing.
        derive(
            &mut assets,
            &[],
            &["111122223333".into()],
            Covered::All,
            "2026-11-01T00:00:00Z",
        );
        assert_eq!(
            assets
                .iter()
                .filter(|a| a.resource_type == CONTEXT_TYPE)
                .count(),
            1
        );
    }

    #[test]
    fn a_blocked_account_makes_the_bucket_private_and_a_read_only_trail_feeds_nothing() {
        let mut assets = inputs();
        assets.push(asset(
            ACCOUNT_BLOCK,
            "arn:aws:s3::111122223333:account-public-access-block",
            "global",
            json!({"configured": true, "block_public_acls": true, "ignore_public_acls": true,
                "block_public_policy": true, "restrict_public_buckets": true}),
        ));
        assets[0].body = assets[0].body.replace("\"All\"", "\"ReadOnly\"");
        derive(&mut assets, &[], &[], Covered::All, "2026-11-01T00:00:00Z");
        let (body, _) = context(&assets);
        assert_eq!(body["trails"][0]["s3_bucket_public"], false);
        assert_eq!(body["monitoring"], json!([]));
    }

    #[test]
    fn gaps_outside_what_the_context_reads_leave_it_whole() {
        let mut assets = inputs();
        let gap = |field: &str| Gap {
            field: field.into(),
            operation: "GetBucketVersioning".into(),
            error: "unsupported".into(),
        };
        assets[1].gaps.push(gap("versioning"));
        let mut other = asset(
            BUCKET,
            "arn:aws:s3:::unrelated",
            "us-east-1",
            json!({"name": "unrelated"}),
        );
        other.gaps.push(gap("acl"));
        assets.push(other);
        derive(&mut assets, &[], &[], Covered::All, "2026-11-01T00:00:00Z");
        assert!(context(&assets).1.is_empty());

        let mut assets = inputs();
        assets[1].gaps.push(gap("acl"));
        derive(&mut assets, &[], &[], Covered::All, "2026-11-01T00:00:00Z");
        let fields: Vec<String> = context(&assets).1.into_iter().map(|g| g.field).collect();
        assert_eq!(fields, ["trails"]);
    }

    #[test]
    fn missing_inputs_are_gaps_not_empty_lists() {
        let mut assets = inputs();
        assets.retain(|a| a.resource_type != ALARM);
        let errors = [CollectionError {
            provider: "aws".into(),
            account: "111122223333".into(),
            region: "eu-west-1".into(),
            service: "logs".into(),
            operation: "DescribeAlarms".into(),
            kind: "access-denied".into(),
            message: "denied".into(),
            resource_types: vec![ALARM.into()],
        }];
        derive(
            &mut assets,
            &errors,
            &[],
            Covered::All,
            "2026-11-01T00:00:00Z",
        );
        let (_, gaps) = context(&assets);
        assert_eq!(gaps.len(), 1);
        assert_eq!(gaps[0].field, "monitoring");
        assert_eq!(gaps[0].operation, "DescribeAlarms");

        let mut assets = inputs();
        let selected: BTreeSet<String> = [TRAIL, BUCKET].map(String::from).into();
        derive(
            &mut assets,
            &[],
            &["111122223333".into()],
            Covered::Only(&selected),
            "2026-11-01T00:00:00Z",
        );
        let (_, gaps) = context(&assets);
        let fields: Vec<&str> = gaps.iter().map(|g| g.field.as_str()).collect();
        assert_eq!(fields, ["trails", "monitoring"]);
    }
}
