//! Hot reads asked at the same time, answered by one PostgreSQL query
//! (`docs/batched-reads.md`).
//!
//! Every query costs PostgreSQL a fixed share, whatever it reads (parsing the
//! messages, a snapshot, waking its backend and then the server's worker: about as
//! much as the token lookup itself), and on two shared cores that share is what
//! bearer tokens and introspection were bound by. Here each kind of read has at most
//! [`LANES`] queries running (one); a request that comes while it runs waits, and
//! when it ends everything waiting is asked in the next query, over arrays
//! (`unnest(…) WITH ORDINALITY`), whose rows say which request they answer.
//!
//! A request's read still starts after the request arrived, and the query runs in one
//! snapshot taken then: a revocation committed before the request is seen, as by a
//! query of its own. The lanes run as tasks of their own, so a request cut off while
//! its batch runs leaves the others' answers alone. A batch that fails answers
//! nobody: each of its requests then reads alone, and fails (or not) on its own.

use super::pg::PgConns;
use crate::error::Result;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::oneshot;

/// Queries of one kind running at once. One measured best on two shared cores:
/// `bench/run.sh --postgres --only "a d e" --conns 64 --duration 5`, introspection
/// at 51,500–52,900 req/s with one, 36,700–45,400 with two, 28,900 with four and
/// 25,700 with eight (fewer, larger batches: less of PostgreSQL's per-query share).
/// A request waits at most for the query running when it came, and the waiting
/// batch grows with the load.
const LANES: usize = 1;

/// Requests answered by one query at most.
const MAX_BATCH: usize = 128;

/// A kind of read that can be asked for many requests in one query.
pub(crate) trait BatchRead: Send + Sync + 'static {
    /// What one request asks.
    type Ask: Send + 'static;
    /// What it is answered, when something is found.
    type Answer: Send + 'static;

    /// The answers found for `asked`, each with the index of its ask.
    fn read(
        conns: &PgConns,
        asked: &[Self::Ask],
    ) -> impl Future<Output = Result<Vec<(usize, Self::Answer)>>> + Send;
}

type Reply<A> = oneshot::Sender<Option<A>>;

struct Queue<B: BatchRead> {
    asked: Vec<(B::Ask, Reply<B::Answer>)>,
    running: usize,
}

/// The requests waiting for one kind of read, and its lanes.
pub(crate) struct Batched<B: BatchRead> {
    conns: Arc<PgConns>,
    queue: Mutex<Queue<B>>,
}

impl<B: BatchRead> std::fmt::Debug for Batched<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batched").finish_non_exhaustive()
    }
}

/// A batch failed (or the runtime is shutting down): the request reads alone.
#[derive(Debug)]
pub(crate) struct Unanswered;

impl<B: BatchRead> Batched<B> {
    pub fn new(conns: Arc<PgConns>) -> Arc<Self> {
        Arc::new(Self {
            conns,
            queue: Mutex::new(Queue {
                asked: Vec::new(),
                running: 0,
            }),
        })
    }

    /// What a read of `ask` finds (`None`: nothing), read with whatever else is asked
    /// at the time.
    pub async fn ask(
        self: &Arc<Self>,
        ask: B::Ask,
    ) -> std::result::Result<Option<B::Answer>, Unanswered> {
        let (reply, answer) = oneshot::channel();
        let start = {
            let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
            queue.asked.push((ask, reply));
            let free = queue.running < LANES;
            queue.running += usize::from(free);
            free
        };
        if start {
            tokio::spawn(Arc::clone(self).lane());
        }
        answer.await.map_err(|_| Unanswered)
    }

    /// Reads batches while requests wait.
    async fn lane(self: Arc<Self>) {
        let mut lane = Lane {
            batched: &self,
            ended: false,
        };
        loop {
            let batch: Vec<_> = {
                let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
                if queue.asked.is_empty() {
                    // Under the lock that found nothing waiting: a request asking next
                    // starts a lane of its own.
                    queue.running -= 1;
                    lane.ended = true;
                    return;
                }
                let take = queue.asked.len().min(MAX_BATCH);
                queue.asked.drain(..take).collect()
            };
            let (asked, replies): (Vec<_>, Vec<_>) = batch.into_iter().unzip();
            match B::read(&self.conns, &asked).await {
                Ok(found) => {
                    let mut answers: Vec<Option<B::Answer>> = std::iter::repeat_with(|| None)
                        .take(replies.len())
                        .collect();
                    for (i, answer) in found {
                        if let Some(slot) = answers.get_mut(i) {
                            *slot = Some(answer);
                        }
                    }
                    for (reply, answer) in replies.into_iter().zip(answers) {
                        // A request cut off meanwhile no longer listens.
                        let _ = reply.send(answer);
                    }
                }
                Err(e) => {
                    tracing::debug!(error = %e, asked = asked.len(), "batched read failed");
                }
            }
        }
    }
}

/// A running lane. Dropped before it ended (a read panicked, or the runtime shut
/// down), it gives its place back and lets every waiting request read alone: none is
/// left waiting for a lane that no longer runs.
struct Lane<'a, B: BatchRead> {
    batched: &'a Batched<B>,
    ended: bool,
}

impl<B: BatchRead> Drop for Lane<'_, B> {
    fn drop(&mut self) {
        if !self.ended {
            let mut queue = self
                .batched
                .queue
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            queue.asked.clear();
            queue.running -= 1;
        }
    }
}

