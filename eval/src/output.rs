//! Files written whole or not at all.

use std::path::Path;

use crate::error::{Error, Result};

/// Writes `bytes` to `path` atomically: a temporary file beside it
/// ([`rltrade_env::output_file::beside`]), synced, then renamed over `path`, so a
/// reader or a crash never sees half a file.
///
/// # Errors
/// [`Error::Io`] naming `path`.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let io = |source: std::io::Error| Error::Io { path: path.to_path_buf(), source };
    let mut file = rltrade_env::output_file::beside(path).map_err(io)?;
    file.write_all(bytes).and_then(|()| file.as_file().sync_all()).map_err(io)?;
    file.persist(path).map_err(|e| io(e.error))?;
    Ok(())
}
