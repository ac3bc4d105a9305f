//! RFC 8628 device codes (migration 11).

use super::Db;
use crate::error::Result;

/// A device authorization as the token endpoint and the `/device` page see it.
#[derive(Debug, Clone)]
pub struct DeviceCode {
    pub device_code_hash: String,
    pub user_code: String,
    pub client_id: i64,
    pub scope: String,
    /// `pending`, `approved`, `denied` or `used`.
    pub state: String,
    pub user_id: Option<i64>,
    pub auth_time: Option<i64>,
    pub poll_interval: i64,
    pub polled_at: Option<i64>,
    pub expires_at: i64,
}

type Row = (
    String,
    String,
    i64,
    String,
    String,
    Option<i64>,
    Option<i64>,
    i64,
    Option<i64>,
    i64,
);

const COLUMNS: &str = "device_code_hash, user_code, client_id, scope, state, user_id, auth_time, \
                       poll_interval, polled_at, expires_at";

fn decode(r: Row) -> DeviceCode {
    DeviceCode {
        device_code_hash: r.0,
        user_code: r.1,
        client_id: r.2,
        scope: r.3,
        state: r.4,
        user_id: r.5,
        auth_time: r.6,
        poll_interval: r.7,
        polled_at: r.8,
        expires_at: r.9,
    }
}

impl Db {
    /// Stores a pending authorization; false when the user code is taken.
    pub async fn create_device_code(&self, c: &DeviceCode, now: i64) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO device_codes (device_code_hash, user_code, client_id, scope, state, \
             poll_interval, expires_at, created_at) VALUES ($1, $2, $3, $4, 'pending', $5, $6, $7) \
             ON CONFLICT DO NOTHING",
        )
        .bind(&c.device_code_hash)
        .bind(&c.user_code)
        .bind(c.client_id)
        .bind(&c.scope)
        .bind(c.poll_interval)
        .bind(c.expires_at)
        .bind(now)
        .execute(self.wpool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn device_code(&self, device_code_hash: &str) -> Result<Option<DeviceCode>> {
        let sql = format!("SELECT {COLUMNS} FROM device_codes WHERE device_code_hash = $1");
        let row: Option<Row> = sqlx::query_as(&sql)
            .bind(device_code_hash)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.map(decode))
    }

    /// The pending, unexpired authorization with this user code.
    pub async fn pending_device_code(
        &self,
        user_code: &str,
        now: i64,
    ) -> Result<Option<DeviceCode>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM device_codes WHERE user_code = $1 AND state = 'pending' AND expires_at > $2"
        );
        let row: Option<Row> = sqlx::query_as(&sql)
            .bind(user_code)
            .bind(now)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.map(decode))
    }

    /// A person's answer to a pending authorization; false when it is no longer pending.
    pub async fn decide_device_code(
        &self,
        user_code: &str,
        user_id: i64,
        approve: bool,
        auth_time: i64,
        now: i64,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE device_codes SET state = $1, user_id = $2, auth_time = $3 \
             WHERE user_code = $4 AND state = 'pending' AND expires_at > $5",
        )
        .bind(if approve { "approved" } else { "denied" })
        .bind(user_id)
        .bind(auth_time)
        .bind(user_code)
        .bind(now)
        .execute(self.wpool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Records a poll, and the interval the device must keep from now on.
    pub async fn device_code_polled(&self, hash: &str, now: i64, interval: i64) -> Result<()> {
        sqlx::query(
            "UPDATE device_codes SET polled_at = $1, poll_interval = $2 WHERE device_code_hash = $3",
        )
        .bind(now)
        .bind(interval)
        .bind(hash)
        .execute(self.wpool())
        .await?;
        Ok(())
    }

    /// Takes an approved authorization once.
    pub async fn consume_device_code(&self, hash: &str) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE device_codes SET state = 'used' WHERE device_code_hash = $1 AND state = 'approved'",
        )
        .bind(hash)
        .execute(self.wpool())
        .await?;
        Ok(done.rows_affected() == 1)
    }
}
