//! SQLite's WAL checkpoints, kept off the requests' path.
//!
//! By default the connection whose commit grows the WAL past 1,000 pages copies them
//! into the database file there and then, inside that commit: on the writer that
//! stalled every request waiting for the batch. Connections here run with automatic
//! checkpoints off, and a thread of its own runs a passive checkpoint (which never
//! blocks readers or the writer) every 25 ms while the database is open.
//!
//! Passive checkpoints alone do not bound the WAL: SQLite writes the WAL from its
//! beginning again only when a write begins after every frame has been copied, and
//! under steady load the writer appends frames while the checkpoint runs, so that
//! moment never comes (the WAL grew by 160 MB a second under client credentials).
//! So when the thread finds the WAL longer than [`LONG_WAL`] frames it raises a flag,
//! and the writer, between two batches, runs a passive checkpoint itself
//! ([`catch_up`]): it copies only what came since the thread's last one, nothing is
//! written meanwhile, and its next batch starts the WAL over. Nobody waits on a lock.
//! When the writer is idle and the WAL grows through other connections, the thread
//! empties it itself on its next round.
//!
//! SQLite syncs the database file only in the checkpoint that copies the WAL's last
//! frame, which under load is the writer's catch-up: it flushed every page the
//! thread had copied since the WAL began, 8–12 ms of `fsync` during which no token
//! was stored (p99 of client credentials 9–48 ms). The thread now syncs the database
//! file itself before it raises the flag, so the catch-up flushes only what it
//! copies: 3.8–4.1 ms on average (`docs/performance.md`).

use rusqlite::Connection;
use std::fs::File;
use std::mem::ManuallyDrop;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Duration;

/// How often the thread checkpoints. The writer's catch-up copies what came since the
/// thread's last checkpoint while every token waits on it, so a shorter period means
/// shorter stalls: under client credentials, 100 ms gave a p99 of 29–37 ms, 25 ms
/// 20–22 ms, 1 s 90–105 ms (`docs/performance.md`).
const EVERY: Duration = Duration::from_millis(25);

/// WAL frames (pages) beyond which the writer catches up: 16 MiB of 4 KiB pages.
const LONG_WAL: i64 = 4096;

/// Stops the thread when the last copy is dropped.
#[derive(Debug, Clone)]
pub(super) struct Checkpointer {
    _alive: mpsc::Sender<()>,
    long: Arc<AtomicBool>,
}

impl Checkpointer {
    pub(super) fn start(path: &Path) -> rusqlite::Result<Self> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(Duration::from_secs(5))?;
        // Never closed: closing any descriptor of the database file drops every POSIX
        // lock the process holds on it, SQLite's included. One per database opened.
        let file = ManuallyDrop::new(File::open(path).map_err(io)?);
        let (alive, stopped) = mpsc::channel::<()>();
        let long = Arc::new(AtomicBool::new(false));
        let flag = long.clone();
        std::thread::Builder::new()
            .name("wal-checkpoint".into())
            .spawn(move || {
                while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(EVERY) {
                    if let Err(e) = tick(&conn, &file, &flag) {
                        tracing::warn!("WAL checkpoint failed: {e}");
                    }
                }
            })
            .map_err(io)?;
        Ok(Self {
            _alive: alive,
            long,
        })
    }

    /// The flag the writer reads between batches.
    pub(super) fn long_wal(&self) -> Arc<AtomicBool> {
        self.long.clone()
    }
}

/// The thread's checkpoint. When the WAL has grown long, the pages copied so far are
/// made durable here before the flag is raised, so that the writer's catch-up, which
/// syncs the database file, flushes only its own. A flag still raised from the last
/// round means the writer ran no batch since: the writes came through other
/// connections (administration, a bulk import), so nothing will catch up and this
/// thread empties the WAL itself, waiting for those writers.
fn tick(conn: &Connection, db: &File, long: &AtomicBool) -> rusqlite::Result<()> {
    let frames = passive(conn)?;
    let raised = long.load(Ordering::Relaxed);
    if frames > LONG_WAL && raised {
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        long.store(false, Ordering::Relaxed);
    } else if frames > LONG_WAL {
        db.sync_data().map_err(io)?;
        long.store(true, Ordering::Relaxed);
    } else {
        long.store(false, Ordering::Relaxed);
    }
    Ok(())
}

