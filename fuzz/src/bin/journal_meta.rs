//! A journal's `meta` row (`rltrade_serve::journal::JournalMeta::from_json`: symbol,
//! interval, strategies, feed, checked against the daemon's at a restart) on arbitrary
//! text: an error or a meta. Never a panic.

use rltrade_serve::journal::JournalMeta;

fn main() {
    afl::fuzz!(|data: &[u8]| {
        let Ok(text) = std::str::from_utf8(data) else { return };
        if let Ok(meta) = JournalMeta::from_json(text) {
            let json = serde_json::to_string(&meta).expect("a meta serializes");
            assert_eq!(JournalMeta::from_json(&json).as_ref(), Ok(&meta), "{json}");
        }
    });
}
