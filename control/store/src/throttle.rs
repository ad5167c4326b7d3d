//! Failed-login throttling by key (`user:<name>`, `ip:<address>`):
//! exponential back-off after a number of free failures.

use crate::{Store, StoreError};
use sqlx::Row as _;

/// The throttling rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleRule {
    /// Failures allowed before any lock.
    pub free_failures: i64,
    /// First lock, ms; doubled per further failure.
    pub base_lock_ms: i64,
    /// Longest lock, ms.
    pub max_lock_ms: i64,
    /// Failures older than this are forgotten, ms.
    pub window_ms: i64,
}

impl ThrottleRule {
    /// Lock time after the `failures`-th failure.
    pub fn lock_ms(&self, failures: i64) -> i64 {
        if failures <= self.free_failures {
            return 0;
        }
        let doublings = (failures - self.free_failures - 1).min(30) as u32;
        self.base_lock_ms
            .saturating_mul(1i64 << doublings)
            .min(self.max_lock_ms)
    }
}

impl Store {
    /// The latest `locked_until` among these keys (0 when none is locked).
    pub async fn locked_until(&self, keys: &[&str], now_ms: i64) -> Result<i64, StoreError> {
        let mut until = 0;
        for key in keys {
            let row = sqlx::query(
                "SELECT locked_until FROM login_throttle WHERE key = $1 AND locked_until > $2",
            )
            .bind(*key)
            .bind(now_ms)
            .fetch_optional(self.pool())
            .await?;
            if let Some(r) = row {
                until = until.max(r.try_get::<i64, _>("locked_until")?);
            }
        }
        Ok(until)
    }

    /// Counts a failure for `key`; returns the failures so far and the lock.
    pub async fn record_login_failure(
        &self,
        key: &str,
        rule: &ThrottleRule,
        now_ms: i64,
    ) -> Result<(i64, i64), StoreError> {
        // Forget failures outside the window, then count this one; atomic per key.
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO login_throttle (key, failures, last_failure, locked_until) VALUES ($1, 0, $2, 0) \
             ON CONFLICT (key) DO UPDATE SET failures = CASE WHEN login_throttle.last_failure < $3 THEN 0 \
             ELSE login_throttle.failures END",
        )
        .bind(key)
        .bind(now_ms)
        .bind(now_ms - rule.window_ms)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE login_throttle SET failures = failures + 1, last_failure = $2 WHERE key = $1",
        )
        .bind(key)
        .bind(now_ms)
        .execute(&mut *tx)
        .await?;
        let row = sqlx::query("SELECT failures FROM login_throttle WHERE key = $1")
            .bind(key)
            .fetch_one(&mut *tx)
            .await?;
        let failures: i64 = row.try_get("failures")?;
        let lock = rule.lock_ms(failures);
        let until = if lock > 0 { now_ms + lock } else { 0 };
        sqlx::query("UPDATE login_throttle SET locked_until = $2 WHERE key = $1")
            .bind(key)
            .bind(until)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok((failures, until))
    }

    /// Forgets the failures of `key` (after a successful login).
    pub async fn clear_login_failures(&self, key: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM login_throttle WHERE key = $1")
            .bind(key)
            .execute(self.pool())
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn back_off_doubles_up_to_the_cap() {
        let r = ThrottleRule {
            free_failures: 5,
            base_lock_ms: 1000,
            max_lock_ms: 10_000,
            window_ms: 60_000,
        };
        assert_eq!(r.lock_ms(5), 0);
        assert_eq!(r.lock_ms(6), 1000);
        assert_eq!(r.lock_ms(7), 2000);
        assert_eq!(r.lock_ms(9), 8000);
        assert_eq!(r.lock_ms(10), 10_000);
        assert_eq!(r.lock_ms(1000), 10_000);
    }
}
