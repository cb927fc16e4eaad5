//! Links libfrozen (no crates). Where the library is looked for, first hit wins:
//!   1. FROZEN_LIB_DIR, a folder holding libfrozen.so (e.g. the repository's lib/ after `make`);
//!   2. pkg-config's `frozen` package (an installed library, `make install`);
//!   3. the repository's lib/ beside this crate (examples/rust -> ../../lib), when it holds the library.
//!
//! The folder found is also put in the run-time search path (rpath), so tests and examples run in place.

use std::path::{Path, PathBuf};
use std::process::Command;

fn pkg_config_dirs() -> Option<Vec<PathBuf>> {
    let out = Command::new("pkg-config").args(["--libs-only-L", "frozen"]).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?;
    Some(text.split_whitespace().filter_map(|w| w.strip_prefix("-L")).map(PathBuf::from).collect())
}

fn main() {
    println!("cargo:rerun-if-env-changed=FROZEN_LIB_DIR");
    println!("cargo:rerun-if-changed=build.rs");
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let repo_lib = manifest.join("../../lib");

    let dirs: Vec<PathBuf> = if let Some(d) = std::env::var_os("FROZEN_LIB_DIR") {
        vec![PathBuf::from(d)]
    } else if let Some(d) = pkg_config_dirs() {
        d
    } else if repo_lib.join("libfrozen.so").exists() {
        vec![repo_lib.canonicalize().unwrap_or(repo_lib)]
    } else {
        println!(
            "cargo:warning=libfrozen not found: set FROZEN_LIB_DIR to the folder of libfrozen.so (run `make` in \
             the repository first) or install it with pkg-config's frozen.pc"
        );
        Vec::new()
    };
    for d in &dirs {
        let d: &Path = d;
        println!("cargo:rustc-link-search=native={}", d.display());
        println!("cargo:rustc-link-arg=-Wl,-rpath,{}", d.display());
        println!("cargo:rerun-if-changed={}", d.join("libfrozen.so").display());
    }
    println!("cargo:rustc-link-lib=dylib=frozen");
}
