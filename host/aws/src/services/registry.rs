//! What the registry table of `services/mod.rs` becomes: [`ServiceInfo`],
//! the `registry!` macro that turns each line into the service's module
//! (gated on its cargo feature), its [`KNOWN_SERVICES`](super::KNOWN_SERVICES)
//! entry, whether it is built and the dispatch to its `collect`; and the
//! choices made from the table (which services run, which are `not-built`).
//! Never calls AWS and never names a service: everything here reads the table.

use std::collections::BTreeSet;

use stance_model::CollectionError;

use super::{BUILT, KNOWN_SERVICES};
use crate::AwsError;
use crate::toolkit::{Output, Target};

/// A service collector: its name, cargo feature, resource types and reach.
#[derive(Debug)]
pub struct ServiceInfo {
    /// The name `--services` takes, and the `service` of its collection errors.
    pub name: &'static str,
    /// The cargo feature of `stance-aws` that builds it (`sns`; the host
    /// builds every service with its `aws` feature).
    pub feature: &'static str,
    /// Stance resource types this collector emits.
    pub types: &'static [&'static str],
    /// Collected once per account (`global` region) rather than per region.
    pub global: bool,
    /// Imports findings instead of (or besides) assets.
    pub findings: bool,
}

/// Expands the registry table: for each line
/// `NAME: "cargo-feature", global|regional, ["type", …] [, findings];`
/// the module `services/NAME.rs` under `#[cfg(feature = "cargo-feature")]`,
/// its entry of `KNOWN_SERVICES`, its name in `BUILT` when the feature is
/// on, and its arm of `dispatch`, which calls `NAME::collect(target)`.
macro_rules! registry {
    (@global global) => { true };
    (@global regional) => { false };
    (@findings) => { false };
    (@findings findings) => { true };
    ($(
        $name:ident: $feature:literal, $reach:ident, [$($ty:literal),* $(,)?] $(, $imports:ident)?;
    )*) => {
        $(
            #[cfg(feature = $feature)]
            pub(crate) mod $name;
        )*

        /// Every service Stance knows, built into this binary or not.
        pub const KNOWN_SERVICES: &[$crate::services::ServiceInfo] = &[$(
            $crate::services::ServiceInfo {
                name: stringify!($name),
                feature: $feature,
                types: &[$($ty),*],
                global: registry!(@global $reach),
                findings: registry!(@findings $($imports)?),
            },
        )*];

        /// The services whose collector is compiled into this binary.
        const BUILT: &[&str] = &[$(
            #[cfg(feature = $feature)]
            stringify!($name),
        )*];

        /// Run the collector of `service` on `target` (`not-built` when
        /// this binary has none).
        pub(crate) async fn dispatch(
            service: &str,
            target: &$crate::toolkit::Target,
        ) -> $crate::toolkit::Output {
            match service {
                $(
                    #[cfg(feature = $feature)]
                    stringify!($name) => $name::collect(target).await,
                )*
                other => $crate::services::registry::no_collector(other, target),
            }
        }
    };
}

/// Is the collector of `service` compiled into this binary?
pub(crate) fn built(service: &str) -> bool {
    BUILT.contains(&service)
}

/// The answer of `dispatch` for a service without a collector in this build
/// (never reached through [`select`], which only picks built services).
pub(crate) fn no_collector(service: &str, target: &Target) -> Output {
    let mut out = Output::default();
    out.errors.push(target.error(
        service,
        "*",
        "not-built",
        "no collector for this service in this build",
        &[],
    ));
    out
}

/// The built services the user asked for (all built ones when none named).
pub(crate) fn select(names: &[String]) -> Result<Vec<&'static ServiceInfo>, AwsError> {
    for n in names {
        if !KNOWN_SERVICES.iter().any(|s| s.name == n) {
            let known: Vec<&str> = KNOWN_SERVICES.iter().map(|s| s.name).collect();
            return Err(AwsError::Options(format!(
                "unknown service {n:?}; services are {}",
                known.join(", ")
            )));
        }
    }
    Ok(KNOWN_SERVICES
        .iter()
        .filter(|s| names.is_empty() || names.iter().any(|n| n == s.name))
        .filter(|s| built(s.name))
        .collect())
}

