//! Groups: who belongs, which workspaces they grant, and their settings.

use crate::users::{USER_COLUMNS_U, user_from};
use crate::workspaces::{WORKSPACE_COLUMNS_W, WorkspaceRecord, workspace_from};
use crate::{Store, StoreError, User, new_id};
use sqlx::Row as _;
use sqlx::any::AnyRow;

/// A group as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupRecord {
    /// Id.
    pub id: String,
    /// Unique name.
    pub name: String,
    /// Free text.
    pub description: String,
    /// Settings (JSON, validated by the control plane).
    pub settings: serde_json::Value,
    /// Unix ms.
    pub created_at: i64,
    /// Unix ms.
    pub updated_at: i64,
}

fn from_row(row: &AnyRow) -> Result<GroupRecord, StoreError> {
    let settings: String = row.try_get("settings")?;
    Ok(GroupRecord {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        description: row.try_get("description")?,
        settings: serde_json::from_str(&settings)
            .map_err(|e| StoreError::Corrupt(format!("group settings: {e}")))?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

const COLUMNS: &str = "g.id, g.name, g.description, g.settings, g.created_at, g.updated_at";

impl Store {
    /// Creates a group; `Conflict` when the name is taken.
    pub async fn create_group(
        &self,
        name: &str,
        description: &str,
        settings: &serde_json::Value,
        now_ms: i64,
    ) -> Result<GroupRecord, StoreError> {
        let id = new_id();
        sqlx::query(
            "INSERT INTO groups (id, name, description, settings, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)",
        )
        .bind(&id)
        .bind(name)
        .bind(description)
        .bind(settings.to_string())
        .bind(now_ms)
        .execute(self.pool())
        .await
        .map_err(|e| StoreError::from_insert(e, "group"))?;
        Ok(GroupRecord {
            id,
            name: name.to_owned(),
            description: description.to_owned(),
            settings: settings.clone(),
            created_at: now_ms,
            updated_at: now_ms,
        })
    }

    /// A group by id.
    pub async fn group(&self, id: &str) -> Result<Option<GroupRecord>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM groups g WHERE g.id = $1"
        )))
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// A page of groups by name.
    pub async fn list_groups(
        &self,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<GroupRecord>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM groups g WHERE g.name > $1 ORDER BY g.name LIMIT $2"
        )))
        .bind(after.unwrap_or(""))
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(from_row).collect()
    }

    /// Replaces a group's fields; `None` when it does not exist.
    pub async fn update_group(
        &self,
        id: &str,
        name: &str,
        description: &str,
        settings: &serde_json::Value,
        now_ms: i64,
    ) -> Result<Option<GroupRecord>, StoreError> {
        let done = sqlx::query(
            "UPDATE groups SET name = $2, description = $3, settings = $4, updated_at = $5 WHERE id = $1",
        )
        .bind(id)
        .bind(name)
        .bind(description)
        .bind(settings.to_string())
        .bind(now_ms)
        .execute(self.pool())
        .await
        .map_err(|e| StoreError::from_insert(e, "group"))?;
        if done.rows_affected() == 0 {
            return Ok(None);
        }
        self.group(id).await
    }

    /// Deletes a group (its memberships and grants go with it).
    pub async fn delete_group(&self, id: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM groups WHERE id = $1")
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Replaces the members of a group, atomically. Unknown user ids are an error.
    pub async fn set_group_members(
        &self,
        group_id: &str,
        user_ids: &[String],
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        sqlx::query("DELETE FROM group_members WHERE group_id = $1")
            .bind(group_id)
            .execute(&mut *tx)
            .await?;
        for user_id in user_ids {
            sqlx::query("INSERT INTO group_members (group_id, user_id) VALUES ($1, $2)")
                .bind(group_id)
                .bind(user_id)
                .execute(&mut *tx)
                .await
                .map_err(|e| match &e {
                    sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
                        StoreError::Missing("user")
                    }
                    sqlx::Error::Database(db) if db.is_unique_violation() => {
                        StoreError::Conflict("member")
                    }
                    _ => StoreError::Database(e),
                })?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Replaces the workspaces a group grants, atomically.
    pub async fn set_group_workspaces(
        &self,
        group_id: &str,
        workspace_ids: &[String],
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        sqlx::query("DELETE FROM group_workspaces WHERE group_id = $1")
            .bind(group_id)
            .execute(&mut *tx)
            .await?;
        for ws in workspace_ids {
            sqlx::query("INSERT INTO group_workspaces (group_id, workspace_id) VALUES ($1, $2)")
                .bind(group_id)
                .bind(ws)
                .execute(&mut *tx)
                .await
                .map_err(|e| match &e {
                    sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
                        StoreError::Missing("workspace")
                    }
                    sqlx::Error::Database(db) if db.is_unique_violation() => {
                        StoreError::Conflict("grant")
                    }
                    _ => StoreError::Database(e),
                })?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Members of a group, by name.
    pub async fn group_members(&self, group_id: &str) -> Result<Vec<User>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {USER_COLUMNS_U} FROM users u JOIN group_members m ON m.user_id = u.id \
             WHERE m.group_id = $1 ORDER BY u.username"
        )))
        .bind(group_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(user_from).collect()
    }

    /// Ids of the workspaces a group grants.
    pub async fn group_workspace_ids(&self, group_id: &str) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query(
            "SELECT workspace_id FROM group_workspaces WHERE group_id = $1 ORDER BY workspace_id",
        )
        .bind(group_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| Ok(r.try_get("workspace_id")?))
            .collect()
    }

    /// The groups a user belongs to.
    pub async fn groups_of_user(&self, user_id: &str) -> Result<Vec<GroupRecord>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM groups g JOIN group_members m ON m.group_id = g.id \
             WHERE m.user_id = $1 ORDER BY g.name"
        )))
        .bind(user_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(from_row).collect()
    }

    /// The user's groups that grant this workspace.
    pub async fn granting_groups(
        &self,
        user_id: &str,
        workspace_id: &str,
    ) -> Result<Vec<GroupRecord>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM groups g \
             JOIN group_members m ON m.group_id = g.id \
             JOIN group_workspaces w ON w.group_id = g.id \
             WHERE m.user_id = $1 AND w.workspace_id = $2 ORDER BY g.name"
        )))
        .bind(user_id)
        .bind(workspace_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(from_row).collect()
    }

    /// A page of the workspaces the user's groups grant, by name.
    pub async fn workspaces_of_user(
        &self,
        user_id: &str,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<WorkspaceRecord>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {WORKSPACE_COLUMNS_W} FROM workspaces w WHERE w.name > $2 AND w.id IN \
             (SELECT gw.workspace_id FROM group_workspaces gw JOIN group_members m ON m.group_id = gw.group_id \
              WHERE m.user_id = $1) ORDER BY w.name LIMIT $3"
        )))
        .bind(user_id)
        .bind(after.unwrap_or(""))
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(workspace_from).collect()
    }
}
