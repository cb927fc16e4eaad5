//! Shared by the integration tests: fixture paths, the `frozen` CLI, temporary folders.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The repository root (examples/rust -> ../..).
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("repository root")
}
pub fn fixture(rel: &str) -> PathBuf {
    repo().join("tests/fixtures").join(rel)
}
/// 2 layers, width 48, 457 ids, 64 positions.
pub fn lm_dir() -> PathBuf {
    fixture("models/gpt2-f32")
}
pub fn img(name: &str) -> PathBuf {
    fixture("eval/episodes/img").join(name)
}

/// The CLI the results are compared with: $FROZEN, else the repository's bin/frozen.
pub fn cli() -> PathBuf {
    std::env::var_os("FROZEN").map(PathBuf::from).unwrap_or_else(|| repo().join("bin/frozen"))
}
/// Runs the CLI; its stdout (panics on failure).
pub fn run_cli(args: &[&str]) -> String {
    let out = Command::new(cli()).args(args).output().unwrap_or_else(|e| panic!("{:?}: {e}", cli()));
    assert!(out.status.success(), "{:?} {args:?}: {}", cli(), String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("UTF-8 output")
}
pub fn parse_ids(s: &str) -> Vec<i32> {
    s.split_whitespace().map(|w| w.parse().expect("an id")).collect()
}

/// A fresh folder, removed on drop.
pub struct TempDir(pub PathBuf);
impl TempDir {
    pub fn new() -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let p =
            std::env::temp_dir().join(format!("frozen-rs-{}-{}", std::process::id(), N.fetch_add(1, Ordering::SeqCst)));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("temp dir");
        TempDir(p)
    }
    pub fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A safetensors file's "__metadata__" value for key (the JSON header read as text: the keys are plain).
pub fn safetensors_meta(path: &Path, key: &str) -> String {
    let data = std::fs::read(path).expect("safetensors file");
    let n = u64::from_le_bytes(data[..8].try_into().unwrap()) as usize;
    let header = std::str::from_utf8(&data[8..8 + n]).expect("UTF-8 header");
    let at = header.find(&format!("\"{key}\"")).unwrap_or_else(|| panic!("{path:?} has no {key}"));
    let rest = &header[at + key.len() + 2..];
    let rest = &rest[rest.find(':').unwrap() + 1..];
    let rest = &rest[rest.find('"').unwrap() + 1..];
    rest[..rest.find('"').unwrap()].to_string()
}
