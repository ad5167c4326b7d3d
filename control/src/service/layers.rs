//! The layering of the crate, checked on its sources: the HTTP layer
//! (`api/`, `error.rs`) sits on top; nothing below it names it or its
//! error type, nor the HTTP server (axum). (HTTP clients below — the OIDC
//! provider's, the gateway link's — are fine.)

use std::path::{Path, PathBuf};

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("source dir") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Source files of the crate, relative to `src/`, with their text.
fn crate_sources() -> Vec<(String, String)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    files
        .into_iter()
        .map(|p| {
            let rel = p
                .strip_prefix(&src)
                .expect("under src")
                .to_string_lossy()
                .replace('\\', "/");
            // Code only: comments may point to other layers.
            let text = std::fs::read_to_string(&p)
                .expect("readable source")
                .lines()
                .filter(|l| !l.trim_start().starts_with("//"))
                .collect::<Vec<_>>()
                .join("\n");
            (rel, text)
        })
        .collect()
}

/// The HTTP layer, and the wiring that mounts it.
fn is_http_layer(rel: &str) -> bool {
    rel == "api.rs" || rel.starts_with("api/") || rel == "error.rs" || rel == "lib.rs"
}

#[test]
fn nothing_below_the_api_names_it() {
    let mut offenders = Vec::new();
    for (rel, text) in crate_sources() {
        if is_http_layer(&rel) || rel == "service/layers.rs" {
            continue;
        }
        if text.contains("crate::api") {
            offenders.push(format!("{rel} names crate::api"));
        }
        for needle in ["crate::error", "ApiError", "axum"] {
            if text.contains(needle) {
                offenders.push(format!("{rel} names {needle}"));
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "layering broken:\n{}",
        offenders.join("\n")
    );
}

#[test]
fn the_check_sees_the_layers() {
    let files = crate_sources();
    let names: Vec<&str> = files.iter().map(|(r, _)| r.as_str()).collect();
    for expected in [
        "service.rs",
        "service/sessions.rs",
        "service/fleet.rs",
        "api/fleet.rs",
        "api/sessions.rs",
        "auth/password.rs",
    ] {
        assert!(
            names.contains(&expected),
            "{expected} not found in {names:?}"
        );
    }
}
