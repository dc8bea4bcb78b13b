//! The model card reader (`rltrade_policy::ModelCard::parse`: JSON, checksum,
//! consistency) on arbitrary text, without loading ONNX Runtime: an error, or a card
//! that writes out (`to_json`) to text the reader accepts again. Never a panic.

use std::path::Path;

use rltrade_policy::ModelCard;

fn main() {
    afl::fuzz!(|data: &[u8]| {
        let Ok(text) = std::str::from_utf8(data) else { return };
        let path = Path::new("model_card.json");
        if let Ok(card) = ModelCard::parse(path, text) {
            let written = card.to_json();
            if let Err(e) = ModelCard::parse(path, &written) {
                panic!("an accepted card does not read back: {e}\n{written}");
            }
        }
    });
}
