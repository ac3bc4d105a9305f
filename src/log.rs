//! Where the log goes: standard error, with the access log written in batches.
//!
//! One line per request, each written to standard error by its own `write`, cost
//! ~10 µs of server CPU per request, where the rest of `/healthz` costs ~23 µs
//! (docs/logging.md). Access
//! lines (target [`ACCESS`] at INFO) are therefore collected in memory and written
//! by a background thread at most [`BATCH_DELAY`] after the first of a batch, in one
//! `write`. Every other line (start, warnings, errors) is written at once, after
//! the access lines before it, so the order of the log is the order of events.
//! [`Log::flush`] runs at exit and before a panic's message; a process killed
//! outright (SIGKILL, power loss) loses at most the last [`BATCH_DELAY`] of access
//! lines.

use std::io::Write;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tracing::{Level, Metadata};
use tracing_subscriber::fmt::MakeWriter;

/// The target of the one line per request (`http::log_request`).
pub const ACCESS: &str = "usercenter::http";
/// How long an access line may wait in memory before it is written.
pub const BATCH_DELAY: Duration = Duration::from_millis(50);
/// Pending access lines past this size are written by the request that adds to them
/// (the background thread may be starved of a core under load).
const MAX_PENDING: usize = 256 * 1024;

/// The log's output: cheap to clone, shared by the subscriber and the flush thread.
#[derive(Clone)]
pub struct Log {
    shared: Arc<Shared>,
}

struct Shared {
    /// How long an access line may wait.
    delay: Duration,
    /// Access lines not yet written, and a spare buffer to swap in.
    pending: Mutex<Pending>,
    /// Signalled when `pending` goes from empty to not empty.
    ready: Condvar,
    /// Held while writing, so that batches and direct lines never interleave.
    out: Mutex<Box<dyn Write + Send>>,
}

#[derive(Default)]
struct Pending {
    lines: Vec<u8>,
    spare: Vec<u8>,
}

impl Log {
    /// A log writing to standard error, with its flush thread started.
    pub fn stderr() -> Self {
        Self::start(Box::new(std::io::stderr()), BATCH_DELAY)
    }

    /// A log writing to `out` (tests capture it) with access lines held up to
    /// `delay`, with its flush thread started.
    pub fn start(out: Box<dyn Write + Send>, delay: Duration) -> Self {
        let log = Self {
            shared: Arc::new(Shared {
                delay,
                pending: Mutex::new(Pending::default()),
                ready: Condvar::new(),
                out: Mutex::new(out),
            }),
        };
        let worker = log.clone();
        // Without the thread access lines would wait for the next direct line or
        // the exit; a failed spawn leaves them to those.
        let _ = std::thread::Builder::new()
            .name("log".into())
            .spawn(move || worker.run());
        log
    }

    /// Writes every pending access line now.
    pub fn flush(&self) {
        self.flush_into(lock(&self.shared.out));
    }

    /// [`Log::flush`] unless a write is under way: for a panic hook, which must not
    /// wait for a lock its own thread may hold.
    pub fn try_flush(&self) {
        let out = match self.shared.out.try_lock() {
            Ok(out) => out,
            Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => return,
        };
        self.flush_into(out);
    }

    fn flush_into(&self, mut out: MutexGuard<'_, Box<dyn Write + Send>>) {
        self.write_pending(&mut out);
        let _ = out.flush();
    }

    fn run(&self) {
        loop {
            {
                let mut pending = lock(&self.shared.pending);
                while pending.lines.is_empty() {
                    pending = self
                        .shared
                        .ready
                        .wait(pending)
                        .unwrap_or_else(PoisonError::into_inner);
                }
            }
            std::thread::sleep(self.shared.delay);
            self.flush();
        }
    }

    /// Takes the pending lines (the caller holds `out`) and writes them.
    fn write_pending(&self, out: &mut MutexGuard<'_, Box<dyn Write + Send>>) {
        let mut batch = {
            let mut pending = lock(&self.shared.pending);
            let spare = std::mem::take(&mut pending.spare);
            std::mem::replace(&mut pending.lines, spare)
        };
        if batch.is_empty() {
            return;
        }
        // A log that cannot be written (a closed stderr) must not stop requests.
        let _ = out.write_all(&batch);
        batch.clear();
        // The spare was taken above and only this writer (holding `out`) puts one
        // back; a buffer grown past a full batch is let go.
        if batch.capacity() <= MAX_PENDING {
            lock(&self.shared.pending).spare = batch;
        }
    }

