//! Agents (the hosts that run container sessions) and the placement of
//! container sessions on them.
//!
//! An agent registers with its zone and capacity and then polls; every poll
//! is a heartbeat. A launch of a container session is placed, inside the
//! launch's transaction, on the least loaded live agent of the user's zone
//! that has room: the candidate agents' rows are updated first (in id
//! order, so two launches cannot deadlock), which serialises placements in
//! a zone in both databases; the sessions are then counted again, so no
//! agent is ever given more than its capacity, however launches race.

use crate::sessions::{ACTIVE, SessionRecord, SessionTarget};
use crate::{Store, StoreError};
use sqlx::Row as _;
use sqlx::any::AnyRow;

/// What an agent says of itself when it registers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentRegistration {
    /// Its id (stable across restarts: its containers carry it).
    pub id: String,
    /// Zone.
    pub zone: String,
    /// Labels, a JSON object.
    pub labels: String,
    /// Most sessions it runs at once.
    pub max_sessions: i64,
    /// CPU it offers, in thousandths of a core.
    pub millicpus: i64,
    /// Memory it offers to sessions, MiB (placements reserve their limit).
    pub memory_mb: i64,
    /// The gateway on its node, when it has one (else the control plane's
    /// own gateway streams its sessions).
    pub gateway: Option<NodeGateway>,
}

/// The gateway on an agent's node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeGateway {
    /// Public base URL (`https://host:port`).
    pub url: String,
    /// Its X25519 sealing public key, base64.
    pub sealing_key: String,
    /// Its Ed25519 report-signing public key, base64.
    pub signing_key: String,
    /// SHA-256 of its TLS certificate, lowercase hex.
    pub cert_sha256: String,
}

/// An agent as the control plane knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentRecord {
    /// What it registered with.
    pub registration: AgentRegistration,
    /// `online` or `lost` (missed heartbeats).
    pub state: String,
    /// First registration, Unix ms.
    pub registered_at: i64,
    /// Last heartbeat, Unix ms.
    pub last_seen_at: i64,
    /// Active sessions placed on it.
    pub active_sessions: i64,
    /// Memory reserved by them, MiB.
    pub reserved_memory_mb: i64,
}

/// Where to place a container session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    /// The user's zone: preferred.
    pub zone: String,
    /// Zones to fall back to, when the user's has no room (its `fallback`).
    pub fallback: Vec<String>,
    /// The workspace's memory limit, MiB (reserved on the agent).
    pub memory_mb: i64,
    /// Only agents heard from at or after this time (Unix ms) are live.
    pub seen_since: i64,
}

/// A session an agent should be running.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredSession {
    /// Session id.
    pub id: String,
    /// The workspace's container settings (JSON), if it still exists.
    pub spec: Option<String>,
    /// Whether the agent already reported it ready.
    pub launched: bool,
}

const AGENT_COLUMNS: &str = "a.id, a.zone, a.labels, a.max_sessions, a.cpus, a.memory_mb, a.gateway_url, \
     a.gateway_sealing_key, a.gateway_signing_key, a.gateway_cert_sha256, \
     a.state, a.registered_at, a.last_seen_at";

/// An agent row with its load: active sessions and the memory they reserve
/// (one query; `GROUP BY a.id`, the primary key).
static AGENT_WITH_LOAD: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "SELECT {AGENT_COLUMNS}, COUNT(s.id) AS active, \
         CAST(COALESCE(SUM(s.memory_mb), 0) AS BIGINT) AS reserved \
         FROM agents a LEFT JOIN sessions s ON s.agent_id = a.id AND s.state IN {ACTIVE}"
    )
});

fn agent_from(row: &AnyRow) -> Result<AgentRecord, StoreError> {
    Ok(AgentRecord {
        registration: AgentRegistration {
            id: row.try_get("id")?,
            zone: row.try_get("zone")?,
            labels: row.try_get("labels")?,
            max_sessions: row.try_get("max_sessions")?,
            millicpus: row.try_get("cpus")?,
            memory_mb: row.try_get("memory_mb")?,
            gateway: match (
                row.try_get::<Option<String>, _>("gateway_url")?,
                row.try_get::<Option<String>, _>("gateway_sealing_key")?,
                row.try_get::<Option<String>, _>("gateway_signing_key")?,
                row.try_get::<Option<String>, _>("gateway_cert_sha256")?,
            ) {
                (Some(url), Some(sealing_key), Some(signing_key), Some(cert_sha256)) => {
                    Some(NodeGateway {
                        url,
                        sealing_key,
                        signing_key,
                        cert_sha256,
                    })
                }
                _ => None,
            },
        },
        state: row.try_get("state")?,
        registered_at: row.try_get("registered_at")?,
        last_seen_at: row.try_get("last_seen_at")?,
        active_sessions: row.try_get("active")?,
        reserved_memory_mb: row.try_get("reserved")?,
    })
}

