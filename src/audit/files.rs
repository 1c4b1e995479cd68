//! The files of one log: the rotated segments `<path>.1`, `<path>.2`, … (oldest first; numbers
//! only grow) and the current file `<path>`.

use std::ffi::OsString;
use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};

/// The segments of the log at `path`, in chain order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Segments {
    /// `(n, <path>.n)` by increasing `n`.
    pub rotated: Vec<(u64, PathBuf)>,
    /// `<path>` itself, when it exists.
    pub current: Option<PathBuf>,
}

impl Segments {
    /// Lists `<path>.n` siblings (n a decimal number without leading zeros, n ≥ 1) and `<path>`.
    pub fn find(path: &Path) -> io::Result<Segments> {
        let name = path
            .file_name()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not a file path"))?;
        let mut prefix = name.to_os_string();
        prefix.push(".");
        let prefix = prefix.to_string_lossy().into_owned();
        let mut rotated = Vec::new();
        for entry in fs::read_dir(parent(path))? {
            let entry = entry?;
            let file_name = entry.file_name();
            let Some(suffix) = file_name.to_str().and_then(|n| n.strip_prefix(&prefix)) else {
                continue;
            };
            if suffix.starts_with('0') || !suffix.bytes().all(|b| b.is_ascii_digit()) {
                continue;
            }
            if let Ok(n) = suffix.parse::<u64>() {
                rotated.push((n, rotated_path(path, n)));
            }
        }
        rotated.sort();
        let current = path.is_file().then(|| path.to_owned());
        Ok(Segments { rotated, current })
    }

    /// Every file, oldest first.
    pub fn all(&self) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = self.rotated.iter().map(|(_, p)| p.clone()).collect();
        files.extend(self.current.clone());
        files
    }

    /// The number the next rotation gives the current file.
    pub fn next_number(&self) -> u64 {
        self.rotated.last().map_or(1, |(n, _)| n.saturating_add(1))
    }
}

/// `<path>.n`.
pub(super) fn rotated_path(path: &Path, n: u64) -> PathBuf {
    let mut name = OsString::from(path.as_os_str());
    name.push(format!(".{n}"));
    PathBuf::from(name)
}

/// The directory holding `path` (`.` for a bare file name).
pub(super) fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    }
}

/// Makes a rename or a file creation in `path`'s directory durable.
pub(super) fn sync_dir(path: &Path) -> io::Result<()> {
    File::open(parent(path))?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_rotated_segments_in_numeric_order() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("audit.jsonl");
        for name in [
            "audit.jsonl",
            "audit.jsonl.10",
            "audit.jsonl.2",
            "audit.jsonl.1",
            "audit.jsonl.01",
            "audit.jsonl.x",
            "audit.jsonl.2.gz",
            "other.jsonl.3",
        ] {
            fs::write(dir.path().join(name), "").unwrap();
        }
        let segments = Segments::find(&base).unwrap();
        let numbers: Vec<u64> = segments.rotated.iter().map(|(n, _)| *n).collect();
        assert_eq!(numbers, [1, 2, 10]);
        assert_eq!(segments.next_number(), 11);
        assert_eq!(segments.all().last(), Some(&base));
        assert_eq!(rotated_path(&base, 3), dir.path().join("audit.jsonl.3"));
    }

    #[test]
    fn bare_file_name_lives_in_the_working_directory() {
        assert_eq!(parent(Path::new("audit.jsonl")), Path::new("."));
    }
}
