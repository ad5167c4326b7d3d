//! Embeds every file under `static/` into the binary: generates a table of
//! (URL path, bytes) that `src/lib.rs` serves. The pages under
//! `static/test/` (the stream protocol's self-test) only with the
//! `test-pages` feature, which the test builds turn on: a release build
//! does not ship them.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            walk(&path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?).join("static");
    println!("cargo:rerun-if-changed={}", root.display());
    let mut files = Vec::new();
    walk(&root, &mut files)?;
    if std::env::var_os("CARGO_FEATURE_TEST_PAGES").is_none() {
        let tests = root.join("test");
        files.retain(|f| !f.starts_with(&tests));
    }
    files.sort();
    let mut code = String::from("pub(crate) static FILES: &[(&str, &[u8])] = &[\n");
    for file in &files {
        let rel = file.strip_prefix(&root)?;
        let url = format!("/{}", rel.to_string_lossy().replace('\\', "/"));
        writeln!(
            code,
            "    ({url:?}, include_bytes!({:?})),",
            file.display().to_string()
        )?;
    }
    code.push_str("];\n");
    let out = PathBuf::from(std::env::var("OUT_DIR")?).join("files.rs");
    std::fs::write(out, code)?;
    Ok(())
}
