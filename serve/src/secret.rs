//! Secrets ([`Secret`]: API keys, the bot token, webhook URLs and keys) and the
//! HMAC-SHA256 signatures made with them ([`hmac_sha256_hex`]): one home for what must
//! never reach a log.

use std::fmt;
use std::path::Path;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::{Error, Result};

/// A secret string whose `Debug` and `Display` print `***`, so it never reaches a log.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps `value`.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself; only for a header, a URL sent over the wire or a signature.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Reads a secret from the first line of `file` when it is not empty, else from the
    /// environment variable `env` (the config names where it is, never the value).
    /// `key` is the config key that names them, for errors.
    ///
    /// # Errors
    /// [`Error::Config`] naming `key` and the file or variable: unreadable, unset,
    /// empty or not UTF-8. The value never appears in it.
    pub fn read(file: &Path, env: &str, key: &str) -> Result<Self> {
        let bad = |message: String| Error::Config { field: key.to_string(), message };
        let value = if file.as_os_str().is_empty() {
            match std::env::var(env) {
                Ok(value) => value,
                Err(_) => return Err(bad(format!("environment variable {env} is not set (or not UTF-8)"))),
            }
        } else {
            let text =
                std::fs::read_to_string(file).map_err(|e| bad(format!("cannot read {}: {e}", file.display())))?;
            text.lines().next().unwrap_or_default().to_string()
        };
        let value = value.trim();
        if value.is_empty() {
            let place = if file.as_os_str().is_empty() { env.to_string() } else { file.display().to_string() };
            return Err(bad(format!("{place} is empty")));
        }
        Ok(Self(value.to_string()))
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Lower-case hex HMAC-SHA256 of `message` keyed with `key` (64 characters; RFC 2104
/// with SHA-256, as Binance's signed requests and the webhooks' `X-Rltrade-Signature`).
pub fn hmac_sha256_hex(key: &[u8], message: &[u8]) -> String {
    // HMAC accepts keys of any length: new_from_slice cannot fail for Hmac<Sha256>.
    let mut mac = match Hmac::<Sha256>::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC takes keys of any length"),
    };
    mac.update(message);
    hex::encode(mac.finalize().into_bytes())
}

/// Whether `signature` (hex) is [`hmac_sha256_hex`]`(key, message)`, compared in constant
/// time.
pub fn verify_hmac_sha256_hex(key: &[u8], message: &[u8], signature: &str) -> bool {
    let Ok(bytes) = hex::decode(signature) else { return false };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else { return false };
    mac.update(message);
    mac.verify_slice(&bytes).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 4231, test case 2 (HMAC-SHA-256).
    #[test]
    fn rfc_4231_test_case_2() {
        let expected = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
        assert_eq!(hmac_sha256_hex(b"Jefe", b"what do ya want for nothing?"), expected);
        assert!(verify_hmac_sha256_hex(b"Jefe", b"what do ya want for nothing?", expected));
        assert!(!verify_hmac_sha256_hex(b"Jefe", b"what do ya want for nothing!", expected));
    }

    #[test]
    fn secrets_are_read_from_a_file_or_the_environment_and_never_printed() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        std::fs::write(&file, "123:abc\nignored\n").unwrap();
        let secret = Secret::read(&file, "UNUSED", "serve.alerts.telegram.token_file").unwrap();
        assert_eq!(secret.expose(), "123:abc");
        assert_eq!(format!("{secret:?} {secret}"), "*** ***");
        let err = Secret::read(Path::new(""), "RLTRADE_TEST_SURELY_UNSET_TOKEN", "k").unwrap_err().to_string();
        assert!(err.contains("RLTRADE_TEST_SURELY_UNSET_TOKEN") && err.contains("k"), "{err}");
        std::fs::write(&file, "\n").unwrap();
        let err = Secret::read(&file, "", "k").unwrap_err().to_string();
        assert!(err.contains("is empty"), "{err}");
        let err = Secret::read(&dir.path().join("missing"), "", "k").unwrap_err().to_string();
        assert!(err.contains("cannot read") && err.contains("missing"), "{err}");
    }
}
