//! Hot reads asked at the same time, answered together (`docs/batched-reads.md`):
//! on PostgreSQL by one query, on SQLite in one read transaction.
//!
//! Every query costs PostgreSQL a fixed share, whatever it reads (parsing the
//! messages, a snapshot, waking its backend and then the server's worker: about as
//! much as the token lookup itself), and on two shared cores that share is what
//! bearer tokens and introspection were bound by. Here each kind of read has at most
//! [`LANES`] queries running (one); a request that comes while it runs waits, and
//! when it ends everything waiting is asked in the next query, over arrays
//! (`unnest(…) WITH ORDINALITY`), whose rows say which request they answer. On
//! SQLite each read transaction locks a WAL read mark, with two `fcntl`s under a
//! mutex the process's connections share; [`InOneRead`] runs the waiting requests'
//! queries in one transaction instead, with one queue per runtime worker, so that a
//! batch's answers do not have to wake the other worker (its cores were 9–11 % idle
//! under introspection at 64 connections with one queue, 5–6 % with one per worker).
//!
//! A request's read still starts after the request arrived, and the batch runs in one
//! snapshot taken then: a revocation committed before the request is seen, as by a
//! query of its own. The lanes run as tasks of their own, so a request cut off while
//! its batch runs leaves the others' answers alone. A batch that fails answers
//! nobody: each of its requests then reads alone, and fails (or not) on its own.

use super::read::{Cursor, Readers, Value, thread_number};
use crate::error::Result;
use std::future::Future;
use std::marker::PhantomData;
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

/// A kind of read that can be asked for many requests at once.
pub(crate) trait BatchRead: Send + Sync + 'static {
    /// Where it reads: PostgreSQL's connections or SQLite's readers.
    type Source: Send + Sync + 'static;
    /// What one request asks.
    type Ask: Send + 'static;
    /// What it is answered, when something is found.
    type Answer: Send + 'static;
    /// Whether the lane lets its worker's other ready requests ask before it takes a
    /// batch: a read that blocks its thread (SQLite's) gathers nothing while it runs.
    /// Such reads also keep one queue per worker ([`Batched::new`]).
    const GATHER: bool = false;

    /// The answers found for `asked`, each with the index of its ask.
    fn read(
        source: &Self::Source,
        asked: &[Self::Ask],
    ) -> impl Future<Output = Result<Vec<(usize, Self::Answer)>>> + Send;
}

/// A read of one row by a request's own arguments: what a request reads alone, and
/// what SQLite reads per ask in a batch's one read transaction ([`InOneRead`]).
pub(crate) trait PointRead: Send + Sync + 'static {
    type Ask: Send + 'static;
    type Answer: Send + 'static;

    /// The query, whose `$1`, `$2`… are [`PointRead::args`].
    fn sql() -> &'static str;
    fn args(ask: &Self::Ask) -> Vec<Value>;
    /// Its first row.
    fn decode(row: &mut Cursor<'_>) -> Result<Self::Answer>;
}

/// A [`PointRead`] asked together on SQLite: each ask's query, in one read
/// transaction begun after all of them were asked. Every read transaction locks a
/// WAL read mark (a `fcntl` to take it and one to give it back, under a mutex every
/// connection of the process shares); a batch takes it once.
pub(crate) struct InOneRead<P>(PhantomData<P>);

impl<P: PointRead> BatchRead for InOneRead<P> {
    type Source = Readers;
    type Ask = P::Ask;
    type Answer = P::Answer;
    const GATHER: bool = true;

    fn read(
        readers: &Readers,
        asked: &[P::Ask],
    ) -> impl Future<Output = Result<Vec<(usize, P::Answer)>>> + Send {
        std::future::ready(readers.each_in_one_read(P::sql(), asked, P::args, P::decode))
    }
}

type Reply<A> = oneshot::Sender<Option<A>>;

struct Queue<B: BatchRead> {
    asked: Vec<(B::Ask, Reply<B::Answer>)>,
    running: usize,
}

