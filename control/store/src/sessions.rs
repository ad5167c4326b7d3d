//! Sessions and their state machine.
//!
//! ```text
//!  requested ──▶ starting ──▶ running ──▶ ending ──▶ ended
//!      │             │           │   ╲                 ▲
//!      │             │           │    ╲────────────────┘ (target ended it)
//!      └─────────────┴───────────┴──────▶ failed
//!  requested/starting ──▶ ending (ended before it ran)
//! ```
//!
//! Every transition is one `UPDATE … WHERE state IN (allowed sources)`: of
//! concurrent callers exactly one wins, the others see `None`, so a session
//! never starts twice and an end is never lost, also with several
//! control-plane processes on one PostgreSQL database.

use crate::{Store, StoreError, new_id};
use serde::Serialize;
use sqlx::Row as _;
use sqlx::any::AnyRow;

/// Where a session is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum SessionState {
    /// Recorded, nothing started yet (a container waiting for an agent).
    Requested,
    /// A token was issued / the desktop is being prepared; no stream yet.
    Starting,
    /// A viewer's stream has connected.
    Running,
    /// An end was requested; streams are being closed.
    Ending,
    /// Over, normally.
    Ended,
    /// Over, because something failed.
    Failed,
}

impl SessionState {
    /// All states.
    pub const ALL: [SessionState; 6] = [
        SessionState::Requested,
        SessionState::Starting,
        SessionState::Running,
        SessionState::Ending,
        SessionState::Ended,
        SessionState::Failed,
    ];

    /// Stored form.
    pub const fn as_str(self) -> &'static str {
        match self {
            SessionState::Requested => "requested",
            SessionState::Starting => "starting",
            SessionState::Running => "running",
            SessionState::Ending => "ending",
            SessionState::Ended => "ended",
            SessionState::Failed => "failed",
        }
    }

    /// Parses the stored form.
    pub fn parse(s: &str) -> Result<Self, StoreError> {
        Self::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown session state {s:?}")))
    }

    /// Not over yet (counts against limits; tokens may be issued).
    pub const fn is_active(self) -> bool {
        !matches!(self, SessionState::Ended | SessionState::Failed)
    }

    /// The states a session may move to `self` from.
    pub const fn sources(self) -> &'static [SessionState] {
        use SessionState::*;
        match self {
            Requested => &[],
            Starting => &[Requested],
            Running => &[Starting],
            Ending => &[Requested, Starting, Running],
            Ended => &[Running, Ending],
            Failed => &[Requested, Starting, Running, Ending],
        }
    }

    /// The column holding the time of entering this state.
    const fn time_column(self) -> &'static str {
        match self {
            SessionState::Requested => "requested_at",
            SessionState::Starting => "starting_at",
            SessionState::Running => "running_at",
            SessionState::Ending => "ending_at",
            SessionState::Ended | SessionState::Failed => "ended_at",
        }
    }
}

/// SQL list of the active states, for queries.
pub(crate) const ACTIVE: &str = "('requested', 'starting', 'running', 'ending')";

/// A session row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SessionRecord {
    /// Id.
    pub id: String,
    /// Owner.
    pub user_id: String,
    /// Owner's name.
    pub username: String,
    /// Workspace launched.
    pub workspace_id: String,
    /// Its name at launch.
    pub workspace_name: String,
    /// State.
    pub state: SessionState,
    /// Unix ms of each state entered.
    pub requested_at: i64,
    /// Unix ms.
    pub starting_at: Option<i64>,
    /// Unix ms.
    pub running_at: Option<i64>,
    /// Unix ms.
    pub ending_at: Option<i64>,
    /// Unix ms (ended or failed).
    pub ended_at: Option<i64>,
    /// Why it failed.
    pub failure: Option<String>,
    /// Latest expiry of any token issued for the session, Unix ms.
    pub token_expires_at: i64,
    /// End no later than this (maximum session length), Unix ms.
    pub deadline: Option<i64>,
    /// Where the launch came from (address).
    pub source: Option<String>,
    /// The agent running its container (container sessions).
    pub agent_id: Option<String>,
    /// Its desktop, once the agent reported the container ready.
    pub target: Option<SessionTarget>,
}

/// The desktop of a container session, as its agent reported it.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct SessionTarget {
    /// Address the gateway connects to.
    pub host: String,
    /// Port (VNC).
    pub port: u16,
    /// The per-session VNC password, sealed with the data key.
    #[serde(skip)]
    pub sealed_password: String,
}

impl std::fmt::Debug for SessionTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionTarget")
            .field("host", &self.host)
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

/// A launch to record.
#[derive(Debug, Clone)]
pub struct NewSession<'a> {
    /// Owner.
    pub user_id: &'a str,
    /// Workspace id.
    pub workspace_id: &'a str,
    /// Workspace name.
    pub workspace_name: &'a str,
    /// State to start in (`Requested`, or `Starting` when a token is issued at once).
    pub state: SessionState,
    /// Expiry of the first token, Unix ms.
    pub token_expires_at: i64,
    /// Maximum session length, as a deadline (Unix ms).
    pub deadline: Option<i64>,
    /// Client address.
    pub source: Option<&'a str>,
    /// At most this many active sessions of this workspace for this user.
    pub max_per_user: Option<u32>,
    /// For a container session: place it on an agent (`Requested` state).
    pub placement: Option<crate::Placement>,
}

