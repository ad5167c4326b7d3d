//! File transfer end to end (docs/protocol.md §2.3): the real `oriel up`, an
//! ssh workspace on a real OpenSSH `sshd` (SFTP), and the viewer's Files
//! panel in headless Chromium.
//!
//! - Allowed both ways: a file chosen with the picker lands in the user's
//!   home with the same bytes; a file on the server downloads through the
//!   panel to the same bytes (captured from the Blob the panel saves).
//! - Over the size limits: an upload dropped on the panel and a download
//!   are refused by the gateway before any data flows (no FILE_DATA either
//!   way), with a clear message; nothing lands on the server.
//! - Denied by policy: the panel says so and disables the direction; the
//!   same requests sent raw on the viewer's own stream (bypassing the UI)
//!   get FILE_ERROR "denied" from the gateway and move nothing.
//! - Cancelled before its end, an upload leaves nothing on the server.
//! - Neither direction allowed: no Files button; raw requests are refused.
//! - The API validates the policy's file limits and still reads the legacy
//!   single `transfer_max_bytes`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use anyhow::{Context as _, Result, bail, ensure};
use oriel_core_wire::{ClientMessage, FileBytes};
use oriel_testkit::sshd::Sshd;
use oriel_testkit::{Browser, Page, ScratchDir, wait_until};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::Duration;
use support::admin::AdminUi;
use support::web::{
    CONNECT_TIMEOUT, expect_logged_in, install_ws_spy, launch_workspace, received, sent,
    unique_suffix, wait_connected,
};
use support::{Api, Backend, Deployment};

/// How long a transfer or a listing may take.
const TRANSFER: Duration = Duration::from_secs(30);

/// Protocol message types (§2.3).
const C_FILE_UPLOAD: u8 = 0x0d;
const C_FILE_DATA: u8 = 0x0e;
const S_FILE_DATA: u8 = 0x8d;

/// FILE_ERROR codes (§2.3).
const DENIED: u64 = 1;
const TOO_LARGE: u64 = 2;
const CANCELLED: u64 = 6;

/// The size limit of the "both" workspace.
const LIMIT: u64 = 200_000;

/// Keeps every Blob the page turns into a URL (the panel's downloads), and
/// every file message the viewer's socket receives, for the test to read.
const CAPTURE: &str = r"
(() => {
  window.__blobs = [];
  const create = URL.createObjectURL.bind(URL);
  URL.createObjectURL = (obj) => { if (obj instanceof Blob) window.__blobs.push(obj); return create(obj); };
  // Downloads stay in the page: the anchor's click is not followed.
  document.addEventListener('click', (e) => {
    if (e.target instanceof HTMLAnchorElement && e.target.hasAttribute('download')) e.preventDefault();
  }, true);
})();
";

/// Files this test put in the shared test user's home, removed on drop
/// (also when the test fails).
#[derive(Default)]
struct Cleanup(std::sync::Mutex<Vec<PathBuf>>);

impl Cleanup {
    fn add(&self, path: PathBuf) {
        if let Ok(mut paths) = self.0.lock() {
            paths.push(path);
        }
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if let Ok(paths) = self.0.lock() {
            for p in paths.iter() {
                let _ = std::fs::remove_file(p);
            }
        }
    }
}

struct FilesDesk {
    cleanup: Cleanup,
    page: Page,
    _browser: Browser,
    api: Api,
    oriel: Deployment,
    sshd: Sshd,
    scratch: ScratchDir,
}

/// Deterministic pseudo-random bytes, different per `seed`.
fn bytes(len: usize, seed: u64) -> Vec<u8> {
    oriel_testkit::pseudo_random_bytes(len, seed)
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|v| format!("{v:02x}")).collect()
}

impl FilesDesk {
    async fn start() -> Result<FilesDesk> {
        let sshd = Sshd::start().await?;
        let AdminUi {
            page,
            browser,
            api,
            oriel,
        } = AdminUi::start_with(
            Backend::Sqlite,
            &[(
                "RUST_LOG",
                "info,oriel_gateway=debug,oriel_protocols_ssh=debug",
            )],
        )
        .await?;
        // For the viewer's documents, which come after the login.
        install_ws_spy(&page).await?;
        page.add_init_script(CAPTURE).await?;
        Ok(FilesDesk {
            cleanup: Cleanup::default(),
            page,
            _browser: browser,
            api,
            oriel,
            sshd,
            scratch: ScratchDir::new("files-e2e")?,
        })
    }

