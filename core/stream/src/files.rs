//! File transfer rules (docs/protocol.md §2.3), without I/O: which file
//! messages a viewer may send, what the policy says to a download or an
//! upload before any byte moves, and the paths and messages of both. The
//! gateway's file service applies them and moves the bytes.

use oriel_core_token::{Policy, TransferDecision};
use oriel_core_wire::{ClientMessage, FileErrorCode};

/// A refusal: the FILE_ERROR code and the message for the user.
pub type Refusal = (FileErrorCode, String);

/// Whether a viewer message belongs to file transfer.
pub fn is_file_message(msg: &ClientMessage) -> bool {
    matches!(
        msg,
        ClientMessage::FileList { .. }
            | ClientMessage::FileDownload { .. }
            | ClientMessage::FileUpload { .. }
            | ClientMessage::FileData { .. }
            | ClientMessage::FileEnd { .. }
            | ClientMessage::FileCancel { .. }
            | ClientMessage::FileAck { .. }
    )
}

/// The id of a message that starts a listing or transfer (and gets an
/// answer); `None` for the data, ends, cancels and acks of one.
pub fn request_id(msg: &ClientMessage) -> Option<u32> {
    match msg {
        ClientMessage::FileList { id, .. }
        | ClientMessage::FileDownload { id, .. }
        | ClientMessage::FileUpload { id, .. } => Some(*id),
        _ => None,
    }
}

/// Which directions a viewer may use: its policy's, and none for a viewer
/// that only watches.
pub fn directions(policy: &Policy, control: bool) -> (bool, bool) {
    (policy.upload && control, policy.download && control)
}

/// The answer to a request when the viewer has no file transfer: the
/// target offers none, or the policy allows no direction.
pub fn unavailable(target_offers_files: bool) -> (FileErrorCode, &'static str) {
    if target_offers_files {
        (FileErrorCode::Denied, "file transfer is disabled by policy")
    } else {
        (
            FileErrorCode::Unsupported,
            "this session offers no file transfer",
        )
    }
}

/// FILE_DOWNLOAD of `path`, before the file's size is known.
pub fn download(policy: &Policy, path: &str) -> Result<(), Refusal> {
    if !policy.download {
        return Err((
            FileErrorCode::Denied,
            "downloading files is disabled by policy".into(),
        ));
    }
    if path.is_empty() {
        return Err((FileErrorCode::Invalid, "no file was named".into()));
    }
    Ok(())
}

/// A download of `size` bytes at `path` under the policy's limit (0: none).
pub fn download_size(limit: u64, path: &str, size: u64) -> Result<(), Refusal> {
    if limit > 0 && size > limit {
        return Err((
            FileErrorCode::TooLarge,
            format!(
                "{} ({size} bytes) is larger than the download limit of {}",
                base_name(path),
                limit_text(limit)
            ),
        ));
    }
    Ok(())
}

/// FILE_UPLOAD of `name` (`size` bytes) into `dir`: the remote path, or why not.
pub fn upload(policy: &Policy, size: u64, dir: &str, name: &str) -> Result<String, Refusal> {
    match policy.allows_upload(size) {
        TransferDecision::Allowed => {}
        TransferDecision::Denied => {
            return Err((
                FileErrorCode::Denied,
                "uploading files is disabled by policy".into(),
            ));
        }
        TransferDecision::TooLarge { limit } => {
            return Err((
                FileErrorCode::TooLarge,
                format!(
                    "{name} ({size} bytes) is larger than the upload limit of {}",
                    limit_text(limit)
                ),
            ));
        }
    }
    upload_path(dir, name).ok_or_else(|| {
        (
            FileErrorCode::Invalid,
            format!("{name:?} is not a file name"),
        )
    })
}

/// A directory path made absolute against `home` (`~`, `~/x`, relative).
pub fn absolute(home: &str, path: &str) -> String {
    let home = home.trim_end_matches('/');
    let joined = if path.is_empty() || path == "~" {
        home.to_owned()
    } else if let Some(rest) = path.strip_prefix("~/") {
        format!("{home}/{rest}")
    } else if path.starts_with('/') {
        path.to_owned()
    } else {
        format!("{home}/{path}")
    };
    if joined.is_empty() {
        "/".to_owned()
    } else {
        joined
    }
}

/// The remote path of an upload: `name` in `dir` (empty: home). `None` when
/// the name is not a plain file name.
pub fn upload_path(dir: &str, name: &str) -> Option<String> {
    if name.is_empty() || name == "." || name == ".." || name.contains('/') {
        return None;
    }
    Some(match dir.trim_end_matches('/') {
        "" if dir.is_empty() => name.to_owned(),
        "" => format!("/{name}"),
        d => format!("{d}/{name}"),
    })
}

/// The last part of a path.
pub fn base_name(path: &str) -> &str {
    path.trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or(path)
}