/// The requests waiting for one kind of read, and its lanes: one queue, or with
/// [`BatchRead::GATHER`] one per core, as many as the runtime has workers by default
/// (see [`Batched::queue`]).
pub(crate) struct Batched<B: BatchRead> {
    source: Arc<B::Source>,
    queues: Box<[Mutex<Queue<B>>]>,
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
    pub fn new(source: Arc<B::Source>) -> Arc<Self> {
        let queues = if B::GATHER {
            std::thread::available_parallelism().map_or(1, usize::from)
        } else {
            1
        };
        Arc::new(Self {
            source,
            queues: (0..queues)
                .map(|_| {
                    Mutex::new(Queue {
                        asked: Vec::new(),
                        running: 0,
                    })
                })
                .collect(),
        })
    }

    /// The queue of the thread asking. A lane is spawned on the thread that starts
    /// it, so with one queue per worker a batch is read, and its requests answered,
    /// mostly on their own worker: no answer has to wake the other one.
    fn queue(&self, index: usize) -> std::sync::MutexGuard<'_, Queue<B>> {
        self.queues[index % self.queues.len()]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// What a read of `ask` finds (`None`: nothing), read with whatever else is asked
    /// at the time.
    pub async fn ask(
        self: &Arc<Self>,
        ask: B::Ask,
    ) -> std::result::Result<Option<B::Answer>, Unanswered> {
        let (reply, answer) = oneshot::channel();
        let index = thread_number();
        let start = {
            let mut queue = self.queue(index);
            queue.asked.push((ask, reply));
            let free = queue.running < LANES;
            queue.running += usize::from(free);
            free
        };
        if start {
            tokio::spawn(Arc::clone(self).lane(index));
        }
        answer.await.map_err(|_| Unanswered)
    }

