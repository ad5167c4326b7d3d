//! Readiness of the roles running in this process, for `GET /healthz`.

use parking_lot::Mutex;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

type Roles = Vec<(String, Arc<AtomicBool>)>;

/// The set of roles that must be ready before `/healthz` answers 200.
#[derive(Debug, Clone, Default)]
pub struct Health {
    roles: Arc<Mutex<Roles>>,
}

/// One role's readiness flag.
#[derive(Debug, Clone)]
pub struct Readiness(Arc<AtomicBool>);

impl Readiness {
    /// Marks the role ready (or not).
    pub fn set(&self, ready: bool) {
        self.0.store(ready, Ordering::SeqCst);
    }
}

impl Health {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a role, not ready yet.
    pub fn register(&self, role: &str) -> Readiness {
        let flag = Arc::new(AtomicBool::new(false));
        self.roles.lock().push((role.to_owned(), Arc::clone(&flag)));
        Readiness(flag)
    }

    /// `(all ready, per-role JSON)`.
    pub fn report(&self) -> (bool, serde_json::Value) {
        let roles = self.roles.lock();
        let mut map = serde_json::Map::new();
        let mut all = !roles.is_empty();
        for (name, flag) in roles.iter() {
            let ready = flag.load(Ordering::SeqCst);
            all &= ready;
            map.insert(
                name.clone(),
                serde_json::Value::from(if ready { "ready" } else { "starting" }),
            );
        }
        let status = if all { "ok" } else { "starting" };
        (all, serde_json::json!({ "status": status, "roles": map }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_only_when_every_role_is() {
        let h = Health::new();
        assert!(!h.report().0);
        let a = h.register("control");
        let b = h.register("gateway");
        a.set(true);
        assert!(!h.report().0);
        b.set(true);
        let (ok, body) = h.report();
        assert!(ok);
        assert_eq!(body["roles"]["gateway"], "ready");
    }
}
