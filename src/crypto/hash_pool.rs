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
