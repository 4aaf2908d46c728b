//! Thread priorities: the store's single writer runs ahead of everything that feeds it.
//!
//! Ingest is bounded by one thread, the SQLite writer; everything else (receiving, decoding,
//! flattening, the API) can use the other cores. When the machine is busy, the kernel's fair
//! share gave the writer no more than any receiving thread: on 2 cores it spent a quarter of the
//! run waiting for a core while runnable (`/proc/<tid>/schedstat`, 300,000 spans over 16
//! connections), and stored 204k-234k spans/s. With the other threads of the server at nice +10
//! it waits a third as long and stores 245k-255k (`scripts/bench ingest`, see the README). Those
//! threads still get every cycle the writer leaves, and the programs a box observes get ahead
//! of its receivers, not behind them.
//!
//! The store's read threads keep the process's priority too (`store::readers`): queries stay
//! quick while receiving is saturated.
//!
//! An unprivileged process can raise its threads' nice value, never lower it: the writer and the
//! readers keep the process's own priority because they are started from a thread that was never
//! lowered (the thread opening the store), and each thread lowers only itself.

/// How much lower than the process the threads that feed the writer run: nice +5 did less (the
/// writer still waited for a core about half as long as without), +10 as well as any.
const FEEDER_NICE_INCREMENT: i32 = 10;

/// Lower the calling thread's priority below the writer's: for the runtime's threads
/// (`tokio::runtime::Builder::on_thread_start`) and any helper thread the writer starts. Best
/// effort: where the call fails or does not exist, every thread keeps the process's priority.
pub fn yield_to_writer() {
    #[cfg(target_os = "linux")]
    // SAFETY: getpriority and setpriority only read and set the scheduling priority of the thread
    // whose id is passed, here the calling thread's own (Linux applies PRIO_PROCESS to one thread).
    unsafe {
        let tid = libc::gettid() as libc::id_t;
        // -1 is also a valid priority: clear errno to tell it from a failure.
        *libc::__errno_location() = 0;
        let current = libc::getpriority(libc::PRIO_PROCESS, tid);
        if current == -1 && *libc::__errno_location() != 0 {
            return;
        }
        let _ = libc::setpriority(libc::PRIO_PROCESS, tid, (current + FEEDER_NICE_INCREMENT).min(19));
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    fn own_nice() -> i32 {
        // SAFETY: reads the calling thread's own priority.
        unsafe { libc::getpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t) }
    }

    #[test]
    fn a_feeder_thread_runs_below_the_thread_that_started_it_and_leaves_it_alone() {
        let starter = own_nice();
        let feeder = std::thread::spawn(|| {
            yield_to_writer();
            own_nice()
        })
        .join()
        .unwrap();
        assert_eq!(feeder, (starter + FEEDER_NICE_INCREMENT).min(19));
        assert_eq!(own_nice(), starter, "only the calling thread is lowered");
    }
}
