//! A clock on tokio's time.

use core::time::Duration;

use tokio::time::Instant;

/// A [`dagfut::Clock`] reading `tokio::time::Instant` from the moment it was made.
///
/// Unlike `std::time::Instant`, tokio's instant follows the runtime's test clock: under
/// `start_paused = true` a run trace shows the virtual times of the timers, to the
/// millisecond, however fast the test really ran.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use dagfut::Clock;
/// use dagfut_tokio::TokioClock;
///
/// # tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().unwrap().block_on(async {
/// let clock = TokioClock::new();
/// tokio::time::sleep(Duration::from_secs(3600)).await; // an hour of paused time: instant
/// assert_eq!(clock.now(), Duration::from_secs(3600));
/// # });
/// ```
#[derive(Debug, Clone, Copy)]
pub struct TokioClock {
    origin: Instant,
}

impl TokioClock {
    /// A clock whose origin is now.
    pub fn new() -> Self {
        TokioClock {
            origin: Instant::now(),
        }
    }
}

impl Default for TokioClock {
    fn default() -> Self {
        Self::new()
    }
}

impl dagfut::Clock for TokioClock {
    fn now(&self) -> Duration {
        self.origin.elapsed()
    }
}
