//! Classifying SDK failures into collection errors: access denied, a region
//! that is not enabled, throttling that outlived the retries, an operation
//! the endpoint does not support, timeouts and network failures. None of
//! them is ever mistaken for "not configured".
//! Never retries (the SDK does) and never records an error itself.

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

const ACCESS_DENIED: &[&str] = &[
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
    "UnauthorizedAccess",
    "AuthorizationError",
    "Forbidden",
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "ExpiredToken",
    "ExpiredTokenException",
    "SignatureDoesNotMatch",
    "InvalidAccessKeyId",
];

const REGION_DISABLED: &[&str] = &["OptInRequired", "AuthFailure", "InvalidRegion"];

const THROTTLED: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "SlowDown",
    "RequestThrottled",
    "RequestThrottledException",
];

const UNSUPPORTED: &[&str] = &[
    "NotImplemented",
    "NotImplementedException",
    "UnsupportedOperation",
    "UnsupportedOperationException",
    "InvalidAction",
    "UnknownOperationException",
];

/// The kind (for filters and summaries) and a message naming the cause.
pub fn classify<E, R>(err: &SdkError<E, R>) -> (&'static str, String)
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match err {
        SdkError::ServiceError(se) => {
            let e = se.err();
            let code = e.code().unwrap_or("");
            let message = e.message().unwrap_or("");
            let text = if code.is_empty() {
                // Not an AWS error: say what the endpoint answered.
                format!(
                    "the answer (HTTP {}) is not a valid AWS response: {}",
                    status(se.raw()),
                    source_chain(err)
                )
            } else if message.is_empty() {
                code.to_string()
            } else {
                format!("{code}: {message}")
            };
            let kind = if ACCESS_DENIED.contains(&code) {
                "access-denied"
            } else if REGION_DISABLED.contains(&code) {
                "region-disabled"
            } else if THROTTLED.contains(&code) {
                "throttled"
            } else if UNSUPPORTED.contains(&code) || code.is_empty() {
                // No error code: the endpoint answered with something that is
                // not an AWS error (an emulator's HTML 404/500 page).
                "unsupported"
            } else {
                "other"
            };
            (kind, text)
        }
        SdkError::TimeoutError(_) => ("timeout", "the call timed out".into()),
        SdkError::DispatchFailure(d) => {
            let kind = if d.is_timeout() { "timeout" } else { "network" };
            (kind, format!("cannot reach AWS: {}", source_chain(err)))
        }
        SdkError::ResponseError(_) => (
            "unsupported",
            format!("the answer could not be read: {}", source_chain(err)),
        ),
        SdkError::ConstructionFailure(_) => (
            "other",
            format!("the request could not be built: {}", source_chain(err)),
        ),
        _ => ("other", source_chain(err)),
    }
}

/// The HTTP status of a raw response, from its debug form (the response type is generic here).
fn status<R: std::fmt::Debug>(raw: &R) -> String {
    let text = format!("{raw:?}");
    text.split("status: StatusCode(")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .unwrap_or("?")
        .to_string()
}

fn source_chain(err: &dyn std::error::Error) -> String {
    let mut parts = vec![err.to_string()];
    let mut cur = err.source();
    while let Some(e) = cur {
        let s = e.to_string();
        if !parts.contains(&s) {
            parts.push(s);
        }
        cur = e.source();
    }
    parts.join(": ")
}

/// Is this a "there is nothing configured" answer (404-style codes such as
/// `NoSuchBucketPolicy`), which means null rather than a failure?
pub fn is_not_found<E, R>(err: &SdkError<E, R>, codes: &[&str]) -> bool
where
    E: ProvideErrorMetadata,
{
    match err {
        SdkError::ServiceError(se) => se.err().code().is_some_and(|c| codes.contains(&c)),
        _ => false,
    }
}
