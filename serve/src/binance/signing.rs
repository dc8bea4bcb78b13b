//! Request signing for Binance's SIGNED endpoints (orders, account).
//!
//! The signature is the lower-case hex HMAC-SHA256 of the total parameters (the query
//! string, then the request body) keyed with the API secret, sent as the last
//! parameter `signature`; the API key goes in the `X-MBX-APIKEY` header. Source:
//! <https://developers.binance.com/docs/binance-spot-api-docs/rest-api/request-security>.

use crate::Result;

pub use crate::secret::Secret;

/// An API key and its secret (HMAC key). `Debug` shows neither.
#[derive(Clone, Debug)]
pub struct Credentials {
    /// Sent in the `X-MBX-APIKEY` header.
    pub api_key: Secret,
    /// Signs requests; never sent.
    pub secret: Secret,
}

impl Credentials {
    /// Credentials from their values.
    pub fn new(api_key: impl Into<String>, secret: impl Into<String>) -> Self {
        Self { api_key: Secret::new(api_key), secret: Secret::new(secret) }
    }

    /// Credentials read from the environment variables named `key_var` and
    /// `secret_var` (the config holds the names, never the values).
    ///
    /// # Errors
    /// [`crate::Error::Config`] naming the variable that is unset, empty or not UTF-8.
    pub fn from_env(key_var: &str, secret_var: &str) -> Result<Self> {
        let read = |name: &str| Secret::read(std::path::Path::new(""), name, name);
        Ok(Self { api_key: read(key_var)?, secret: read(secret_var)? })
    }

    /// The signature of `total_params` with this secret ([`sign`]).
    pub fn sign(&self, total_params: &str) -> String {
        sign(self.secret.expose(), total_params)
    }
}

/// Lower-case hex HMAC-SHA256 of `total_params` keyed with `secret` (64 characters).
pub fn sign(secret: &str, total_params: &str) -> String {
    crate::secret::hmac_sha256_hex(secret.as_bytes(), total_params.as_bytes())
}

/// Whether `signature` is [`sign`]`(secret, total_params)`, compared in constant time.
pub fn verify(secret: &str, total_params: &str, signature: &str) -> bool {
    crate::secret::verify_hmac_sha256_hex(secret.as_bytes(), total_params.as_bytes(), signature)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The worked example of Binance's docs ("SIGNED Endpoint Examples for POST /api/v3/order").
    #[test]
    fn binance_documented_example() {
        let secret = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j";
        let query = "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559";
        let expected = "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71";
        assert_eq!(sign(secret, query), expected);
        assert!(verify(secret, query, expected));
        assert!(!verify(secret, &query.replace("quantity=1", "quantity=2"), expected));
        assert!(!verify(secret, query, "not hex"));
    }

    #[test]
    fn missing_env_var_is_named() {
        let err =
            Credentials::from_env("RLTRADE_TEST_SURELY_UNSET_KEY", "RLTRADE_TEST_SURELY_UNSET_SECRET").unwrap_err();
        assert!(err.to_string().contains("RLTRADE_TEST_SURELY_UNSET_KEY"), "{err}");
    }

    #[test]
    fn debug_and_display_redact() {
        let c = Credentials::new("my-api-key", "my-secret");
        let shown = format!("{c:?} {} {}", c.api_key, c.secret);
        assert!(!shown.contains("my-api-key") && !shown.contains("my-secret"), "{shown}");
        assert!(shown.contains("***"));
    }
}
