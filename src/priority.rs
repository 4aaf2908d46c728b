//! Thread priorities: the store's single writer runs ahead of everything that feeds it.
//!
//! Ingest is bounded by one thread, the SQLite writer; everything else (receiving, decoding,
//! flattening) can use the other cores. When the machine is busy, the kernel's fair share gave
//! the writer no more than any receiving thread: on 2 cores it spent a quarter of the run waiting
//! for a core while runnable (`/proc/<tid>/schedstat`, 300,000 spans over 16 connections), and
//! the box stored 204k-234k spans/s. With `otelbox up`'s other threads at nice +10 it waited a
//! third as long and stored 245k-255k (alternating runs). Those threads still get every cycle
//! the writer leaves, and the programs a box observes get ahead of its receivers, not behind them.
//!
//! A box whose pipelines do not store keeps its runtime at its own priority (`cli::up`).
//!
//! The store's read threads keep the writer's priority (`store::readers`): queries stay quick
//! while receiving is saturated.
//!
//! An unprivileged process can raise its threads' nice value, never lower it: the writer and the
//! readers keep the process's own priority because they are started from a thread that was never
//! lowered (the thread opening the store, `app::run` on the main thread), and each thread lowers
//! only itself.

/// How much lower than the process the threads that feed the writer run: in alternating runs +5
/// stored 220k-254k spans/s against +10's 245k-255k, and +19 no more than +10.
const FEEDER_NICE_INCREMENT: i32 = 10;

/// For the threads that feed the writer: a function that sets the thread running it to
/// `FEEDER_NICE_INCREMENT` below the thread calling this one (which starts the writer). A value,
/// not an increment: a thread started by an already lowered thread inherits its priority, and
/// lowering it again would take it to the bottom. For the runtime's threads
/// (`tokio::runtime::Builder::on_thread_start`) and the helper threads the writer starts. Best
/// effort: where the calls fail or do not exist, every thread keeps the process's priority.
pub fn below_this_thread() -> impl Fn() + Send + Sync + 'static {
    let target = own_nice().map(|nice| (nice + FEEDER_NICE_INCREMENT).min(19));
    move || {
        if let Some(target) = target {
            set_own_nice(target);
        }
    }
}

/// The calling thread's nice value (Linux applies PRIO_PROCESS to the thread whose id it names).
#[cfg(target_os = "linux")]
fn own_nice() -> Option<i32> {
    // SAFETY: getpriority reads the scheduling priority of the calling thread; errno is this
    // thread's own.
    unsafe {
        // -1 is also a valid priority: clear errno to tell it from a failure.
        *libc::__errno_location() = 0;
        let nice = libc::getpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t);
        (nice != -1 || *libc::__errno_location() == 0).then_some(nice)
    }
}

#[cfg(not(target_os = "linux"))]
fn own_nice() -> Option<i32> {
    None
}

/// Raise (never lower: that needs privileges) the calling thread's nice value to `nice`.
#[cfg(target_os = "linux")]
fn set_own_nice(nice: i32) {
    if own_nice().is_some_and(|current| current < nice) {
        // SAFETY: sets the scheduling priority of the calling thread only.
        unsafe {
            let _ = libc::setpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t, nice);
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn set_own_nice(_: i32) {}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn feeder_threads_run_below_the_starting_thread_and_leave_it_alone() {
        let starter = own_nice().unwrap();
        let lower = std::sync::Arc::new(below_this_thread());
        let expected = (starter + FEEDER_NICE_INCREMENT).min(19);
        let feeder = {
            let lower = lower.clone();
            std::thread::spawn(move || {
                lower();
                // A thread the lowered one starts inherits its priority; lowering it again keeps
                // it at the same level, not twice as low.
                let inherited = std::thread::spawn(move || {
                    lower();
                    own_nice().unwrap()
                })
                .join()
                .unwrap();
                (own_nice().unwrap(), inherited)
            })
            .join()
            .unwrap()
        };
        assert_eq!(feeder, (expected, expected));
        assert_eq!(own_nice(), Some(starter), "only the threads running it are lowered");
    }
}
