//! SQLite's WAL checkpoints on a thread of their own.
//!
//! By default the connection whose commit grows the WAL past 1,000 pages copies them
//! into the database file there and then, inside that commit: on the token writer
//! that stalled every token request waiting for the batch. Connections here run with
//! automatic checkpoints off, and this thread runs a passive checkpoint (which never
//! blocks readers or the writer) every quarter second while the database is open.

use rusqlite::Connection;
use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

const EVERY: Duration = Duration::from_millis(250);

/// Stops the thread when the last copy is dropped.
#[derive(Debug, Clone)]
pub(super) struct Checkpointer {
    _alive: mpsc::Sender<()>,
}

impl Checkpointer {
    pub(super) fn start(path: &Path) -> rusqlite::Result<Self> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(Duration::from_secs(5))?;
        let (alive, stopped) = mpsc::channel::<()>();
        std::thread::Builder::new()
            .name("wal-checkpoint".into())
            .spawn(move || {
                while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(EVERY) {
                    if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
                    {
                        tracing::warn!("WAL checkpoint failed: {e}");
                    }
                }
            })
            .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
        Ok(Self { _alive: alive })
    }
}
