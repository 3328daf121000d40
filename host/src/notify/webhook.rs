//! Generic webhooks: one JSON document per run and route (`source`,
//! `version`, `run_id`, `alerts`), optionally signed with HMAC-SHA256 over
//! the body under a secret named by an environment variable, in the
//! `X-Stance-Signature: sha256=HEX` header.

use hmac::{KeyInit, Mac};

use crate::model::Alert;

/// The header that carries a webhook body's HMAC-SHA256 signature.
pub const SIGNATURE_HEADER: &str = "X-Stance-Signature";

/// The body of one webhook post.
pub fn body(run_id: i64, alerts: &[&Alert]) -> String {
    serde_json::json!({
        "source": "stance",
        "version": env!("CARGO_PKG_VERSION"),
        "run_id": run_id,
        "alerts": alerts,
    })
    .to_string()
}

/// The signature header of `body` under `secret`.
pub fn signature(secret: &str, body: &str) -> (String, String) {
    (
        SIGNATURE_HEADER.to_string(),
        format!(
            "sha256={}",
            hex::encode(hmac_sha256(secret.as_bytes(), body.as_bytes()))
        ),
    )
}

/// HMAC-SHA256 (RFC 2104) of `msg` under `key`.
pub fn hmac_sha256(key: &[u8], msg: &[u8]) -> Vec<u8> {
    // HMAC takes a key of any length: `new_from_slice` cannot fail for it.
    let mut mac = match hmac::Hmac::<sha2::Sha256>::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC accepts keys of every length"),
    };
    mac.update(msg);
    mac.finalize().into_bytes().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc4231() {
        // RFC 4231, test cases 2 and 6 (a key longer than the block).
        assert_eq!(
            hex::encode(hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_eq!(
            hex::encode(hmac_sha256(
                &[0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First"
            )),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }
}
