//! Lambda: the region's functions with their runtime (and whether AWS has
//! deprecated it), role, environment variable names (never their values),
//! VPC placement, encryption, tracing, function URL and resource policy.
//! Never reads a function's code and never invokes it.

use aws_sdk_lambda::Client;
use aws_sdk_lambda::types::FunctionConfiguration;
use futures::StreamExt;
use serde_json::{Value, json};
use stance_model::Asset;

use crate::toolkit::doc::{self, s};
use crate::toolkit::errors::is_not_found;
use crate::toolkit::record::{Failed, Misses};
use crate::toolkit::{Output, Target};

const SERVICE: &str = "lambda";
const FUNCTION: &str = "aws_lambda_function";

/// Lambda runtimes AWS deprecates, with the date deprecation starts (UTC),
/// from the "Deprecated runtimes" and "Supported runtimes" tables of
/// <https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtimes.html>.
/// A runtime counts as deprecated from its date on, compared with the time of
/// the collection. Not listed: the container-only .NET 5/7/9 (an image
/// function has no runtime), and the Amazon Linux 2 runtimes (`java8.al2`,
/// `java11`, `java17`, `python3.10`, `python3.11`, `provided.al2`), whose
/// dates AWS had not fixed when this list was written.
const DEPRECATED_RUNTIMES: &[(&str, &str)] = &[
    ("nodejs", "2016-10-31"),
    ("nodejs4.3-edge", "2019-04-30"),
    ("dotnetcore2.0", "2019-05-30"),
    ("dotnetcore1.0", "2019-07-30"),
    ("nodejs6.10", "2019-08-12"),
    ("nodejs4.3", "2020-03-06"),
    ("nodejs8.10", "2020-03-06"),
    ("python2.7", "2021-07-15"),
    ("nodejs10.x", "2021-07-30"),
    ("ruby2.5", "2021-07-30"),
    ("dotnetcore2.1", "2022-01-05"),
    ("python3.6", "2022-07-18"),
    ("nodejs12.x", "2023-03-31"),
    ("dotnetcore3.1", "2023-04-03"),
    ("nodejs14.x", "2023-12-04"),
    ("python3.7", "2023-12-04"),
    ("ruby2.7", "2023-12-07"),
    ("java8", "2024-01-08"),
    ("go1.x", "2024-01-08"),
    ("provided", "2024-01-08"),
    ("nodejs16.x", "2024-06-12"),
    ("python3.8", "2024-10-14"),
    ("dotnet6", "2024-12-20"),
    ("nodejs18.x", "2025-09-01"),
    ("python3.9", "2025-12-15"),
    ("ruby3.2", "2026-03-31"),
    ("nodejs20.x", "2026-04-30"),
];

/// Is `runtime` deprecated at `now` (an RFC 3339 time)?
fn deprecated(runtime: &str, now: &str) -> bool {
    // `2026-05-01T…` >= `2026-04-30`: dates and RFC 3339 times compare as strings.
    DEPRECATED_RUNTIMES
        .iter()
        .any(|(r, since)| *r == runtime && now >= *since)
}

pub(crate) async fn collect(target: &Target) -> Output {
    let mut out = Output::default();
    if target.covered(FUNCTION) {
        return out;
    }
    let c = Client::new(&target.sdk);
    let pages = c.list_functions().into_paginator().send();
    let functions: Vec<FunctionConfiguration> =
        match target.items(pages, |p| p.functions.unwrap_or_default()).await {
            Ok(f) => f,
            Err(e) => {
                out.errors
                    .push(target.sdk_error(SERVICE, "ListFunctions", &e, &[FUNCTION]));
                return out;
            }
        };

    let named = functions
        .into_iter()
        .filter(|f| f.function_name().is_some());
    let results: Vec<(Asset, Vec<Failed>)> = futures::stream::iter(named)
        .map(|f| function(target, &c, f))
        .buffer_unordered(8)
        .collect()
        .await;
    out.add_detailed(target, SERVICE, "functions", results);
    out
}

