//! Running the real `tongban` binary: arguments, working folder, no standard input.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output, Stdio};

/// The repository root (the tests' working folder unless told otherwise).
pub fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `tongban ARGS` in the repository root.
pub fn tongban(args: &[&str]) -> Output {
    tongban_in(repo(), args)
}

/// `tongban ARGS` in `dir`, standard input closed.
pub fn tongban_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tongban"))
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The exit status (-1 when killed by a signal).
pub fn status(out: &Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

/// Copies the folder `from` to `to` (for tests that change or write into a copy).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &to.join(entry.file_name()));
        } else {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}
