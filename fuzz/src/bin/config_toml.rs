//! The config loader (`rltrade_config::Config::parse`, then `validate`) on arbitrary
//! text, linking no burn: an error, or a config that writes out (`to_toml`) to text that
//! parses back and writes out the same again. Never a panic.

use rltrade_config::Config;

fn main() {
    afl::fuzz!(|data: &[u8]| {
        let Ok(text) = std::str::from_utf8(data) else { return };
        let Ok(config) = Config::parse(text) else { return };
        let _ = config.validate();
        let written = config.to_toml().expect("a parsed config writes out");
        let back =
            Config::parse(&written).unwrap_or_else(|e| panic!("a written config does not parse: {e:#}\n{written}"));
        assert_eq!(back.to_toml().expect("writes out"), written, "the written config is not stable");
    });
}