    /// Reads batches while requests wait.
    async fn lane(self: Arc<Self>, index: usize) {
        let mut lane = Lane {
            batched: &self,
            index,
            ended: false,
        };
        loop {
            if B::GATHER {
                tokio::task::yield_now().await;
            }
            let batch: Vec<_> = {
                let mut queue = self.queue(index);
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
            match B::read(&self.source, &asked).await {
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
    index: usize,
    ended: bool,
}

impl<B: BatchRead> Drop for Lane<'_, B> {
    fn drop(&mut self) {
        if !self.ended {
            let mut queue = self.batched.queue(self.index);
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
    use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
    use std::time::Duration;

    static READS: AtomicUsize = AtomicUsize::new(0);
    static RUNNING: AtomicUsize = AtomicUsize::new(0);
    static MOST_RUNNING: AtomicUsize = AtomicUsize::new(0);

    /// Doubles every even number asked and finds nothing for odd ones, slowly, so that
    /// requests wait for a lane.
    struct Doubles;

    impl BatchRead for Doubles {
        type Source = ();
        type Ask = u64;
        type Answer = u64;

        async fn read(_: &(), asked: &[u64]) -> Result<Vec<(usize, u64)>> {
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
        let batched = Batched::<Doubles>::new(Arc::new(()));
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
        let queue = batched.queue(0);
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
        type Source = ();
        type Ask = (u64, &'static AtomicU8);
        type Answer = u64;

        async fn read(_: &(), asked: &[Self::Ask]) -> Result<Vec<(usize, u64)>> {
            tokio::time::sleep(Duration::from_millis(5)).await;
            match asked.first().map(|(_, mode)| mode.load(Ordering::SeqCst)) {
                Some(FAILS) => return Err(Error::Internal("the database went away".into())),
                Some(PANICS) => panic!("a read panicked"),
                _ => {}
            }
            Ok(asked.iter().map(|(n, _)| *n).enumerate().collect())
        }
    }

    /// Fifty asks at once, each of which must come back unanswered, none left waiting.
    async fn fifty_unanswered(batched: &Arc<Batched<Faulty>>, mode: &'static AtomicU8) {
        let mut asks = tokio::task::JoinSet::new();
        for n in 0..50u64 {
            let batched = Arc::clone(batched);
            asks.spawn(async move { batched.ask((n, mode)).await });
        }
        let waited = tokio::time::timeout(Duration::from_secs(5), async {
            while let Some(done) = asks.join_next().await {
                assert!(done.unwrap().is_err(), "unanswered");
            }
        })
        .await;
        assert!(waited.is_ok(), "requests left waiting");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_lane_that_panics_leaves_no_request_waiting_and_the_next_ask_reads() {
        static MODE: AtomicU8 = AtomicU8::new(PANICS);
        let batched = Batched::<Faulty>::new(Arc::new(()));
        fifty_unanswered(&batched, &MODE).await;
        MODE.store(ANSWERS, Ordering::SeqCst);
        assert_eq!(batched.ask((7, &MODE)).await.unwrap(), Some(7));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_batch_leaves_its_asks_to_read_alone_and_cut_off_asks_harm_nobody() {
        static MODE: AtomicU8 = AtomicU8::new(FAILS);
        let batched = Batched::<Faulty>::new(Arc::new(()));
        fifty_unanswered(&batched, &MODE).await;

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

    /// A number kept under a key; a negative one fails to decode.
    struct Numbers;

    impl PointRead for Numbers {
        type Ask = String;
        type Answer = i64;

        fn sql() -> &'static str {
            "SELECT v FROM t WHERE k = $1"
        }

        fn args(key: &String) -> Vec<Value> {
            vec![key.as_str().into()]
        }

        fn decode(row: &mut Cursor<'_>) -> Result<i64> {
            match row.int()? {
                v if v < 0 => Err(Error::Internal(format!("negative {v}"))),
                v => Ok(v),
            }
        }
    }

    /// A database of `t (k, v)` with every third `k` of 0..300, and its batches.
    fn numbers(
        name: &str,
    ) -> (
        std::path::PathBuf,
        rusqlite::Connection,
        Arc<Batched<InOneRead<Numbers>>>,
    ) {
        let dir = std::env::temp_dir().join(format!("uc-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.db");
        let writer = rusqlite::Connection::open(&path).unwrap();
        writer
            .execute_batch(
                "PRAGMA journal_mode = WAL; CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER);",
            )
            .unwrap();
        for n in (0..300).step_by(3) {
            writer
                .execute("INSERT INTO t VALUES (?1, ?2)", (n.to_string(), n * 10))
                .unwrap();
        }
        let batched = Batched::<InOneRead<Numbers>>::new(Arc::new(Readers::new(path)));
        (dir, writer, batched)
    }

    /// 300 asks at once, from whichever workers run them; each gets its own row.
    async fn each_ask_answered(batched: &Arc<Batched<InOneRead<Numbers>>>) {
        let mut asks = tokio::task::JoinSet::new();
        for n in 0..300i64 {
            let batched = Arc::clone(batched);
            asks.spawn(async move { (n, batched.ask(n.to_string()).await.unwrap()) });
        }
        while let Some(done) = asks.join_next().await {
            let (n, answer) = done.unwrap();
            assert_eq!(answer, (n % 3 == 0).then_some(n * 10), "ask {n}");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 5)]
    async fn sqlite_batches_answer_asks_from_more_workers_than_queues() {
        // Five workers and one queue per core: some workers share a queue.
        let (dir, _writer, batched) = numbers("more-workers");
        each_ask_answered(&batched).await;
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite_batches_answer_each_ask_and_each_reads_what_was_committed_before_it() {
        let (dir, writer, batched) = numbers("in-one-read");
        each_ask_answered(&batched).await;

        // A batch that fails (one row does not decode) answers none of its asks, and
        // leaves no snapshot behind: each later ask sees the commits made before it.
        writer
            .execute("UPDATE t SET v = -1 WHERE k = '3'", [])
            .unwrap();
        assert!(batched.ask("3".into()).await.is_err());
        for v in [7, 8] {
            writer
                .execute("UPDATE t SET v = ?1 WHERE k = '3'", [v])
                .unwrap();
            assert_eq!(batched.ask("3".into()).await.unwrap(), Some(v));
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