    async fn workspace(&self, name: &str, policy: Value) -> Result<()> {
        let body = json!({
            "name": name,
            "kind": "ssh",
            "target": {"host": "127.0.0.1", "port": self.sshd.port()},
            "credentials": {"username": self.sshd.user(), "password": self.sshd.password()},
            "policy": policy,
        });
        let r = self
            .api
            .request("POST", "/api/v1/workspaces", Some(body))
            .await?;
        ensure!(r.status == 201, "create workspace failed: {r:?}");
        Ok(())
    }

    /// Launches `name` from the list and waits for the terminal's picture.
    async fn open(&self, name: &str) -> Result<()> {
        support::web::goto_index(&self.page, &self.oriel).await?;
        expect_logged_in(&self.page, "admin").await?;
        launch_workspace(&self.page, name).await?;
        wait_connected(&self.page, CONNECT_TIMEOUT)
            .await
            .with_context(|| {
                format!(
                    "oriel log:\n{}\nsshd log:\n{}",
                    self.oriel.log_tail(30),
                    self.sshd.log_tail(20)
                )
            })?;
        Ok(())
    }

    /// Opens the Files panel and waits for the home directory's listing.
    async fn open_panel(&self) -> Result<()> {
        self.page
            .wait_for(
                "orielViewer.files && orielViewer.files.available \
                 && !document.getElementById('files-toggle').hidden",
                Duration::from_secs(10),
            )
            .await
            .context("the Files button never appeared")?;
        self.page.click("#files-toggle").await?;
        let home = serde_json::to_string(&self.sshd.home().to_string_lossy())?;
        self.page
            .wait_for(
                &format!(
                    "!document.getElementById('files-panel').hidden && orielViewer.files.path === {home}"
                ),
                TRANSFER,
            )
            .await
            .with_context(|| format!("no listing of the home directory; log:\n{}", self.oriel.log_tail(20)))
    }

    /// Refreshes the listing until `name` is in it.
    async fn wait_listed(&self, name: &str) -> Result<()> {
        let name = serde_json::to_string(name)?;
        for _ in 0..20 {
            self.page.click("#files-refresh").await?;
            let found = self
                .page
                .wait_for(
                    &format!("orielViewer.files.entries.some((e) => e.name === {name})"),
                    Duration::from_secs(1),
                )
                .await;
            if found.is_ok() {
                return Ok(());
            }
        }
        bail!("{name} never showed in the listing")
    }

    /// Waits for the transfer of `name` to end; returns its record.
    async fn wait_transfer(&self, name: &str) -> Result<Value> {
        let name = serde_json::to_string(name)?;
        let find = format!("orielViewer.files.transfers.find((t) => t.name === {name})");
        self.page
            .wait_for(
                &format!("({find} || {{}}).state === 'done' || ({find} || {{}}).state === 'error'"),
                TRANSFER,
            )
            .await
            .with_context(|| {
                format!(
                    "transfer of {name} never ended; log:\n{}",
                    self.oriel.log_tail(20)
                )
            })?;
        self.page.eval(&find).await
    }