/// A size limit as people write it.
pub fn limit_text(limit: u64) -> String {
    if limit >= 1 << 20 && limit.is_multiple_of(1 << 20) {
        format!("{} MiB", limit >> 20)
    } else if limit >= 1 << 10 && limit.is_multiple_of(1 << 10) {
        format!("{} KiB", limit >> 10)
    } else {
        format!("{limit} bytes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(upload: bool, download: bool, max: u64) -> Policy {
        Policy {
            upload,
            download,
            upload_max_bytes: max,
            download_max_bytes: max,
            ..Policy::default()
        }
    }

    /// Every upload decision, in a table.
    #[test]
    fn uploads() {
        use FileErrorCode::*;
        /// Policy, size, directory, name: the path or the refusal's code.
        type Case = (
            Policy,
            u64,
            &'static str,
            &'static str,
            Result<&'static str, FileErrorCode>,
        );
        let cases: &[Case] = &[
            (
                policy(true, false, 0),
                10,
                "/home/u",
                "a.txt",
                Ok("/home/u/a.txt"),
            ),
            (policy(true, false, 100), 100, "", "a.txt", Ok("a.txt")),
            (policy(true, false, 100), 101, "", "a.txt", Err(TooLarge)),
            (policy(false, true, 0), 1, "", "a.txt", Err(Denied)),
            (policy(true, false, 0), 1, "/h", "../x", Err(Invalid)),
            (policy(true, false, 0), 1, "/h", "", Err(Invalid)),
            (policy(true, false, 0), 1, "/", "a", Ok("/a")),
        ];
        for (i, (p, size, dir, name, want)) in cases.iter().enumerate() {
            let got = upload(p, *size, dir, name);
            match want {
                Ok(path) => assert_eq!(got.as_deref(), Ok(*path), "case {i}"),
                Err(code) => assert_eq!(got.map_err(|e| e.0), Err(*code), "case {i}"),
            }
        }
        let (_, message) =
            upload(&policy(true, false, 2 << 20), 3 << 20, "", "big.iso").unwrap_err();
        assert_eq!(
            message,
            "big.iso (3145728 bytes) is larger than the upload limit of 2 MiB"
        );
    }

    /// Every download decision, in a table.
    #[test]
    fn downloads() {
        use FileErrorCode::*;
        assert_eq!(download(&policy(false, true, 0), "/a"), Ok(()));
        assert_eq!(
            download(&policy(true, false, 0), "/a").map_err(|e| e.0),
            Err(Denied)
        );
        assert_eq!(
            download(&policy(false, true, 0), "").map_err(|e| e.0),
            Err(Invalid)
        );
        assert_eq!(download_size(0, "/a", u64::MAX), Ok(()));
        assert_eq!(download_size(10, "/a", 10), Ok(()));
        assert_eq!(
            download_size(1024, "/d/a.bin", 2000),
            Err((
                TooLarge,
                "a.bin (2000 bytes) is larger than the download limit of 1 KiB".into()
            ))
        );
    }

    #[test]
    fn watchers_and_sessions_without_files_get_no_transfer() {
        assert_eq!(directions(&policy(true, true, 0), true), (true, true));
        assert_eq!(directions(&policy(true, true, 0), false), (false, false));
        assert_eq!(unavailable(true).0, FileErrorCode::Denied);
        assert_eq!(unavailable(false).0, FileErrorCode::Unsupported);
        assert_eq!(request_id(&ClientMessage::FileEnd { id: 3 }), None);
        assert_eq!(
            request_id(&ClientMessage::FileList {
                id: 3,
                path: String::new()
            }),
            Some(3)
        );
        assert!(is_file_message(&ClientMessage::FileCancel { id: 1 }));
        assert!(!is_file_message(&ClientMessage::Refresh));
    }

    #[test]
    fn paths_and_limits() {
        assert_eq!(upload_path("", "a.txt").as_deref(), Some("a.txt"));
        assert_eq!(upload_path("/", "a").as_deref(), Some("/a"));
        assert_eq!(upload_path("/h/u/", "a").as_deref(), Some("/h/u/a"));
        assert_eq!(upload_path("/h/u", "a").as_deref(), Some("/h/u/a"));
        for bad in ["", ".", "..", "a/b"] {
            assert_eq!(upload_path("/h", bad), None, "{bad:?}");
        }
        assert_eq!(absolute("/h/u", ""), "/h/u");
        assert_eq!(absolute("/h/u/", "~/d"), "/h/u/d");
        assert_eq!(absolute("/h/u", "d"), "/h/u/d");
        assert_eq!(absolute("/", ""), "/");
        assert_eq!(base_name("/h/u/a.txt"), "a.txt");
        assert_eq!(limit_text(100 << 20), "100 MiB");
        assert_eq!(limit_text(200_000), "200000 bytes");
    }
}
