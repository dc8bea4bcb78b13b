//! The error type of `rltrade-exec`.

/// Errors of the execution core: only invalid configuration or invalid inputs;
/// risk refusals are not errors but [`crate::risk::RiskRefused`] values.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum Error {
    /// A configuration value is out of range; `field` is its TOML path.
    #[error("config `{field}`: {message}")]
    Config {
        /// TOML path of the setting, e.g. `costs.fee_bps`.
        field: String,
        /// What is wrong and what is allowed.
        message: String,
    },
    /// A price that is not finite and positive was given to the core.
    #[error("invalid price {price} for {what}: prices must be finite and > 0")]
    InvalidPrice {
        /// What the price was for ("fill", "mark").
        what: &'static str,
        /// The price.
        price: f64,
    },
}

/// Result alias of `rltrade-exec`.
pub type Result<T, E = Error> = std::result::Result<T, E>;