/// The 0-based index of the request a row answers, from its 1-based ordinality.
pub(crate) fn ordinal(r: &mut super::read::Cursor<'_>) -> Result<usize> {
    let i = r.int()?;
    usize::try_from(i - 1).map_err(|_| crate::error::Error::Internal(format!("ordinality {i}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;
    use sqlx::postgres::PgConnectOptions;
    use std::str::FromStr;
    use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
    use std::time::Duration;

    /// Connections never used by the reads below.
    fn conns() -> Arc<PgConns> {
        Arc::new(PgConns::new(
            PgConnectOptions::from_str("postgres://127.0.0.1:1/none").unwrap(),
        ))
    }

    static READS: AtomicUsize = AtomicUsize::new(0);
    static RUNNING: AtomicUsize = AtomicUsize::new(0);
    static MOST_RUNNING: AtomicUsize = AtomicUsize::new(0);

    /// Doubles every even number asked and finds nothing for odd ones, slowly, so that
    /// requests wait for a lane.
    struct Doubles;

    impl BatchRead for Doubles {
        type Ask = u64;
        type Answer = u64;

        async fn read(_: &PgConns, asked: &[u64]) -> Result<Vec<(usize, u64)>> {
            READS.fetch_add(1, Ordering::SeqCst);
            let now = RUNNING.fetch_add(1, Ordering::SeqCst) + 1;
            MOST_RUNNING.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(20)).await;
            RUNNING.fetch_sub(1, Ordering::SeqCst);
            // In reverse, as a query's rows may come in any order.
            Ok(asked
                .iter()
                .enumerate()
                .rev()
                .filter(|(_, n)| *n % 2 == 0)
                .map(|(i, n)| (i, n * 2))
                .collect())
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn each_ask_gets_its_own_answer_and_waiting_asks_share_a_query() {
        let batched = Batched::<Doubles>::new(conns());
        let mut asks = tokio::task::JoinSet::new();
        for n in 0..400u64 {
            let batched = Arc::clone(&batched);
            asks.spawn(async move { (n, batched.ask(n).await.unwrap()) });
        }
        while let Some(done) = asks.join_next().await {
            let (n, answer) = done.unwrap();
            assert_eq!(answer, (n % 2 == 0).then_some(n * 2), "ask {n}");
        }
        let reads = READS.load(Ordering::SeqCst);
        assert!(reads < 40, "400 asks took {reads} queries");
        assert!(MOST_RUNNING.load(Ordering::SeqCst) <= LANES);
        let queue = batched.queue.lock().unwrap();
        assert_eq!((queue.asked.len(), queue.running), (0, 0), "lanes end");
    }

    /// What [`Faulty`] does with a batch, as the asks' shared flag says.
    const FAILS: u8 = 0;
    const PANICS: u8 = 1;
    const ANSWERS: u8 = 2;

    /// Fails or panics as its asks' flag says (each test has a flag of its own);
    /// otherwise answers every ask with its number.
    struct Faulty;

    impl BatchRead for Faulty {
        type Ask = (u64, &'static AtomicU8);
        type Answer = u64;

        async fn read(_: &PgConns, asked: &[Self::Ask]) -> Result<Vec<(usize, u64)>> {
            tokio::time::sleep(Duration::from_millis(5)).await;
            match asked.first().map(|(_, mode)| mode.load(Ordering::SeqCst)) {
                Some(FAILS) => return Err(Error::Internal("the database went away".into())),
                Some(PANICS) => panic!("a read panicked"),
                _ => {}
            }
            Ok(asked.iter().map(|(n, _)| *n).enumerate().collect())
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_lane_that_panics_leaves_no_request_waiting_and_the_next_ask_reads() {
        static MODE: AtomicU8 = AtomicU8::new(PANICS);
        let batched = Batched::<Faulty>::new(conns());
        let mut asks = tokio::task::JoinSet::new();
        for n in 0..50u64 {
            let batched = Arc::clone(&batched);
            asks.spawn(async move { batched.ask((n, &MODE)).await });
        }
        let waited = tokio::time::timeout(Duration::from_secs(5), async {
            while let Some(done) = asks.join_next().await {
                assert!(done.unwrap().is_err(), "unanswered");
            }
        })
        .await;
        assert!(waited.is_ok(), "requests left waiting");
        MODE.store(ANSWERS, Ordering::SeqCst);
        assert_eq!(batched.ask((7, &MODE)).await.unwrap(), Some(7));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_batch_leaves_its_asks_to_read_alone_and_cut_off_asks_harm_nobody() {
        static MODE: AtomicU8 = AtomicU8::new(FAILS);
        let batched = Batched::<Faulty>::new(conns());
        let mut asks = tokio::task::JoinSet::new();
        for n in 0..50u64 {
            let batched = Arc::clone(&batched);
            asks.spawn(async move { batched.ask((n, &MODE)).await });
        }
        while let Some(done) = asks.join_next().await {
            assert!(done.unwrap().is_err(), "unanswered");
        }

        MODE.store(ANSWERS, Ordering::SeqCst);
        let mut asks = tokio::task::JoinSet::new();
        let mut cut = Vec::new();
        for n in 0..50u64 {
            let batched = Arc::clone(&batched);
            let task = async move { (n, batched.ask((n, &MODE)).await.unwrap()) };
            if n % 5 == 0 {
                cut.push(tokio::spawn(task));
            } else {
                asks.spawn(task);
            }
        }
        for task in cut {
            task.abort();
        }
        while let Some(done) = asks.join_next().await {
            let (n, answer) = done.unwrap();
            assert_eq!(answer, Some(n));
        }
    }
}
