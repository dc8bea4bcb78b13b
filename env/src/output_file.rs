//! Output files written whole or not at all: the new bytes go to a temporary file
//! beside the target, which is then renamed over it. One home for every writer of
//! results (CSVs, plots, checkpoints' side files, fetched bars).

use std::io;
use std::path::Path;

use tempfile::NamedTempFile;

/// A new, uniquely named temporary file in `path`'s folder (`.<name>.XXXXXX.tmp`),
/// removed when dropped unless persisted over `path` with
/// [`NamedTempFile::persist`]. On Unix it is created with mode `0o666` less the
/// process's umask, as `std::fs::File::create` would, so a result file is as readable
/// as any other the user writes (tempfile's own default, `0o600`, is meant for secrets).
///
/// # Errors
/// The folder does not exist or is not writable.
pub fn beside(path: &Path) -> io::Result<NamedTempFile> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().map_or_else(|| "output".into(), |n| n.to_string_lossy().into_owned());
    let prefix = format!(".{name}.");
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(".tmp");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    builder.tempfile_in(dir)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    #[test]
    fn a_persisted_file_has_the_mode_of_a_created_one_and_nothing_is_left_behind() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("equity.csv");
        let mut tmp = beside(&target).unwrap();
        assert!(tmp.path().file_name().unwrap().to_string_lossy().starts_with(".equity.csv."));
        tmp.write_all(b"a,b\n").unwrap();
        tmp.persist(&target).unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"a,b\n");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let plain = dir.path().join("plain");
            std::fs::File::create(&plain).unwrap();
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&target), mode(&plain), "not tempfile's 0o600");
        }
        let dropped = beside(&target).unwrap();
        let dropped_path = dropped.path().to_path_buf();
        drop(dropped);
        assert!(!dropped_path.exists());
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(left.len(), 2, "{left:?}");
    }
}
