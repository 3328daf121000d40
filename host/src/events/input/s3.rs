//! `s3://bucket/prefix` inputs (feature `aws-s3`): keys listed a page at a
//! time, each object's body streamed through the shared reading loop, on
//! the process's one async runtime (`net`).

use std::io::{self, Read};

use super::{Event, InputError, InputStats, Inputs, TimeRange, is_log_file};
use crate::intake::InputLimits;

impl Inputs {
    /// Every log object under `s3://bucket/prefix`, in key order, one at a
    /// time: keys are listed a page at a time and each body is streamed.
    pub(super) fn read_s3(
        &self,
        bucket: &str,
        prefix: &str,
        how: (TimeRange, &InputLimits),
        sink: &mut dyn FnMut(Event) -> anyhow::Result<()>,
        stats: &mut InputStats,
    ) -> anyhow::Result<()> {
        use stance_aws::{AwsOptions, S3Objects};
        let input = format!("s3://{bucket}/{prefix}");
        let fail = |stats: &mut InputStats, message: String| {
            tracing::warn!("{input}: {message}");
            stats.errors.push(InputError {
                input: input.clone(),
                message,
            });
        };
        let rt = match crate::net::runtime() {
            Ok(rt) => rt,
            Err(e) => {
                fail(stats, e.to_string());
                return Ok(());
            }
        };
        let opts = AwsOptions {
            regions: self.region.iter().cloned().collect(),
            ..AwsOptions::default()
        };
        let client = match rt.block_on(S3Objects::new(&opts)) {
            Ok(c) => c,
            Err(e) => {
                fail(stats, e.to_string());
                return Ok(());
            }
        };
        let mut token = None;
        loop {
            let page = match rt.block_on(client.list_page(bucket, prefix, token.take())) {
                Ok(p) => p,
                Err(e) => {
                    fail(stats, e);
                    return Ok(());
                }
            };
            for key in page.keys.iter().filter(|k| is_log_file(k, self.format)) {
                let name = format!("s3://{bucket}/{key}");
                let reader = rt.block_on(client.open(bucket, key)).map(|body| {
                    Box::new(S3Body {
                        rt,
                        body,
                        chunk: Vec::new(),
                        pos: 0,
                    }) as Box<dyn Read + '_>
                });
                self.read_one(name, reader, how, sink, stats)?;
            }
            match page.next {
                Some(next) => token = Some(next),
                None => return Ok(()),
            }
        }
    }
}

/// An S3 object's body as a blocking reader, a chunk at a time.
struct S3Body<'r> {
    rt: &'r tokio::runtime::Runtime,
    body: stance_aws::ObjectBody,
    chunk: Vec<u8>,
    pos: usize,
}

impl Read for S3Body<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.pos >= self.chunk.len() {
            match self.rt.block_on(self.body.next_chunk()) {
                None => return Ok(0),
                Some(Ok(chunk)) => {
                    self.chunk = chunk;
                    self.pos = 0;
                }
                Some(Err(e)) => return Err(io::Error::other(e)),
            }
        }
        let n = out.len().min(self.chunk.len() - self.pos);
        out[..n].copy_from_slice(&self.chunk[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}