/// Services that were asked for (or, when none were named, exist) but are
/// not built into this binary: everything they own is not collected.
pub(crate) fn not_built(
    names: &[String],
    accounts: &BTreeSet<String>,
    regions: &BTreeSet<String>,
    errors: &mut Vec<CollectionError>,
) {
    errors.extend(not_built_errors(
        KNOWN_SERVICES,
        built,
        names,
        accounts,
        regions,
    ));
}

/// [`not_built`] over any table and notion of "built".
fn not_built_errors(
    known: &[ServiceInfo],
    built: impl Fn(&str) -> bool,
    names: &[String],
    accounts: &BTreeSet<String>,
    regions: &BTreeSet<String>,
) -> Vec<CollectionError> {
    let mut errors = Vec::new();
    for s in known {
        if built(s.name) || (!names.is_empty() && !names.iter().any(|n| n == s.name)) {
            continue;
        }
        let places: Vec<String> = if s.global {
            vec!["global".into()]
        } else {
            regions.iter().cloned().collect()
        };
        for account in accounts {
            for region in &places {
                errors.push(CollectionError {
                    provider: "aws".into(),
                    account: account.clone(),
                    region: region.clone(),
                    service: s.name.into(),
                    operation: "*".into(),
                    kind: "not-built".into(),
                    message: format!(
                        "this stance binary was built without the `stance-aws/{}` cargo feature (the default `aws` feature builds every service)",
                        s.feature
                    ),
                    resource_types: s.types.iter().map(|t| t.to_string()).collect(),
                });
            }
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_line_of_the_table_is_known_and_named_once() {
        let mut names: Vec<&str> = KNOWN_SERVICES.iter().map(|s| s.name).collect();
        names.sort_unstable();
        let before = names.len();
        names.dedup();
        assert_eq!(names.len(), before, "a service is registered twice");
        let mut types: Vec<&str> = KNOWN_SERVICES
            .iter()
            .flat_map(|s| s.types.iter().copied())
            .collect();
        types.sort_unstable();
        let before = types.len();
        types.dedup();
        assert_eq!(types.len(), before, "a resource type has two services");
        // The default build (`all`) builds every service of the table.
        if cfg!(feature = "all") {
            assert!(KNOWN_SERVICES.iter().all(|s| built(s.name)));
        }
        assert!(
            BUILT
                .iter()
                .all(|b| KNOWN_SERVICES.iter().any(|s| s.name == *b))
        );
    }

    #[test]
    fn unknown_services_are_refused_naming_the_known_ones() {
        let err = select(&["nosuch".to_string()]).unwrap_err().to_string();
        assert!(err.contains("unknown service \"nosuch\""), "{err}");
        assert!(err.contains("s3, iam"), "{err}");
    }

    #[test]
    fn unbuilt_services_are_not_built_errors_where_they_would_have_run() {
        let known = [
            ServiceInfo {
                name: "alpha",
                feature: "alpha",
                types: &["aws_alpha_thing"],
                global: true,
                findings: false,
            },
            ServiceInfo {
                name: "beta",
                feature: "beta-feature",
                types: &["aws_beta_thing"],
                global: false,
                findings: false,
            },
            ServiceInfo {
                name: "gamma",
                feature: "gamma",
                types: &[],
                global: false,
                findings: true,
            },
        ];
        let accounts = BTreeSet::from(["111111111111".to_string()]);
        let regions = BTreeSet::from(["eu-west-1".to_string(), "us-east-1".to_string()]);
        let built = |name: &str| name == "gamma";
        let all = not_built_errors(&known, built, &[], &accounts, &regions);
        let places: Vec<(&str, &str)> = all
            .iter()
            .map(|e| (e.service.as_str(), e.region.as_str()))
            .collect();
        assert_eq!(
            places,
            [
                ("alpha", "global"),
                ("beta", "eu-west-1"),
                ("beta", "us-east-1")
            ]
        );
        assert!(
            all.iter()
                .all(|e| e.kind == "not-built" && e.operation == "*")
        );
        assert!(all[1].message.contains("`stance-aws/beta-feature`"));
        assert_eq!(all[0].resource_types, ["aws_alpha_thing"]);
        // Only the services asked for.
        let asked = not_built_errors(&known, built, &["beta".into()], &accounts, &regions);
        assert!(asked.iter().all(|e| e.service == "beta"));
        assert_eq!(asked.len(), 2);
    }
}
