//! Keeping a stand-alone gateway in step with the control plane, without a
//! database and without depending on it being there.
//!
//! One background thread, over HTTPS to the control plane (certificate
//! chained to the configured CA):
//!
//! - **keys**: `GET /api/v1/keys` (a JWK set of Ed25519 keys with key ids)
//!   replaces the trusted keys, together with any configured key files, and
//!   is cached in `control-keys.json`: a gateway that restarts while the
//!   control plane is away starts on the cached keys;
//! - **revocations**: `GET /api/v1/revocations` (a signed `rv1` list),
//!   applied if newer than the one held and cached in `revocations.rv1`;
//!   the control plane also pushes lists to `POST /gateway/v1/revocations`;
//! - **session list**: a `Sessions` report with every session that has live
//!   streams here, so the control plane reconciles after a partition.
//!
//! Every failure is logged once when it starts and once when it ends; the
//! gateway goes on serving with what it holds.

use crate::{Gateway, now_secs};
use oriel_core_token::{JwkSet, Report, TokenVerifier};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing::{debug, info, warn};

/// Path of the control plane's key set.
pub const KEYS_PATH: &str = "/api/v1/keys";
/// Path of the control plane's revocation list.
pub const REVOCATIONS_API_PATH: &str = "/api/v1/revocations";

/// File name of the cached key set.
const KEYS_CACHE: &str = "control-keys.json";
/// File name of the cached revocation list.
const REVOCATIONS_CACHE: &str = "revocations.rv1";

/// Reads the cached key set in `dir`, if there is a valid one.
pub fn cached_keys(dir: &Path) -> Option<Vec<[u8; 32]>> {
    let text = std::fs::read_to_string(dir.join(KEYS_CACHE)).ok()?;
    let set: JwkSet = serde_json::from_str(&text).ok()?;
    set.ed25519_keys().ok()
}

/// Writes `contents` to `dir/name` (owner only), through a temporary file.
fn write_cache(dir: &Path, name: &str, contents: &[u8]) {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let tmp = dir.join(format!(".{name}.tmp"));
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .and_then(|mut f| f.write_all(contents).and_then(|()| f.sync_all()))
        .and_then(|()| std::fs::rename(&tmp, dir.join(name)));
    if let Err(e) = written {
        warn!(error = %e, file = name, "cannot write the gateway's cache");
    }
}

/// What a gateway fetches from the control plane, and how often.
#[derive(Debug, Clone)]
pub struct ControlSync {
    /// `https://…` of the control plane.
    pub control_url: String,
    /// PEM certificate (or CA) of the control plane.
    pub ca_pem: Vec<u8>,
    /// Keys always trusted (configured key files), besides the fetched ones.
    pub static_keys: Vec<[u8; 32]>,
    /// Where the caches live (owner-only directory).
    pub cache_dir: PathBuf,
    /// How often the key set is fetched.
    pub keys_every: Duration,
    /// How often the revocation list is fetched.
    pub revocations_every: Duration,
    /// How often the session list is reported.
    pub sessions_every: Duration,
}

/// Tracks whether a periodic fetch is failing, to log transitions only.
#[derive(Default)]
struct Health(Option<Instant>);

impl Health {
    fn failed(&mut self, what: &str, error: &str) {
        if self.0.is_none() {
            warn!(%error, "cannot fetch {what} from the control plane; going on with what this gateway holds");
            self.0 = Some(Instant::now());
        } else {
            debug!(%error, "still cannot fetch {what}");
        }
    }

    fn ok(&mut self, what: &str) {
        if let Some(since) = self.0.take() {
            info!(
                after_secs = since.elapsed().as_secs(),
                "fetching {what} from the control plane works again"
            );
        }
    }
}

impl ControlSync {
    /// The keys to start with: the configured ones and the cached set.
    pub fn initial_keys(&self) -> Vec<[u8; 32]> {
        let mut keys = self.static_keys.clone();
        keys.extend(cached_keys(&self.cache_dir).unwrap_or_default());
        keys
    }