/// An I/O error of this module's own file work, as the SQLite error its callers
/// handle. rusqlite has no I/O variant; this one carries any error and shows it as is.
fn io(e: std::io::Error) -> rusqlite::Error {
    rusqlite::Error::ToSqlConversionFailure(e.into())
}

/// A passive checkpoint; the number of frames in the WAL.
fn passive(conn: &Connection) -> rusqlite::Result<i64> {
    // (busy, frames in the WAL, frames copied)
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get(1))
}

/// Run by the writer between batches on its own connection: when the WAL has grown
/// long, copies the rest of it, so that the writer's next batch starts it over.
pub(super) fn catch_up(writer: &Connection, long: &AtomicBool) -> rusqlite::Result<()> {
    if long.swap(false, Ordering::Relaxed) {
        passive(writer)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    /// A WAL database in a folder of its own, with one table, automatic checkpoints
    /// off as in the server.
    struct Scratch {
        dir: PathBuf,
        db: PathBuf,
    }

    impl Scratch {
        fn new(name: &str) -> rusqlite::Result<(Self, Connection)> {
            let dir = std::env::temp_dir().join(format!("uc-{name}-{}", std::process::id()));
            std::fs::create_dir_all(&dir).map_err(io)?;
            let db = dir.join("t.db");
            let conn = Connection::open(&db)?;
            conn.execute_batch(
                "PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 0; \
                 CREATE TABLE t (v TEXT NOT NULL);",
            )?;
            Ok((Self { dir, db }, conn))
        }

        fn open(&self) -> rusqlite::Result<Connection> {
            Connection::open(&self.db)
        }

        fn wal_len(&self) -> u64 {
            std::fs::metadata(self.dir.join("t.db-wal"))
                .map(|m| m.len())
                .unwrap_or(0)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    /// `n` rows of ~2 KB in one transaction.
    fn rows(n: usize) -> String {
        format!(
            "BEGIN; {} COMMIT;",
            "INSERT INTO t VALUES (hex(randomblob(1000)));".repeat(n)
        )
    }

    /// A reader in the middle of a checkpoint keeps it from copying everything, as
    /// readers under load always do; the writer's catch-up then lets the next write
    /// start the WAL over instead of growing it.
    #[test]
    fn the_writer_catching_up_starts_the_wal_over() -> rusqlite::Result<()> {
        let (scratch, writer) = Scratch::new("catch-up")?;
        let (reader, background) = (scratch.open()?, scratch.open()?);
        let long = AtomicBool::new(false);

        writer.execute_batch(&rows(100))?;
        // A reader's snapshot pins the WAL while more is written and checkpointed.
        reader.execute_batch("BEGIN; SELECT COUNT(*) FROM t;")?;
        writer.execute_batch(&rows(10_000))?;
        let frames = passive(&background)?;
        assert!(frames > LONG_WAL);
        long.store(frames > LONG_WAL, Ordering::Relaxed);
        reader.execute_batch("COMMIT")?;

        catch_up(&writer, &long)?;
        assert!(!long.load(Ordering::Relaxed), "the flag is taken");
        let before = scratch.wal_len();
        writer.execute_batch(&rows(100))?;
        assert_eq!(
            scratch.wal_len(),
            before,
            "the next write reused the WAL from its start"
        );
        let n: i64 = reader.query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0))?;
        assert_eq!(n, 10_200, "nothing was lost");
        Ok(())
    }

    /// Writes that bypass the writer (it never catches up then) are bounded too: the
    /// second round that finds the WAL long empties it.
    #[test]
    fn with_the_writer_idle_the_thread_empties_a_long_wal() -> rusqlite::Result<()> {
        let (scratch, other) = Scratch::new("idle")?;
        other.execute_batch(&rows(10_000))?;
        let (background, long) = (scratch.open()?, AtomicBool::new(false));
        let db = File::open(&scratch.db).unwrap();
        tick(&background, &db, &long)?;
        assert!(
            long.load(Ordering::Relaxed) && scratch.wal_len() > 0,
            "first round: flag raised"
        );
        tick(&background, &db, &long)?;
        assert_eq!(
            scratch.wal_len(),
            0,
            "second round, nobody caught up: emptied"
        );
        let n: i64 = background.query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0))?;
        assert_eq!(n, 10_000, "nothing was lost");
        Ok(())
    }
}
