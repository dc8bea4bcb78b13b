//! The `accounts` table's blob: a strategy's whole [`Account`] in CBOR (RFC 8949), so
//! that every f64 round-trips bit for bit (JSON text may land an ulp away). One home
//! for the encoding the daemon saves and the decoding a restart restores; the fuzz
//! target `journal_account` (`fuzz/`) runs [`decode_account`] on arbitrary bytes.

use rltrade_exec::Account;

/// Encodes `account` (about 1 KiB, plus its closed trades).
///
/// # Errors
/// The CBOR writer's message (plain data: not expected in practice).
pub fn encode_account(account: &Account) -> Result<Vec<u8>, String> {
    let mut bytes = Vec::with_capacity(1024);
    ciborium::into_writer(account, &mut bytes).map_err(|e| format!("encoding an account: {e}"))?;
    Ok(bytes)
}

/// Decodes an account saved by [`encode_account`].
///
/// # Errors
/// The CBOR reader's message for bytes that are not such an account (a corrupt journal).
pub fn decode_account(bytes: &[u8]) -> Result<Account, String> {
    ciborium::from_reader(bytes).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use rltrade_exec::RiskConfig;

    use super::*;

    #[test]
    fn an_account_round_trips_and_garbage_is_an_error() {
        let account = Account::new(10_000.0, RiskConfig::default(), Default::default(), true).unwrap();
        let bytes = encode_account(&account).unwrap();
        assert_eq!(decode_account(&bytes).unwrap(), account);
        assert!(!decode_account(&bytes[..bytes.len() / 2]).unwrap_err().is_empty());
        assert!(!decode_account(b"\xff\x00garbage").unwrap_err().is_empty());
    }
}
