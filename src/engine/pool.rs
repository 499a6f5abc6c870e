//! Worker pools for the thread counts callers ask for.
//!
//! A count is first capped at the number of cores (the work is CPU-bound: more workers
//! than cores only take turns). The count of rayon's global pool (all cores, by default)
//! runs there; any other count gets a pool of its own, built once and kept in a small
//! cache of the most recently used ones. A pool pushed out of the cache is dropped when
//! its last user is done, and its threads then end: a process that asks for many
//! different counts keeps at most [`MAX_POOLS`] pools besides the global one.

use std::sync::{Arc, Mutex, OnceLock};

use crate::error::{Error, Result};

/// Most pools kept besides rayon's global pool.
pub(crate) const MAX_POOLS: usize = 4;

/// The number of cores this process may use (at least 1).
pub fn cores() -> usize {
    static CORES: OnceLock<usize> = OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// The workers a `threads` option stands for: 0 = every core, otherwise `threads` capped
/// at the number of cores.
pub fn workers(threads: u32) -> usize {
    match threads {
        0 => rayon::current_num_threads(),
        t => (t as usize).min(cores()),
    }
}

/// Where work for `threads` runs.
pub enum Pool {
    /// On the calling thread.
    Caller,
    /// On rayon's current pool (the global one, or the one the caller already runs in).
    Current,
    /// On a pool of its own.
    Own(Arc<rayon::ThreadPool>),
}

/// Pools built so far, the most recently used last.
static POOLS: Mutex<Vec<(usize, Arc<rayon::ThreadPool>)>> = Mutex::new(Vec::new());

/// The pool for `threads` (see the module notes).
pub fn pool(threads: u32) -> Result<Pool> {
    let n = workers(threads);
    if n <= 1 {
        return Ok(Pool::Caller);
    }
    // Already on a rayon worker of a pool of this size (nested work), or the global pool
    // has it: no pool of its own.
    if threads == 0 || n == rayon::current_num_threads() {
        return Ok(Pool::Current);
    }
    sized(n).map(Pool::Own)
}

/// The pool of `n` workers from the cache, built (and the least recently used one pushed
/// out) if it is not there.
fn sized(n: usize) -> Result<Arc<rayon::ThreadPool>> {
    let mut pools = POOLS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(k) = pools.iter().position(|(m, _)| *m == n) {
        let entry = pools.remove(k);
        let p = entry.1.clone();
        pools.push(entry);
        return Ok(p);
    }
    let p = Arc::new(
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .thread_name(|i| format!("zipnn-{i}"))
            .build()
            .map_err(|_| Error::Alloc)?,
    );
    if pools.len() == MAX_POOLS {
        // Dropped here, or by its last user: its threads end then.
        pools.remove(0);
    }
    pools.push((n, p.clone()));
    Ok(p)
}

impl Pool {
    /// Runs `f` in this pool (`f` may use rayon's parallel iterators).
    pub fn install<R: Send>(&self, f: impl FnOnce() -> R + Send) -> R {
        match self {
            Pool::Caller | Pool::Current => f(),
            Pool::Own(p) => p.install(f),
        }
    }

    /// Whether work runs on the calling thread only.
    pub fn is_caller(&self) -> bool {
        matches!(self, Pool::Caller)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pools_are_few_and_freed() {
        // Many sizes in turn: the cache never holds more than MAX_POOLS, and a pool pushed
        // out is held by nobody else (its threads end when this last handle goes).
        let mut first = sized(3).unwrap();
        assert_eq!(first.current_num_threads(), 3);
        for n in 4..4 + 2 * MAX_POOLS {
            let p = sized(n).unwrap();
            assert_eq!(p.current_num_threads(), n);
            assert!(POOLS.lock().unwrap().len() <= MAX_POOLS);
        }
        assert_eq!(
            Arc::strong_count(&first),
            1,
            "a pushed-out pool is still cached"
        );
        // The most recent pools are shared, not built again.
        let last = 3 + 2 * MAX_POOLS;
        let a = sized(last).unwrap();
        let b = sized(last).unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        // A cached pool used again moves to the back and survives newer ones.
        first = sized(3).unwrap();
        for n in 100..100 + MAX_POOLS - 1 {
            sized(n).unwrap();
        }
        assert!(Arc::ptr_eq(&first, &sized(3).unwrap()));
    }

    #[test]
    fn counts_are_capped_at_the_cores() {
        assert_eq!(workers(1), 1);
        assert_eq!(workers(u32::MAX), cores());
        assert_eq!(workers(0), rayon::current_num_threads());
        assert!(matches!(pool(1).unwrap(), Pool::Caller));
        assert!(matches!(pool(1000).unwrap(), Pool::Current | Pool::Caller));
    }
}