    /// Applies the cached revocation list (expired or not: its entries carry
    /// their own end), then starts the background thread.
    pub fn start(self, gw: Arc<Gateway>) -> Result<(), String> {
        if let Ok(list) = std::fs::read_to_string(self.cache_dir.join(REVOCATIONS_CACHE)) {
            match gw.apply_revocations_cached(list.trim()) {
                Ok(seq) => info!(seq, "cached revocation list applied"),
                Err(e) => warn!(error = %e, "the cached revocation list is not usable"),
            }
        }
        let agent = crate::report::control_agent(&self.ca_pem)?;
        std::thread::Builder::new()
            .name("oriel-control-sync".into())
            .spawn(move || self.run(&agent, &gw))
            .map_err(|e| e.to_string())?;
        Ok(())
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.control_url.trim_end_matches('/'))
    }

    fn fetch_keys(&self, agent: &ureq::Agent, gw: &Gateway) -> Result<bool, String> {
        let body = agent
            .get(self.url(KEYS_PATH))
            .call()
            .map_err(|e| e.to_string())?
            .body_mut()
            .with_config()
            .limit(256 << 10)
            .read_to_string()
            .map_err(|e| e.to_string())?;
        let set: JwkSet = serde_json::from_str(&body).map_err(|e| e.to_string())?;
        let fetched = set.ed25519_keys()?;
        let before = gw.key_ring().kids();
        let mut keys = self.static_keys.clone();
        keys.extend(fetched);
        gw.key_ring().replace(TokenVerifier::new(keys));
        let changed = gw.key_ring().kids() != before;
        if changed {
            info!(kids = ?gw.key_ring().kids(), "control plane keys updated");
            write_cache(&self.cache_dir, KEYS_CACHE, body.as_bytes());
        }
        Ok(changed)
    }

    fn fetch_revocations(&self, agent: &ureq::Agent, gw: &Gateway) -> Result<(), String> {
        let list = agent
            .get(self.url(REVOCATIONS_API_PATH))
            .call()
            .map_err(|e| e.to_string())?
            .body_mut()
            .with_config()
            .limit(oriel_core_token::MAX_REVOCATION_LIST_LEN as u64)
            .read_to_string()
            .map_err(|e| e.to_string())?;
        let held = gw.revocations_seq();
        let seq = gw
            .apply_revocations(list.trim())
            .map_err(|e| e.to_string())?;
        if seq > held {
            write_cache(&self.cache_dir, REVOCATIONS_CACHE, list.trim().as_bytes());
        }
        Ok(())
    }

    fn run(self, agent: &ureq::Agent, gw: &Gateway) {
        let (mut keys_health, mut revocations_health) = (Health::default(), Health::default());
        let (mut next_keys, mut next_sessions) = (Instant::now(), Instant::now());
        let tick = self.revocations_every.max(Duration::from_millis(100));
        loop {
            let now = Instant::now();
            if now >= next_keys {
                match self.fetch_keys(agent, gw) {
                    Ok(_) => {
                        keys_health.ok("keys");
                        next_keys = now + self.keys_every;
                    }
                    Err(e) => {
                        keys_health.failed("keys", &e);
                        // Until keys come, try as often as revocations.
                        next_keys = now + tick;
                    }
                }
            }
            match self.fetch_revocations(agent, gw) {
                Ok(()) => revocations_health.ok("the revocation list"),
                Err(e) => revocations_health.failed("the revocation list", &e),
            }
            if now >= next_sessions {
                gw.reporter.report(Report::Sessions {
                    sids: gw.registry.session_ids(),
                });
                next_sessions = now + self.sessions_every;
            }
            gw.prune_admission();
            debug!(now = now_secs(), "control sync pass");
            std::thread::sleep(tick);
        }
    }
}