/// Active sessions and reserved memory of an agent.
async fn load(conn: &mut sqlx::AnyConnection, agent_id: &str) -> Result<(i64, i64), StoreError> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT COUNT(*) AS n, CAST(COALESCE(SUM(memory_mb), 0) AS BIGINT) AS mem \
         FROM sessions WHERE agent_id = $1 AND state IN {ACTIVE}"
    )))
    .bind(agent_id)
    .fetch_one(conn)
    .await?;
    Ok((row.try_get("n")?, row.try_get("mem")?))
}

/// Places a session inside a launch transaction: the chosen agent's id, or
/// the number of live agents in the zones considered when none has room.
/// The user's zone is preferred; other zones (`fallback`) only when it has
/// no room.
pub(crate) async fn place(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    p: &Placement,
) -> Result<Result<String, usize>, StoreError> {
    let zones: Vec<&str> = std::iter::once(p.zone.as_str())
        .chain(
            p.fallback
                .iter()
                .map(String::as_str)
                .filter(|z| *z != p.zone),
        )
        .collect();
    let marks: Vec<String> = (0..zones.len()).map(|i| format!("${}", i + 2)).collect();
    let mut q = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT id, zone FROM agents WHERE state = 'online' AND last_seen_at >= $1 \
         AND zone IN ({}) ORDER BY id",
        marks.join(", ")
    )))
    .bind(p.seen_since);
    for z in &zones {
        q = q.bind(*z);
    }
    let agents: Vec<(String, String)> = q
        .fetch_all(&mut **tx)
        .await?
        .iter()
        .map(|r| Ok((r.try_get("id")?, r.try_get("zone")?)))
        .collect::<Result<_, sqlx::Error>>()?;
    // Lock them all, in id order (whatever their zone: concurrent launches
    // with other preferences cannot deadlock), before counting anything.
    for (id, _) in &agents {
        sqlx::query("UPDATE agents SET placements = placements + 1 WHERE id = $1")
            .bind(id)
            .execute(&mut **tx)
            .await?;
    }
    // The least loaded with room: in the user's zone if any, else anywhere
    // allowed.
    let mut best: Option<(bool, f64, i64, String)> = None;
    for (id, zone) in &agents {
        let row = sqlx::query("SELECT max_sessions, memory_mb FROM agents WHERE id = $1")
            .bind(id)
            .fetch_one(&mut **tx)
            .await?;
        let max: i64 = row.try_get("max_sessions")?;
        let memory: i64 = row.try_get("memory_mb")?;
        let (active, reserved) = load(tx, id).await?;
        if active >= max || reserved + p.memory_mb > memory {
            continue;
        }
        let away = *zone != p.zone;
        let ratio = active as f64 / max.max(1) as f64;
        let better = best.as_ref().is_none_or(|(b_away, r, a, _)| {
            (!away && *b_away) || (away == *b_away && (ratio < *r || (ratio == *r && active < *a)))
        });
        if better {
            best = Some((away, ratio, active, id.clone()));
        }
    }
    Ok(best.map(|(_, _, _, id)| id).ok_or(agents.len()))
}

impl Store {
    /// Records an agent's registration (again after a restart: its
    /// settings are replaced, it is online).
    pub async fn register_agent(
        &self,
        reg: &AgentRegistration,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO agents (id, zone, labels, max_sessions, cpus, memory_mb, gateway_url, \
             gateway_sealing_key, gateway_signing_key, gateway_cert_sha256, state, \
             registered_at, last_seen_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'online', $11, $11) \
             ON CONFLICT (id) DO UPDATE SET zone = excluded.zone, labels = excluded.labels, \
             max_sessions = excluded.max_sessions, cpus = excluded.cpus, memory_mb = excluded.memory_mb, \
             gateway_url = excluded.gateway_url, gateway_sealing_key = excluded.gateway_sealing_key, \
             gateway_signing_key = excluded.gateway_signing_key, \
             gateway_cert_sha256 = excluded.gateway_cert_sha256, \
             state = 'online', last_seen_at = excluded.last_seen_at",
        )
        .bind(&reg.id)
        .bind(&reg.zone)
        .bind(&reg.labels)
        .bind(reg.max_sessions)
        .bind(reg.millicpus)
        .bind(reg.memory_mb)
        .bind(reg.gateway.as_ref().map(|g| g.url.as_str()))
        .bind(reg.gateway.as_ref().map(|g| g.sealing_key.as_str()))
        .bind(reg.gateway.as_ref().map(|g| g.signing_key.as_str()))
        .bind(reg.gateway.as_ref().map(|g| g.cert_sha256.as_str()))
        .bind(now_ms)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// A heartbeat: the agent is online. `false` for an unknown agent
    /// (it must register).
    pub async fn agent_seen(&self, id: &str, now_ms: i64) -> Result<bool, StoreError> {
        let done =
            sqlx::query("UPDATE agents SET last_seen_at = $2, state = 'online' WHERE id = $1")
                .bind(id)
                .bind(now_ms)
                .execute(self.pool())
                .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The report-signing keys of the agents' gateways (base64).
    pub async fn agent_gateway_signing_keys(&self) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query(
            "SELECT gateway_signing_key FROM agents WHERE gateway_signing_key IS NOT NULL ORDER BY id",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| r.try_get("gateway_signing_key").map_err(StoreError::from))
            .collect()
    }

