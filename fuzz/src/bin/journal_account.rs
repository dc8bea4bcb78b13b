//! A journal's saved account (`rltrade_serve::journal::decode_account`: the CBOR blob a
//! restart restores) on arbitrary bytes: an error, or an account that encodes to bytes
//! which decode and encode to themselves again. Never a panic.

use rltrade_serve::journal::{decode_account, encode_account};

fn main() {
    afl::fuzz!(|data: &[u8]| {
        let Ok(account) = decode_account(data) else { return };
        let bytes = encode_account(&account).expect("a decoded account encodes");
        let again = decode_account(&bytes).expect("an encoded account decodes");
        assert_eq!(encode_account(&again).expect("encodes"), bytes, "the encoding is not stable");
    });
}