    /// A file in the test user's home, readable by the user.
    fn server_file(&self, name: &str, content: &[u8]) -> Result<PathBuf> {
        use std::os::unix::fs::PermissionsExt as _;
        let path = self.sshd.home().join(name);
        self.cleanup.add(path.clone());
        std::fs::write(&path, content)?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644))?;
        Ok(path)
    }

    /// Chooses `path` in the panel's file picker (as a user would).
    async fn pick(&self, path: &std::path::Path) -> Result<()> {
        let input = self
            .page
            .call(
                "Runtime.evaluate",
                json!({"expression": "document.getElementById('files-input')"}),
            )
            .await?;
        let object = input["result"]["objectId"]
            .as_str()
            .context("no file input")?
            .to_owned();
        self.page
            .call(
                "DOM.setFileInputFiles",
                json!({"files": [path.to_string_lossy()], "objectId": object}),
            )
            .await
            .map(drop)
    }

    /// Drops a file of `len` bytes on the panel (a real drop event with a
    /// DataTransfer holding a File, as the browser makes it).
    async fn drop_file(&self, name: &str, len: usize) -> Result<()> {
        self.page
            .eval(&format!(
                "(() => {{ const dt = new DataTransfer(); \
                 dt.items.add(new File([new Uint8Array({len})], {})); \
                 const panel = document.getElementById('files-panel'); \
                 panel.dispatchEvent(new DragEvent('dragover', {{ dataTransfer: dt, bubbles: true, cancelable: true }})); \
                 panel.dispatchEvent(new DragEvent('drop', {{ dataTransfer: dt, bubbles: true, cancelable: true }})); \
                 return true; }})()",
                serde_json::to_string(name)?
            ))
            .await
            .map(drop)
    }

    /// Sends raw protocol messages on the viewer's own stream, bypassing the
    /// panel, and records the gateway's FILE_ERRORs ([id, code] pairs).
    async fn send_raw(&self, messages: &[ClientMessage]) -> Result<()> {
        let arrays: Vec<Vec<u8>> = messages.iter().map(ClientMessage::to_bytes).collect();
        self.page
            .eval(&format!(
                "(() => {{ const s = window.__orielSpy.sockets; const ws = s[s.length - 1]; \
                 if (!ws.__fileErrors) {{ ws.__fileErrors = []; ws.addEventListener('message', (e) => {{ \
                   const b = new Uint8Array(e.data); \
                   if (b[0] === 0x90) ws.__fileErrors.push([new DataView(e.data).getUint32(1), b[5]]); }}); }} \
                 for (const m of {}) ws.send(new Uint8Array(m)); return true; }})()",
                serde_json::to_string(&arrays)?
            ))
            .await
            .map(drop)
    }

    /// Waits for the gateway's FILE_ERROR for `id`; returns its code.
    async fn raw_error(&self, id: u32) -> Result<u64> {
        let find = format!(
            "(() => {{ const s = window.__orielSpy.sockets; const e = (s[s.length - 1].__fileErrors || []).find((x) => x[0] === {id}); return e ? e[1] : null; }})()"
        );
        self.page
            .wait_for(&format!("{find} !== null"), TRANSFER)
            .await
            .with_context(|| format!("no FILE_ERROR for {id}"))?;
        self.page.eval(&find).await?.as_u64().context("code")
    }

    /// The bytes of the `index`th Blob the page saved, as hex.
    async fn blob_hex(&self, index: usize) -> Result<String> {
        let v = self
            .page
            .eval(&format!(
                "(async () => {{ const b = window.__blobs[{index}]; if (!b) return null; \
                 const a = new Uint8Array(await b.arrayBuffer()); \
                 return Array.from(a, (x) => x.toString(16).padStart(2, '0')).join(''); }})()"
            ))
            .await?;
        v.as_str().map(str::to_owned).context("no such blob")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_and_download_allowed_and_over_the_limit() {
    let desk = FilesDesk::start().await.unwrap();
    let policy = json!({"upload": true, "download": true,
        "upload_max_bytes": LIMIT, "download_max_bytes": LIMIT});
    desk.workspace("files-both", policy).await.unwrap();
    desk.open("files-both").await.unwrap();
    desk.open_panel().await.unwrap();
    let note = desk.page.text("#files-policy").await.unwrap();
    assert!(
        note.contains("Uploads up to") && note.contains("Downloads up to"),
        "{note}"
    );
    let suffix = unique_suffix();

    // Upload with the picker: the same bytes land in the home directory.
    let up_name = format!("up-{suffix}.bin");
    let up_bytes = bytes(150_000, 1);
    desk.cleanup.add(desk.sshd.home().join(&up_name));
    let local = desk.scratch.path().join(&up_name);
    std::fs::write(&local, &up_bytes).unwrap();
    desk.pick(&local).await.unwrap();
    let t = desk.wait_transfer(&up_name).await.unwrap();
    assert_eq!(t["state"], "done", "{t}");
    assert_eq!(t["bytes"], 150_000, "{t}");
    let landed = std::fs::read(desk.sshd.home().join(&up_name)).unwrap();
    assert!(
        landed == up_bytes,
        "the uploaded file differs ({} bytes)",
        landed.len()
    );
    let stray: Vec<_> = std::fs::read_dir(desk.sshd.home())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("oriel-upload"))
        .collect();
    assert!(stray.is_empty(), "temporary files left: {stray:?}");

    // Download through the panel: the saved Blob holds the server's bytes.
    let down_name = format!("down-{suffix}.bin");
    let down_bytes = bytes(180_000, 2);
    desk.server_file(&down_name, &down_bytes).unwrap();
    desk.wait_listed(&down_name).await.unwrap();
    desk.page
        .click(&format!(
            "#files-list li[data-name=\"{down_name}\"] .files-download"
        ))
        .await
        .unwrap();
    let t = desk.wait_transfer(&down_name).await.unwrap();
    assert_eq!(t["state"], "done", "{t}");
    let got = desk.blob_hex(0).await.unwrap();
    assert!(
        got == hex(&down_bytes),
        "the downloaded bytes differ ({} hex digits)",
        got.len()
    );

    // Over the limit, dropped on the panel: refused before any data is sent.
    let data_sent = sent(&desk.page, C_FILE_DATA).await.unwrap();
    let big_name = format!("big-{suffix}.bin");
    desk.cleanup.add(desk.sshd.home().join(&big_name));
    desk.drop_file(&big_name, (LIMIT + 1) as usize)
        .await
        .unwrap();
    let t = desk.wait_transfer(&big_name).await.unwrap();
    assert_eq!(
        (t["state"].as_str(), t["code"].as_u64()),
        (Some("error"), Some(TOO_LARGE)),
        "{t}"
    );
    let message = desk.page.text("#files-message").await.unwrap();
    assert!(
        message.contains("larger than the upload limit"),
        "{message}"
    );
    assert_eq!(
        sent(&desk.page, C_FILE_DATA).await.unwrap(),
        data_sent,
        "upload data was sent"
    );
    assert!(!desk.sshd.home().join(&big_name).exists());

    // A download over the limit: refused before any data is read.
    let data_received = received(&desk.page, S_FILE_DATA).await.unwrap();
    let huge_name = format!("huge-{suffix}.bin");
    desk.server_file(&huge_name, &bytes((LIMIT + 1) as usize, 3))
        .unwrap();
    desk.wait_listed(&huge_name).await.unwrap();
    desk.page
        .click(&format!(
            "#files-list li[data-name=\"{huge_name}\"] .files-download"
        ))
        .await
        .unwrap();
    let t = desk.wait_transfer(&huge_name).await.unwrap();
    assert_eq!(
        (t["state"].as_str(), t["code"].as_u64()),
        (Some("error"), Some(TOO_LARGE)),
        "{t}"
    );
    let message = desk.page.text("#files-message").await.unwrap();
    assert!(
        message.contains("larger than the download limit"),
        "{message}"
    );
    assert_eq!(
        received(&desk.page, S_FILE_DATA).await.unwrap(),
        data_received
    );

    // An upload cancelled before its end (sent raw on the viewer's stream):
    // the remote keeps neither the file nor the adapter's temporary file.
    let cancelled = format!("cancelled-{suffix}.bin");
    desk.cleanup.add(desk.sshd.home().join(&cancelled));
    desk.send_raw(&[
        ClientMessage::FileUpload {
            id: 950,
            size: 10,
            dir: String::new(),
            name: cancelled.clone(),
        },
        ClientMessage::FileData {
            id: 950,
            data: FileBytes(b"12345".to_vec()),
        },
        ClientMessage::FileCancel { id: 950 },
    ])
    .await
    .unwrap();
    assert_eq!(desk.raw_error(950).await.unwrap(), CANCELLED);
    let home = desk.sshd.home().to_owned();
    let prefix = format!(".{cancelled}.");
    wait_until(TRANSFER, "the partial upload to be removed", || {
        let left = std::fs::read_dir(&home).map(|d| {
            d.filter_map(|e| e.ok())
                .any(|e| e.file_name().to_string_lossy().starts_with(&prefix))
        });
        async move { matches!(left, Ok(false)) }
    })
    .await
    .unwrap();
    assert!(!desk.sshd.home().join(&cancelled).exists());

    assert_eq!(
        desk.page.eval("window.__blobs.length").await.unwrap(),
        json!(1),
        "nothing more was saved"
    );
    desk.page.assert_no_js_errors();

    // Every transfer the gateway carried or refused is in the audit log,
    // reported by the gateway: who, the session, the path, size, outcome.
    let wanted = [
        ("file.upload", up_name.clone(), "done", true),
        ("file.download", down_name.clone(), "done", true),
        ("file.download", huge_name.clone(), "too_large", false),
        ("file.upload", cancelled.clone(), "cancelled", false),
    ];
    let mut entries = Vec::new();
    for _ in 0..50 {
        let r = desk
            .api
            .request("GET", "/api/v1/audit?action=file.&limit=100", None)
            .await
            .unwrap();
        entries = r.body["items"].as_array().cloned().unwrap_or_default();
        if wanted.iter().all(|(_, name, _, _)| {
            entries.iter().any(|e| {
                e["details"]["path"]
                    .as_str()
                    .is_some_and(|p| p.ends_with(name.as_str()))
            })
        }) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for (action, name, outcome, success) in wanted {
        let e = entries
            .iter()
            .find(|e| {
                e["details"]["path"]
                    .as_str()
                    .is_some_and(|p| p.ends_with(name.as_str()))
            })
            .unwrap_or_else(|| panic!("no audit entry for {name}: {entries:#?}"));
        assert_eq!(e["action"], action, "{e}");
        assert_eq!(e["details"]["outcome"], outcome, "{e}");
        assert_eq!(
            e["outcome"],
            if success { "success" } else { "failure" },
            "{e}"
        );
        assert_eq!(e["actor"], "admin", "{e}");
        assert_eq!(e["target_type"], "session", "{e}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn directions_denied_by_policy_move_nothing() {
    let desk = FilesDesk::start().await.unwrap();
    let suffix = unique_suffix();
    let secret = format!("secret-{suffix}.txt");
    desk.server_file(&secret, b"not for download").unwrap();

    // Uploads only: downloads are disabled in the panel and refused by the gateway.
    desk.workspace("files-up-only", json!({"upload": true, "download": false}))
        .await
        .unwrap();
    desk.open("files-up-only").await.unwrap();
    desk.open_panel().await.unwrap();
    let note = desk.page.text("#files-policy").await.unwrap();
    assert!(
        note.contains("Downloading files is disabled by policy"),
        "{note}"
    );
    desk.wait_listed(&secret).await.unwrap();
    let disabled = desk
        .page
        .eval(&format!(
            "document.querySelector('#files-list li[data-name=\"{secret}\"] .files-download').disabled"
        ))
        .await
        .unwrap();
    assert_eq!(disabled, json!(true));
    let home = desk.sshd.home().to_string_lossy().into_owned();
    desk.send_raw(&[ClientMessage::FileDownload {
        id: 900,
        path: format!("{home}/{secret}"),
    }])
    .await
    .unwrap();
    assert_eq!(desk.raw_error(900).await.unwrap(), DENIED);
    assert_eq!(received(&desk.page, S_FILE_DATA).await.unwrap(), 0);
    desk.page.assert_no_js_errors();

    // Downloads only: the upload button is disabled, a dropped file is not
    // sent, and raw upload messages are refused with nothing written.
    desk.workspace(
        "files-down-only",
        json!({"upload": false, "download": true}),
    )
    .await
    .unwrap();
    desk.open("files-down-only").await.unwrap();
    desk.open_panel().await.unwrap();
    let disabled = desk
        .page
        .eval("document.getElementById('files-upload').disabled")
        .await
        .unwrap();
    assert_eq!(disabled, json!(true));
    let dropped = format!("dropped-{suffix}.bin");
    desk.cleanup.add(desk.sshd.home().join(&dropped));
    desk.drop_file(&dropped, 1000).await.unwrap();
    let message = desk.page.text("#files-message").await.unwrap();
    assert!(
        message.contains("Uploading files is disabled by policy"),
        "{message}"
    );
    assert_eq!(sent(&desk.page, C_FILE_UPLOAD).await.unwrap(), 0);
    let forced = format!("forced-{suffix}.bin");
    desk.cleanup.add(desk.sshd.home().join(&forced));
    desk.send_raw(&[
        ClientMessage::FileUpload {
            id: 901,
            size: 5,
            dir: String::new(),
            name: forced.clone(),
        },
        ClientMessage::FileData {
            id: 901,
            data: FileBytes(b"hello".to_vec()),
        },
        ClientMessage::FileEnd { id: 901 },
    ])
    .await
    .unwrap();
    assert_eq!(desk.raw_error(901).await.unwrap(), DENIED);
    // The stream is still up (the stray data was ignored, not a protocol error).
    wait_connected(&desk.page, Duration::from_secs(5))
        .await
        .unwrap();
    assert!(!desk.sshd.home().join(&forced).exists());
    assert!(!desk.sshd.home().join(&dropped).exists());
    desk.page.assert_no_js_errors();

    // Neither direction: no Files button, and raw requests are refused.
    desk.workspace("files-none", json!({"upload": false, "download": false}))
        .await
        .unwrap();
    desk.open("files-none").await.unwrap();
    let state = desk
        .page
        .eval("[orielViewer.files.available, document.getElementById('files-toggle').hidden]")
        .await
        .unwrap();
    assert_eq!(state, json!([false, true]));
    desk.send_raw(&[
        ClientMessage::FileList {
            id: 902,
            path: String::new(),
        },
        ClientMessage::FileDownload {
            id: 903,
            path: format!("{home}/{secret}"),
        },
    ])
    .await
    .unwrap();
    assert_eq!(desk.raw_error(902).await.unwrap(), DENIED);
    assert_eq!(desk.raw_error(903).await.unwrap(), DENIED);
    assert_eq!(received(&desk.page, S_FILE_DATA).await.unwrap(), 0);
    desk.page.assert_no_js_errors();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_limits_are_validated_and_the_legacy_field_is_read() {
    let oriel = Deployment::start(Backend::Sqlite, &[]).await;
    let api = oriel.admin_api().await.unwrap();
    let post = |path: &'static str, body: Value| {
        let api = api.clone();
        async move { api.request("POST", path, Some(body)).await.unwrap() }
    };
    let ws = |name: &str, policy: Value| json!({"name": name, "kind": "ssh", "target": {"host": "127.0.0.1", "port": 22}, "policy": policy});

    // Beyond what a JavaScript number holds exactly: refused, naming the field.
    let r = post(
        "/api/v1/workspaces",
        ws(
            "too-big",
            json!({"upload": true, "upload_max_bytes": 1u64 << 53}),
        ),
    )
    .await;
    assert_eq!(r.status, 422, "{r:?}");
    let message = r.body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("policy.upload_max_bytes"), "{message}");
    let r = post(
        "/api/v1/groups",
        json!({"name": "big-files", "settings": {"policy": {"download_max_bytes": u64::MAX}}}),
    )
    .await;
    assert_eq!(r.status, 422, "{r:?}");
    let message = r.body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("settings.policy.download_max_bytes"),
        "{message}"
    );

    // Each direction its own limit, 0 for none; defaults 100 MiB.
    let r = post(
        "/api/v1/workspaces",
        ws(
            "limits",
            json!({"upload_max_bytes": 0, "download_max_bytes": 5}),
        ),
    )
    .await;
    assert_eq!(r.status, 201, "{r:?}");
    assert_eq!(r.body["policy"]["upload_max_bytes"], 0);
    assert_eq!(r.body["policy"]["download_max_bytes"], 5);
    let r = post("/api/v1/workspaces", ws("defaults", json!({}))).await;
    assert_eq!(r.body["policy"]["upload_max_bytes"], 100 << 20, "{r:?}");
    assert_eq!(r.body["policy"]["download_max_bytes"], 100 << 20);

    // The legacy single limit sets both and is not returned.
    let r = post(
        "/api/v1/workspaces",
        ws("legacy", json!({"transfer_max_bytes": 4096})),
    )
    .await;
    assert_eq!(r.status, 201, "{r:?}");
    assert_eq!(r.body["policy"]["upload_max_bytes"], 4096);
    assert_eq!(r.body["policy"]["download_max_bytes"], 4096);
    assert!(r.body["policy"].get("transfer_max_bytes").is_none());
}
