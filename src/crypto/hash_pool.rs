//! argon2's own threads: one per core, each keeping its block memory between hashes.
//!
//! A hash on tokio's blocking pool allocated (and the kernel zeroed and faulted in) 4 MiB
//! per code, about a tenth of a login's CPU, and up to twice as many hashes ran at once as
//! there are cores, each evicting the others' memory from the caches. Here no more hashes
//! run than there are cores, the rest wait in the queue, and a code's memory is reused.
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::OnceLock;

use argon2::Block;

/// Hashes that need at most this many 1 KiB blocks keep them between runs (a code's
/// 4 MiB); bigger ones (a client secret's 19 MiB, hashed rarely) give theirs back at
/// once, so a process that has checked a secret does not hold its memory.
const KEPT_BLOCKS: usize = 8 * 1024;

type Job = Box<dyn FnOnce(&mut Memory) + Send>;

/// One thread's argon2 memory.
#[derive(Default)]
pub struct Memory {
    kept: Vec<Block>,
}

impl Memory {
    /// Runs `work` on at least `blocks` blocks, the thread's own when they are small enough
    /// to keep. argon2 overwrites every block before reading it, so what a previous hash
    /// left there cannot reach this one.
    pub fn with_blocks<T>(&mut self, blocks: usize, work: impl FnOnce(&mut [Block]) -> T) -> T {
        if blocks > KEPT_BLOCKS {
            return work(&mut vec![Block::default(); blocks]);
        }
        if self.kept.len() < blocks {
            self.kept.resize(blocks, Block::default());
        }
        work(&mut self.kept[..blocks])
    }
}

/// The threads start at the first hash, so a process that never hashes never has them.
pub struct HashPool {
    name: &'static str,
    jobs: OnceLock<flume::Sender<Job>>,
}

impl HashPool {
    pub const fn new(name: &'static str) -> Self {
        Self { name, jobs: OnceLock::new() }
    }

    /// `work`'s result, or None if no hashing thread could run it (none could be started).
    pub async fn run<T: Send + 'static>(&self, work: impl FnOnce(&mut Memory) -> T + Send + 'static) -> Option<T> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |memory| {
            // The caller may have gone (its request was cancelled); nothing to tell then.
            let _ = reply.send(work(memory));
        });
        self.jobs.get_or_init(|| self.start()).send(job).ok()?;
        answer.await.ok()
    }

    fn start(&self) -> flume::Sender<Job> {
        let (jobs, queue) = flume::unbounded::<Job>();
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
        for i in 0..threads {
            let queue = queue.clone();
            let spawned = std::thread::Builder::new().name(format!("{}-{i}", self.name)).spawn(move || {
                yield_to_other_threads();
                let mut memory = Memory::default();
                // Ends when the pool is dropped (the sender with it) and the queue is empty.
                while let Ok(job) = queue.recv() {
                    // A panicking hash drops its reply, so its caller gets an error; the
                    // thread keeps serving, with fresh memory.
                    if catch_unwind(AssertUnwindSafe(|| job(&mut memory))).is_err() {
                        memory = Memory::default();
                    }
                }
            });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "could not start an argon2 thread");
            }
        }
        jobs
    }
}

/// A hashing thread's nice value; request threads keep the default, 0. A request thread
/// woken while hashes occupy every core (a statement came back, a delivery answered)
/// then runs at once instead of after the hash's time slice, so one login's hash no
/// longer stretches the other logins' steps: 10 logins at a time went from 213 to 238 a
/// second, in the same run (bench/README.md). A flood of identify requests, each costing
/// a hash, also slows the proxy and token refreshes less. Against a busy thread of
/// default priority a hash still gets about a tenth of a core.
const HASH_NICENESS: i32 = 10;

/// Lowers the calling thread's priority (Linux nice values are per thread).
#[cfg(target_os = "linux")]
fn yield_to_other_threads() {
    // SAFETY: setpriority has no memory effects; gettid names this thread.
    let tid = unsafe { libc::gettid() };
    if unsafe { libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, HASH_NICENESS) } != 0 {
        tracing::debug!(error = %std::io::Error::last_os_error(), "could not lower an argon2 thread's priority");
    }
}

#[cfg(not(target_os = "linux"))]
fn yield_to_other_threads() {}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_run_below_the_request_threads_priority() {
        static POOL: HashPool = HashPool::new("test-argon2");
        // SAFETY: getpriority reads this thread's nice value; it has no memory effects.
        let nice = || unsafe { libc::getpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t) };
        let here = nice();
        assert_eq!(POOL.run(move |_| nice()).await, Some(HASH_NICENESS));
        assert_eq!(nice(), here, "the caller's thread is left as it was");
    }
}