    /// One agent.
    pub async fn agent(&self, id: &str) -> Result<Option<AgentRecord>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{} WHERE a.id = $1 GROUP BY a.id",
            *AGENT_WITH_LOAD
        )))
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(agent_from).transpose()
    }

    /// All agents, by id, at most `limit` after the id `after`.
    pub async fn list_agents(
        &self,
        after: &str,
        limit: i64,
    ) -> Result<Vec<AgentRecord>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{} WHERE a.id > $1 GROUP BY a.id ORDER BY a.id LIMIT $2",
            *AGENT_WITH_LOAD
        )))
        .bind(after)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(agent_from).collect()
    }

    /// The sessions an agent should be running: placed on it and not
    /// ending or over.
    pub async fn desired_sessions(
        &self,
        agent_id: &str,
    ) -> Result<Vec<DesiredSession>, StoreError> {
        let rows = sqlx::query(
            "SELECT s.id, w.spec, s.target_host FROM sessions s \
             LEFT JOIN workspaces w ON w.id = s.workspace_id \
             WHERE s.agent_id = $1 AND s.state IN ('requested', 'starting', 'running') ORDER BY s.id",
        )
        .bind(agent_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(DesiredSession {
                    id: r.try_get("id")?,
                    spec: r.try_get("spec")?,
                    launched: r.try_get::<Option<String>, _>("target_host")?.is_some(),
                })
            })
            .collect()
    }

    /// The agent reported the session's container ready: `requested` →
    /// `starting`, with its desktop's address. `None` when the session is
    /// not this agent's or not waiting any more.
    pub async fn session_ready(
        &self,
        id: &str,
        agent_id: &str,
        target: &SessionTarget,
        now_ms: i64,
    ) -> Result<Option<SessionRecord>, StoreError> {
        let done = sqlx::query(
            "UPDATE sessions SET state = 'starting', starting_at = $3, target_host = $4, target_port = $5, \
             target_secret = $6 WHERE id = $1 AND agent_id = $2 AND state = 'requested'",
        )
        .bind(id)
        .bind(agent_id)
        .bind(now_ms)
        .bind(&target.host)
        .bind(i64::from(target.port))
        .bind(&target.sealed_password)
        .execute(self.pool())
        .await?;
        if done.rows_affected() == 0 {
            return Ok(None);
        }
        self.session(id).await
    }

    /// Marks agents not heard from since `seen_before` lost; returns their ids.
    pub async fn lose_agents(&self, seen_before: i64) -> Result<Vec<String>, StoreError> {
        let ids: Vec<String> = sqlx::query(
            "SELECT id FROM agents WHERE state = 'online' AND last_seen_at < $1 ORDER BY id",
        )
        .bind(seen_before)
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(|r| r.try_get("id"))
        .collect::<Result<_, _>>()?;
        let mut lost = Vec::new();
        for id in ids {
            // Conditional: a heartbeat racing this pass wins.
            let done = sqlx::query(
                "UPDATE agents SET state = 'lost' WHERE id = $1 AND state = 'online' AND last_seen_at < $2",
            )
            .bind(&id)
            .bind(seen_before)
            .execute(self.pool())
            .await?;
            if done.rows_affected() == 1 {
                lost.push(id);
            }
        }
        Ok(lost)
    }

    /// Active sessions placed on an agent.
    pub async fn sessions_on_agent(
        &self,
        agent_id: &str,
    ) -> Result<Vec<SessionRecord>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{} WHERE s.agent_id = $1 AND s.state IN {ACTIVE} ORDER BY s.id",
            crate::sessions::SELECT
        )))
        .bind(agent_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(crate::sessions::from_row).collect()
    }
}
