//! TFRecord framing, the container of TensorBoard's event files.
//!
//! Each record is: the data's length (u64, little-endian), the masked CRC32C of those 8
//! bytes (u32 LE), the data, the masked CRC32C of the data (u32 LE). The mask is
//! TensorFlow's: `((crc >> 15) | (crc << 17)) + 0xa282ead8` (wrapping), from
//! `tensorflow/core/lib/hash/crc32c.h` (`crc32c::Mask`).

use std::io::{self, Write};

/// Writes TFRecords to `W`.
#[derive(Debug)]
pub struct RecordWriter<W: Write> {
    inner: W,
}

impl<W: Write> RecordWriter<W> {
    /// Wraps `inner`.
    pub fn new(inner: W) -> Self {
        Self { inner }
    }

    /// Appends one record holding `data`.
    ///
    /// # Errors
    /// The writer's I/O error.
    pub fn write(&mut self, data: &[u8]) -> io::Result<()> {
        let len = (data.len() as u64).to_le_bytes();
        self.inner.write_all(&len)?;
        self.inner.write_all(&masked_crc32c(&len).to_le_bytes())?;
        self.inner.write_all(data)?;
        self.inner.write_all(&masked_crc32c(data).to_le_bytes())
    }

    /// Flushes the writer.
    ///
    /// # Errors
    /// The writer's I/O error.
    pub fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// TensorFlow's masked CRC32C of `data` (see the module docs).
pub fn masked_crc32c(data: &[u8]) -> u32 {
    let crc = crc32c::crc32c(data);
    crc.rotate_right(15).wrapping_add(0xa282_ead8)
}

/// Splits TFRecord bytes into their records, checking both CRCs of each.
///
/// # Errors
/// A message naming the byte offset of a truncated record or a CRC mismatch.
pub fn read_records(bytes: &[u8]) -> Result<Vec<&[u8]>, String> {
    let mut out = Vec::new();
    let mut at = 0usize;
    let u32_at = |at: usize| bytes.get(at..at + 4).map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")));
    while at < bytes.len() {
        let header = bytes.get(at..at + 8).ok_or(format!("truncated record header at byte {at}"))?;
        if u32_at(at + 8) != Some(masked_crc32c(header)) {
            return Err(format!("length CRC mismatch at byte {at}"));
        }
        let len = usize::try_from(u64::from_le_bytes(header.try_into().expect("8 bytes")))
            .map_err(|_| format!("record length overflows at byte {at}"))?;
        let start = at + 12;
        let data = bytes.get(start..start + len).ok_or(format!("truncated record at byte {at}"))?;
        if u32_at(start + len) != Some(masked_crc32c(data)) {
            return Err(format!("data CRC mismatch in the record at byte {at}"));
        }
        out.push(data);
        at = start + len + 4;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32c_matches_the_published_check_value_and_records_read_back() {
        // CRC-32C of "123456789" is 0xE3069283 (RFC 3720, appendix B.4 check value).
        assert_eq!(crc32c::crc32c(b"123456789"), 0xE306_9283);
        let mut bytes = Vec::new();
        let mut writer = RecordWriter::new(&mut bytes);
        writer.write(b"first").unwrap();
        writer.write(b"").unwrap();
        writer.write(b"third record").unwrap();
        assert_eq!(read_records(&bytes).unwrap(), vec![&b"first"[..], b"", b"third record"]);
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        assert_eq!(read_records(&bytes).unwrap_err(), "data CRC mismatch in the record at byte 37");
    }
}