    fn append(&self, line: &[u8]) {
        let (was_empty, full) = {
            let mut pending = lock(&self.shared.pending);
            let was_empty = pending.lines.is_empty();
            pending.lines.extend_from_slice(line);
            (was_empty, pending.lines.len() >= MAX_PENDING)
        };
        if full {
            self.flush();
        } else if was_empty {
            self.shared.ready.notify_one();
        }
    }

    fn write_now(&self, line: &[u8]) {
        let mut out = lock(&self.shared.out);
        self.write_pending(&mut out);
        let _ = out.write_all(line);
        let _ = out.flush();
    }
}

/// A poisoned lock only means a panic while logging; the buffer is still usable.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The writer for one event: batched for access lines, immediate for the rest.
pub struct Line<'a> {
    log: &'a Log,
    batched: bool,
}

impl Write for Line<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.batched {
            self.log.append(buf);
        } else {
            self.log.write_now(buf);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Log {
    type Writer = Line<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        Line {
            log: self,
            batched: false,
        }
    }

    fn make_writer_for(&'a self, meta: &Metadata<'_>) -> Self::Writer {
        Line {
            log: self,
            batched: meta.target() == ACCESS && *meta.level() == Level::INFO,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    /// Long enough that the flush thread never writes during a test.
    const HOUR: Duration = Duration::from_secs(3600);

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Captured {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    fn line(log: &Log, batched: bool, text: &str) {
        Line { log, batched }.write_all(text.as_bytes()).unwrap();
    }

    #[test]
    fn access_lines_wait_but_never_overtake_other_lines() {
        let out = Captured::default();
        let log = Log::start(Box::new(out.clone()), HOUR);
        line(&log, true, "request 1\n");
        line(&log, true, "request 2\n");
        assert_eq!(out.text(), "", "access lines are batched");
        line(&log, false, "warning\n");
        assert_eq!(
            out.text(),
            "request 1\nrequest 2\nwarning\n",
            "a direct line is written at once, after the access lines before it"
        );
        line(&log, true, "request 3\n");
        log.flush();
        assert_eq!(out.text(), "request 1\nrequest 2\nwarning\nrequest 3\n");
    }

    #[test]
    fn a_panic_hook_flush_never_waits_for_a_write_under_way() {
        let out = Captured::default();
        let log = Log::start(Box::new(out.clone()), HOUR);
        line(&log, true, "request\n");
        let writing = lock(&log.shared.out);
        log.try_flush();
        assert_eq!(out.text(), "", "skipped while the output is held");
        drop(writing);
        log.try_flush();
        assert_eq!(out.text(), "request\n");
    }

    #[test]
    fn access_lines_are_written_soon_without_another_line() {
        let out = Captured::default();
        let log = Log::start(Box::new(out.clone()), Duration::from_millis(1));
        line(&log, true, "request\n");
        let deadline = Instant::now() + Duration::from_secs(5);
        while out.text().is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(out.text(), "request\n", "the flush thread wrote the batch");
    }

    #[test]
    fn a_full_batch_is_written_by_the_request_that_fills_it() {
        let out = Captured::default();
        let log = Log::start(Box::new(out.clone()), HOUR);
        let long = format!("{}\n", "x".repeat(1023));
        for _ in 0..MAX_PENDING / long.len() {
            line(&log, true, &long);
        }
        assert_eq!(out.text().len(), MAX_PENDING, "written without waiting");
    }

    #[test]
    fn only_info_lines_of_the_access_target_are_batched() {
        let out = Captured::default();
        let log = Log::start(Box::new(out.clone()), HOUR);
        let subscriber = tracing_subscriber::fmt()
            .with_writer(log.clone())
            .with_ansi(false)
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(target: ACCESS, "request");
            assert_eq!(out.text(), "", "the access line waits");
            tracing::info!(target: "usercenter::server", "listening");
            let text = out.text();
            assert!(
                text.contains("request") && text.ends_with("listening\n"),
                "another target's line is written at once, after it: {text}"
            );
            tracing::warn!(target: ACCESS, "refused");
            assert!(
                out.text().ends_with("refused\n"),
                "a warning is not batched"
            );
        });
    }
}