async fn function(target: &Target, c: &Client, f: FunctionConfiguration) -> (Asset, Vec<Failed>) {
    let name = f.function_name().unwrap_or_default().to_string();
    let arn = f.function_arn().map_or_else(
        || {
            format!(
                "arn:{}:lambda:{}:{}:function:{name}",
                target.partition(),
                target.region,
                target.account
            )
        },
        str::to_string,
    );
    let (url, policy) = tokio::join!(
        target.call(c.get_function_url_config().function_name(&name).send()),
        target.call(c.get_policy().function_name(&name).send()),
    );
    let mut m = Misses::default();

    let url = match url {
        Ok(u) => json!({
            "auth_type": u.auth_type().as_str(),
            "cors": u.cors().map(|c| json!({
                "allow_origins": c.allow_origins(),
                "allow_methods": c.allow_methods(),
                "allow_headers": c.allow_headers(),
                "expose_headers": c.expose_headers(),
                "allow_credentials": c.allow_credentials().unwrap_or(false),
                "max_age": c.max_age(),
            })),
        }),
        Err(e) if is_not_found(&e, &["ResourceNotFoundException"]) => Value::Null,
        Err(e) => m.sdk(&["url"], "GetFunctionUrlConfig", &e),
    };
    let policy = match policy {
        Ok(p) => match p.policy().map(doc::policy) {
            Some(Ok(d)) => d,
            Some(Err(message)) => m.gap(&["policy"], Failed::other("GetPolicy", message)),
            None => Value::Null,
        },
        Err(e) if is_not_found(&e, &["ResourceNotFoundException"]) => Value::Null,
        Err(e) => m.sdk(&["policy"], "GetPolicy", &e),
    };
    let environment_variable_names = environment_variable_names(&f, &mut m);
    let vpc_config = f
        .vpc_config()
        .filter(|v| !v.subnet_ids().is_empty() || !v.security_group_ids().is_empty())
        .map_or(Value::Null, |v| {
            json!({
                "vpc_id": v.vpc_id().filter(|id| !id.is_empty()),
                "subnet_ids": v.subnet_ids(),
                "security_group_ids": v.security_group_ids(),
            })
        });
    let runtime = f.runtime().map(|r| r.as_str());
    let body = json!({
        "function_name": name,
        "arn": arn,
        "runtime": runtime,
        "handler": f.handler(),
        "role": f.role(),
        "last_modified": lambda_time(f.last_modified()),
        "package_type": f.package_type().map(|p| p.as_str()),
        "architectures": f.architectures().iter().map(|a| a.as_str()).collect::<Vec<_>>(),
        "environment_variable_names": environment_variable_names,
        "vpc_config": vpc_config,
        "kms_key_arn": s(f.kms_key_arn()),
        "tracing_mode": f.tracing_config().and_then(|t| t.mode()).map(|m| m.as_str()),
        "url": url,
        "policy": policy,
        "deprecated_runtime": runtime.is_some_and(|r| deprecated(r, &target.collected_at)),
    });
    let asset = target.asset(&target.region, arn, FUNCTION, name, Vec::new(), body, m.gaps);
    (asset, m.failed)
}

/// The names of the function's environment variables (never their
/// values: they routinely hold secrets), sorted; a gap when Lambda could not
/// read the environment.
fn environment_variable_names(f: &FunctionConfiguration, m: &mut Misses) -> Value {
    let Some(env) = f.environment() else {
        return json!([]);
    };
    match (env.variables(), env.error()) {
        (Some(vars), _) => {
            let mut names: Vec<&str> = vars.keys().map(String::as_str).collect();
            names.sort_unstable();
            json!(names)
        }
        (None, Some(err)) => {
            let code = err.error_code().unwrap_or("");
            let kind = if code.contains("AccessDenied") {
                "access-denied"
            } else {
                "other"
            };
            let message = format!(
                "Lambda could not read the environment: {code}: {}",
                err.message().unwrap_or("")
            );
            m.gap(
                &["environment_variable_names"],
                Failed {
                    operation: "ListFunctions",
                    kind,
                    message,
                },
            )
        }
        (None, None) => json!([]),
    }
}

/// Lambda's `2024-01-02T03:04:05.123+0000` as RFC 3339 UTC to the second.
fn lambda_time(t: Option<&str>) -> Value {
    let Some(t) = t else {
        return Value::Null;
    };
    let parsed = chrono::DateTime::parse_from_rfc3339(t)
        .or_else(|_| chrono::DateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S%.f%z"));
    Value::String(match parsed {
        Ok(d) => d
            .with_timezone(&chrono::Utc)
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        Err(_) => t.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lambda_times_become_rfc3339() {
        assert_eq!(
            lambda_time(Some("2024-01-02T03:04:05.123+0000")),
            json!("2024-01-02T03:04:05Z")
        );
        assert_eq!(
            lambda_time(Some("2024-01-02T05:04:05+02:00")),
            json!("2024-01-02T03:04:05Z")
        );
        assert_eq!(lambda_time(None), Value::Null);
    }

    #[test]
    fn runtimes_are_deprecated_from_their_date_on() {
        assert!(deprecated("python2.7", "2026-11-27T00:00:00Z"));
        assert!(deprecated("java8", "2026-11-27T00:00:00Z"));
        assert!(!deprecated("java8.al2", "2026-11-27T00:00:00Z"));
        assert!(!deprecated("python3.12", "2026-11-27T00:00:00Z"));
        assert!(!deprecated("nodejs20.x", "2026-04-29T23:59:59Z"));
        assert!(deprecated("nodejs20.x", "2026-04-30T00:00:00Z"));
    }
}