/// What a launch did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Launch {
    /// Recorded, with this id.
    Launched(String),
    /// The user already has `active` active sessions of the workspace.
    LimitReached {
        /// Active sessions counted.
        active: i64,
    },
    /// No live agent of the user's zone has room for the session.
    NoCapacity {
        /// The zone searched.
        zone: String,
        /// Live agents in it.
        agents: usize,
    },
}

pub(crate) fn from_row(row: &AnyRow) -> Result<SessionRecord, StoreError> {
    Ok(SessionRecord {
        id: row.try_get("id")?,
        user_id: row.try_get("user_id")?,
        username: row.try_get("username")?,
        workspace_id: row.try_get("workspace_id")?,
        workspace_name: row.try_get("workspace_name")?,
        state: SessionState::parse(&row.try_get::<String, _>("state")?)?,
        requested_at: row.try_get("requested_at")?,
        starting_at: row.try_get("starting_at")?,
        running_at: row.try_get("running_at")?,
        ending_at: row.try_get("ending_at")?,
        ended_at: row.try_get("ended_at")?,
        failure: row.try_get("failure")?,
        token_expires_at: row.try_get("token_expires_at")?,
        deadline: row.try_get("deadline")?,
        source: row.try_get("source")?,
        agent_id: row.try_get("agent_id")?,
        target: match (
            row.try_get::<Option<String>, _>("target_host")?,
            row.try_get::<Option<i64>, _>("target_port")?,
            row.try_get::<Option<String>, _>("target_secret")?,
        ) {
            (Some(host), Some(port), Some(sealed_password)) => Some(SessionTarget {
                host,
                port: u16::try_from(port)
                    .map_err(|_| StoreError::Corrupt(format!("session port {port}")))?,
                sealed_password,
            }),
            _ => None,
        },
    })
}

pub(crate) const SELECT: &str = "SELECT s.id, s.user_id, u.username, s.workspace_id, s.workspace_name, s.state, \
     s.requested_at, s.starting_at, s.running_at, s.ending_at, s.ended_at, s.failure, \
     s.token_expires_at, s.deadline, s.source, s.agent_id, s.target_host, s.target_port, \
     s.target_secret FROM sessions s JOIN users u ON u.id = s.user_id";

/// Filters of [`Store::list_sessions`].
#[derive(Debug, Clone, Default)]
pub struct SessionFilter<'a> {
    /// Only this user's.
    pub user_id: Option<&'a str>,
    /// Only active (not ended or failed) ones.
    pub active_only: bool,
    /// Only after this one in the listing order (its `requested_at` and id,
    /// for keyset paging).
    pub before: Option<(i64, &'a str)>,
}

