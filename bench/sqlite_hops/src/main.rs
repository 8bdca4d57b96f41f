//! What a SQLite statement costs doorman's process, by how it reaches SQLite (issue 14:
//! the login overhead is thread hops, not SQL). Ten tasks run "steps" concurrently, as
//! ten conversations log in: a step is 5 point reads and 4 upserts with RETURNING, the
//! shape of an identify or a verify. Each way of running them is a mode:
//!
//! - `sqlx`: every statement on its own through sqlx's pools (one writing connection,
//!   four read-only ones, no ping on checkout), as doorman's store runs them today:
//!   each is a checkout, a hop to the connection's thread and back, and a release.
//! - `sqlx-tx`: the step as one sqlx transaction on the writing connection: one
//!   checkout, but still a hop per statement (and two more for BEGIN and COMMIT).
//! - `inline`: the step as one closure with rusqlite on the async worker that runs the
//!   task, under a mutex: no hop at all, the worker blocks for the step's SQL.
//! - `thread`: the step as one closure with rusqlite on one dedicated SQLite thread:
//!   one hop per step, whatever its statement count.
//!
//! Prints, per mode: steps per second, the process's CPU per statement (getrusage,
//! user + system, every thread) and context switches per statement. The modes run in
//! ROUNDS interleaved rounds, each on a fresh database file; the table gives medians.
//! Usage: sqlite-hops [ROUNDS] [MODE ...]   (from bench/sqlite_hops.sh)
use std::sync::{Arc, Mutex};
use std::time::Instant;

use rusqlite::OptionalExtension;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Executor, Sqlite};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const TASKS: usize = 10;
const STEPS_PER_TASK: usize = 300;
const KEYS: usize = 2000;
/// A step's statements in order, `true` for a write: 5 reads and 4 upserts, alternating
/// as a step checks something, then records it.
const STEP: [bool; 9] = [false, true, false, true, false, true, false, true, false];
const STATEMENTS: usize = TASKS * STEPS_PER_TASK * STEP.len();
const MODES: [&str; 4] = ["sqlx", "sqlx-tx", "inline", "thread"];

const SETUP: &str = "CREATE TABLE IF NOT EXISTS kv (k INTEGER PRIMARY KEY, v INTEGER NOT NULL, t INTEGER NOT NULL)";
const READ: &str = "SELECT v, t FROM kv WHERE k = ?1";
const WRITE: &str =
    "INSERT INTO kv (k, v, t) VALUES (?1, 1, ?2) ON CONFLICT (k) DO UPDATE SET v = v + 1, t = ?2 RETURNING v";

/// The key of a task's step: spread over the table, the same in every mode.
fn key(task: usize, step: usize) -> i64 {
    ((task * 7919 + step * 31) % KEYS) as i64
}

struct Usage {
    cpu_s: f64,
    switches: i64,
}

fn usage() -> Usage {
    // SAFETY: getrusage fills the struct it is given; zeroed is a valid rusage.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let secs = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    Usage { cpu_s: secs(u.ru_utime) + secs(u.ru_stime), switches: u.ru_nvcsw + u.ru_nivcsw }
}

struct Measured {
    steps_per_s: f64,
    cpu_us_per_statement: f64,
    switches_per_statement: f64,
}

async fn sqlx_pools(path: &str) -> (SqlitePool, SqlitePool) {
    let options = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal);
    // As `store::connect` opens them: one writing connection kept open, four readers.
    let pool = |max| SqlitePoolOptions::new().max_connections(max).test_before_acquire(false);
    let writer = pool(1).min_connections(1).connect_with(options.clone()).await.expect("writer");
    sqlx::query(SETUP).execute(&writer).await.expect("schema");
    let reader = pool(4).connect_with(options.read_only(true)).await.expect("reader");
    (writer, reader)
}

/// Statement `i` of a step at `key`, a write or a read, through any sqlx executor (a pool
/// or a transaction).
async fn sqlx_statement<'e>(on: impl Executor<'e, Database = Sqlite>, key: i64, (i, write): (usize, bool)) {
    let k = key + i as i64;
    if write {
        let _: (i64,) = sqlx::query_as(WRITE).bind(k).bind(i as i64).fetch_one(on).await.expect("write");
    } else {
        let _: Option<(i64, i64)> = sqlx::query_as(READ).bind(k).fetch_optional(on).await.expect("read");
    }
}

async fn sqlx_step(writer: &SqlitePool, reader: &SqlitePool, key: i64) {
    for (i, &write) in STEP.iter().enumerate() {
        sqlx_statement(if write { writer } else { reader }, key, (i, write)).await;
    }
}

async fn sqlx_tx_step(writer: &SqlitePool, key: i64) {
    let mut tx = writer.begin().await.expect("begin");
    for (i, &write) in STEP.iter().enumerate() {
        sqlx_statement(&mut *tx, key, (i, write)).await;
    }
    tx.commit().await.expect("commit");
}

fn rusqlite_open(path: &str) -> rusqlite::Connection {
    let conn = rusqlite::Connection::open(path).expect("open");
    conn.pragma_update(None, "journal_mode", "WAL").expect("wal");
    conn.pragma_update(None, "synchronous", "NORMAL").expect("synchronous");
    conn.execute(SETUP, []).expect("schema");
    conn
}

