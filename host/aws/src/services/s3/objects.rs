//! Reading log objects from S3 for `stance detect --input s3://bucket/prefix`:
//! the keys of a prefix page by page (ListObjectsV2, in key order), and each
//! object's body as a stream of chunks (GetObject), never held whole. Uses
//! the SDK configuration of the collector (credential chain, profile,
//! `AWS_ENDPOINT_URL`, the region of [`AwsOptions`], retry and timeouts).
//! Not a collector: it makes no assets and never writes to S3.

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;

use crate::toolkit::sdk::base_config;
use crate::{AwsError, AwsOptions};

/// An S3 client for reading log objects.
#[derive(Debug, Clone)]
pub struct S3Objects {
    client: Client,
}

/// One page of keys and the token of the next page (None after the last).
#[derive(Debug, Clone, Default)]
pub struct KeyPage {
    /// The keys of this page, in key order.
    pub keys: Vec<String>,
    /// The token of the next page, for [`S3Objects::list_page`]; `None` after the last.
    pub next: Option<String>,
}

/// The body of one object, read chunk by chunk.
#[derive(Debug)]
pub struct ObjectBody {
    body: ByteStream,
}

impl ObjectBody {
    /// The next chunk of the body; `None` at its end.
    pub async fn next_chunk(&mut self) -> Option<Result<Vec<u8>, String>> {
        self.body
            .next()
            .await
            .map(|r| r.map(|b| b.to_vec()).map_err(|e| e.to_string()))
    }
}

/// A readable message of an SDK error, with its service code when there is one.
fn describe<E: aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error + 'static>(
    e: &aws_sdk_s3::error::SdkError<E>,
) -> String {
    match e.as_service_error() {
        Some(s) => format!(
            "{}: {}",
            s.code().unwrap_or("error"),
            s.message().unwrap_or("no message")
        ),
        None => {
            let mut msg = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(s) = source {
                msg.push_str(": ");
                msg.push_str(&s.to_string());
                source = s.source();
            }
            msg
        }
    }
}

impl S3Objects {
    /// A client from the standard configuration (`opts.profile`, the first of
    /// `opts.regions` or the default region). Emulators (a custom endpoint)
    /// are addressed by path.
    pub async fn new(opts: &AwsOptions) -> Result<S3Objects, AwsError> {
        let sdk = base_config(opts).await?;
        let conf = aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(sdk.endpoint_url().is_some())
            .build();
        Ok(S3Objects {
            client: Client::from_conf(conf),
        })
    }

    /// One page of the keys under `prefix` (ListObjectsV2 returns them in
    /// key order); `token` is the `next` of the page before.
    pub async fn list_page(
        &self,
        bucket: &str,
        prefix: &str,
        token: Option<String>,
    ) -> Result<KeyPage, String> {
        let out = self
            .client
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .set_continuation_token(token)
            .send()
            .await
            .map_err(|e| format!("ListObjectsV2 s3://{bucket}/{prefix}: {}", describe(&e)))?;
        let keys = out
            .contents()
            .iter()
            .filter_map(|o| o.key().map(str::to_string))
            .collect();
        let next = if out.is_truncated() == Some(true) {
            out.next_continuation_token().map(str::to_string)
        } else {
            None
        };
        Ok(KeyPage { keys, next })
    }

    /// Open an object: its body is streamed by [`ObjectBody::next_chunk`].
    pub async fn open(&self, bucket: &str, key: &str) -> Result<ObjectBody, String> {
        let out = self
            .client
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| format!("GetObject: {}", describe(&e)))?;
        Ok(ObjectBody { body: out.body })
    }
}
