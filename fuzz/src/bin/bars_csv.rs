//! The CSV bar reader (`rltrade_env::data::parse_bars`) on arbitrary bytes: an error, or
//! at least 2 bars in strictly increasing time that each pass `check_bar`. Never a panic.

use std::path::Path;

use rltrade_env::data::{check_bar, parse_bars};

fn main() {
    afl::fuzz!(|data: &[u8]| {
        if let Ok(bars) = parse_bars(Path::new("fuzz.csv"), data) {
            assert!(bars.len() >= 2, "{} bars accepted", bars.len());
            for pair in bars.windows(2) {
                assert!(pair[0].time_ms < pair[1].time_ms, "times not increasing: {pair:?}");
            }
            for bar in &bars {
                assert!(check_bar(bar).is_ok(), "an accepted bar fails check_bar: {bar:?}");
            }
        }
    });
}
