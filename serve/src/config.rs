//! `[serve]`: the daemon's settings. Their home is `rltrade-config`
//! ([`rltrade_config::serve`]), which reads the whole config file without the daemon;
//! re-exported here, where the daemon uses them.

pub use rltrade_config::serve::*;