fn rusqlite_step(conn: &rusqlite::Connection, key: i64) {
    for (i, &write) in STEP.iter().enumerate() {
        let k = key + i as i64;
        if write {
            let mut s = conn.prepare_cached(WRITE).expect("prepare");
            let _: i64 = s.query_row([k, i as i64], |r| r.get(0)).expect("write");
        } else {
            let mut s = conn.prepare_cached(READ).expect("prepare");
            let _: Option<(i64, i64)> = s.query_row([k], |r| Ok((r.get(0)?, r.get(1)?))).optional().expect("read");
        }
    }
}

/// Runs `step(task, step)` for every task concurrently and measures the whole.
async fn measure<F, Fut>(step: F) -> Measured
where
    F: Fn(usize, usize) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let (start, before) = (Instant::now(), usage());
    let mut tasks = tokio::task::JoinSet::new();
    for task in 0..TASKS {
        let step = step.clone();
        tasks.spawn(async move {
            for s in 0..STEPS_PER_TASK {
                step(task, s).await;
            }
        });
    }
    tasks.join_all().await;
    let (wall, after) = (start.elapsed().as_secs_f64(), usage());
    Measured {
        steps_per_s: (TASKS * STEPS_PER_TASK) as f64 / wall,
        cpu_us_per_statement: (after.cpu_s - before.cpu_s) * 1e6 / STATEMENTS as f64,
        switches_per_statement: (after.switches - before.switches) as f64 / STATEMENTS as f64,
    }
}

async fn run(mode: &str, path: &str) -> Measured {
    match mode {
        "sqlx" => {
            let (writer, reader) = sqlx_pools(path).await;
            measure(move |t, s| {
                let (writer, reader) = (writer.clone(), reader.clone());
                async move { sqlx_step(&writer, &reader, key(t, s)).await }
            })
            .await
        }
        "sqlx-tx" => {
            let (writer, _reader) = sqlx_pools(path).await;
            measure(move |t, s| {
                let writer = writer.clone();
                async move { sqlx_tx_step(&writer, key(t, s)).await }
            })
            .await
        }
        "inline" => {
            let conn = Arc::new(Mutex::new(rusqlite_open(path)));
            measure(move |t, s| {
                let conn = conn.clone();
                async move {
                    rusqlite_step(&conn.lock().expect("lock"), key(t, s));
                    // As a request would between steps: let the other tasks run.
                    tokio::task::yield_now().await;
                }
            })
            .await
        }
        "thread" => {
            type Job = (i64, tokio::sync::oneshot::Sender<()>);
            let (jobs, queue) = std::sync::mpsc::channel::<Job>();
            let conn = rusqlite_open(path);
            let worker = std::thread::spawn(move || {
                while let Ok((key, done)) = queue.recv() {
                    rusqlite_step(&conn, key);
                    let _ = done.send(());
                }
            });
            let measured = measure(move |t, s| {
                let jobs = jobs.clone();
                async move {
                    let (done, finished) = tokio::sync::oneshot::channel();
                    jobs.send((key(t, s), done)).expect("the SQLite thread is gone");
                    finished.await.expect("the SQLite thread dropped a step");
                }
            })
            .await;
            worker.join().expect("the SQLite thread panicked");
            measured
        }
        other => panic!("unknown mode `{other}`: one of {MODES:?}"),
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    let mut args = std::env::args().skip(1);
    let rounds: usize = args.next().map_or(3, |r| r.parse().expect("ROUNDS is a number"));
    let modes: Vec<String> = args.collect();
    let modes: Vec<&str> = if modes.is_empty() { MODES.to_vec() } else { modes.iter().map(String::as_str).collect() };
    let dir = std::env::temp_dir().join(format!("sqlite-hops-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    let mut results: Vec<Vec<Measured>> = modes.iter().map(|_| Vec::new()).collect();
    for round in 0..rounds {
        for (m, mode) in modes.iter().enumerate() {
            let path = dir.join(format!("{mode}-{round}.db"));
            let measured = runtime.block_on(run(mode, path.to_str().expect("utf-8 path")));
            eprintln!(
                "round {}: {mode:<8} {:>7.0} steps/s  {:>6.1} us CPU/statement",
                round + 1,
                measured.steps_per_s,
                measured.cpu_us_per_statement
            );
            results[m].push(measured);
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    println!("{TASKS} tasks x {STEPS_PER_TASK} steps of 5 reads + 4 upserts; medians of {rounds} interleaved round(s)");
    println!("{:<9} {:>10} {:>20} {:>24}", "mode", "steps/s", "CPU us/statement", "ctx switches/statement");
    for (mode, measured) in modes.iter().zip(results) {
        let col = |f: fn(&Measured) -> f64| median(measured.iter().map(f).collect());
        println!(
            "{mode:<9} {:>10.0} {:>20.1} {:>24.2}",
            col(|m| m.steps_per_s),
            col(|m| m.cpu_us_per_statement),
            col(|m| m.switches_per_statement)
        );
    }
}