impl Store {
    /// Records a launch. The user's row is updated first, which serialises
    /// concurrent launches of one user in both databases, so the per-user
    /// limit holds however requests race.
    pub async fn launch_session(
        &self,
        new: &NewSession<'_>,
        now_ms: i64,
    ) -> Result<Launch, StoreError> {
        let mut tx = self.begin().await?;
        let locked = sqlx::query("UPDATE users SET launches = launches + 1 WHERE id = $1")
            .bind(new.user_id)
            .execute(&mut *tx)
            .await?;
        if locked.rows_affected() != 1 {
            return Err(StoreError::Corrupt("launch for an unknown user".into()));
        }
        if let Some(max) = new.max_per_user {
            let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT COUNT(*) AS n FROM sessions WHERE user_id = $1 AND workspace_id = $2 AND state IN {ACTIVE}"
            )))
            .bind(new.user_id)
            .bind(new.workspace_id)
            .fetch_one(&mut *tx)
            .await?;
            let active: i64 = row.try_get("n")?;
            if active >= i64::from(max) {
                tx.rollback().await?;
                return Ok(Launch::LimitReached { active });
            }
        }
        let agent_id = match &new.placement {
            None => None,
            Some(p) => match crate::agents::place(&mut tx, p).await? {
                Ok(agent) => Some(agent),
                Err(agents) => {
                    tx.rollback().await?;
                    return Ok(Launch::NoCapacity {
                        zone: p.zone.clone(),
                        agents,
                    });
                }
            },
        };
        let id = new_id();
        let starting_at = (new.state == SessionState::Starting).then_some(now_ms);
        sqlx::query(
            "INSERT INTO sessions (id, user_id, workspace_id, workspace_name, state, requested_at, starting_at, \
             token_expires_at, deadline, source, agent_id, memory_mb) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(&id)
        .bind(new.user_id)
        .bind(new.workspace_id)
        .bind(new.workspace_name)
        .bind(new.state.as_str())
        .bind(now_ms)
        .bind(starting_at)
        .bind(new.token_expires_at)
        .bind(new.deadline)
        .bind(new.source)
        .bind(agent_id)
        .bind(new.placement.as_ref().map(|p| p.memory_mb))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Launch::Launched(id))
    }

    /// A session by id.
    pub async fn session(&self, id: &str) -> Result<Option<SessionRecord>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!("{SELECT} WHERE s.id = $1")))
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// Newest first, at most `limit`.
    pub async fn list_sessions(
        &self,
        filter: &SessionFilter<'_>,
        limit: i64,
    ) -> Result<Vec<SessionRecord>, StoreError> {
        let active = if filter.active_only {
            format!("AND s.state IN {ACTIVE}")
        } else {
            String::new()
        };
        // Without a cursor: everything (no id sorts above the empty string
        // at i64::MAX, and no session was requested then).
        let (before_at, before_id) = filter.before.unwrap_or((i64::MAX, ""));
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{SELECT} WHERE ($1 = '' OR s.user_id = $1) \
             AND (s.requested_at < $2 OR (s.requested_at = $2 AND s.id < $3)) {active} \
             ORDER BY s.requested_at DESC, s.id DESC LIMIT $4"
        )))
        .bind(filter.user_id.unwrap_or(""))
        .bind(before_at)
        .bind(before_id)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(from_row).collect()
    }

    /// Moves a session into `to` if its current state allows it; records
    /// the time and, for `Failed`, why. Returns the updated session, or
    /// `None` when the transition was not allowed (already there, over, or
    /// another caller won the race).
    pub async fn transition(
        &self,
        id: &str,
        to: SessionState,
        now_ms: i64,
        failure: Option<&str>,
    ) -> Result<Option<SessionRecord>, StoreError> {
        let sources = to.sources();
        if sources.is_empty() {
            return Ok(None);
        }
        let list: Vec<String> = sources
            .iter()
            .map(|s| format!("'{}'", s.as_str()))
            .collect();
        let failure_set = if to == SessionState::Failed {
            ", failure = $4"
        } else {
            ""
        };
        let sql = format!(
            "UPDATE sessions SET state = $2, {} = $3{failure_set} WHERE id = $1 AND state IN ({})",
            to.time_column(),
            list.join(", ")
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .bind(to.as_str())
            .bind(now_ms);
        if to == SessionState::Failed {
            q = q.bind(failure.unwrap_or("failed"));
        }
        let done = q.execute(self.pool()).await?;
        if done.rows_affected() != 1 {
            return Ok(None);
        }
        self.session(id).await
    }

    /// Pushes the session's token expiry forward (a new token was issued),
    /// only while it is active. Returns `false` if it is not.
    pub async fn extend_session_tokens(
        &self,
        id: &str,
        expires_at: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE sessions SET token_expires_at = CASE WHEN token_expires_at > $2 THEN token_expires_at ELSE $2 END \
             WHERE id = $1 AND state IN {ACTIVE}"
        )))
        .bind(id)
        .bind(expires_at)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Active sessions whose `column` (a state time) is older than `before`
    /// while in `state`: the reaper's work list.
    pub async fn stale_sessions(
        &self,
        state: SessionState,
        before: i64,
    ) -> Result<Vec<SessionRecord>, StoreError> {
        let column = match state {
            SessionState::Starting => "s.starting_at",
            SessionState::Ending => "s.ending_at",
            SessionState::Requested => "s.requested_at",
            _ => return Ok(Vec::new()),
        };
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{SELECT} WHERE s.state = $1 AND {column} < $2 ORDER BY s.requested_at LIMIT 500"
        )))
        .bind(state.as_str())
        .bind(before)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(from_row).collect()
    }

    /// Active sessions past their deadline.
    pub async fn overdue_sessions(&self, now_ms: i64) -> Result<Vec<SessionRecord>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{SELECT} WHERE s.state IN {ACTIVE} AND s.deadline IS NOT NULL AND s.deadline <= $1 LIMIT 500"
        )))
        .bind(now_ms)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(from_row).collect()
    }

    /// Number of sessions in each state (for metrics and tests).
    pub async fn count_sessions_by_state(&self) -> Result<Vec<(SessionState, i64)>, StoreError> {
        let rows = sqlx::query("SELECT state, COUNT(*) AS n FROM sessions GROUP BY state")
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    SessionState::parse(&r.try_get::<String, _>("state")?)?,
                    r.try_get("n")?,
                ))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transitions_form_the_documented_machine() {
        use SessionState::*;
        assert!(Running.sources().contains(&Starting));
        assert!(!Running.sources().contains(&Ended));
        assert!(Failed.sources().iter().all(|s| s.is_active()));
        assert!(
            SessionState::ALL
                .iter()
                .all(|to| to.sources().iter().all(|from| from.is_active())),
            "nothing leaves a final state"
        );
        assert_eq!(SessionState::parse("running").unwrap(), Running);
        assert!(SessionState::parse("nope").is_err());
    }
}
