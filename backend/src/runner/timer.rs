//! A timer with the kernel's precision on an engine thread's own event loop, for the open model's
//! schedule: tokio's timer counts whole milliseconds, which alone would start requests up to a
//! millisecond late, and a thread of its own that sleeps to each arrival costs a context switch
//! and a cross-thread wake-up per request (a fifth of a core at 10,000 arrivals a second).
//!
//! A `timerfd` (monotonic, the clock of [`Instant`]) registered with the engine's reactor: its
//! expiry wakes the engine like a socket would, and the kernel fires it without timer slack.

use std::io;
use std::os::fd::{AsFd as _, AsRawFd, RawFd};
use std::time::Instant;

use nix::sys::time::TimeSpec;
use nix::sys::timerfd::{ClockId, Expiration, TimerFd, TimerFlags, TimerSetTimeFlags};
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

/// One engine thread's precise timer; it must be made on that thread's runtime.
#[derive(Debug)]
pub struct PreciseTimer {
    fd: AsyncFd<Timer>,
    /// When it is set to expire, until its expiry is read: a later wake-up leaves it as it is,
    /// so a busy engine sets it once per expiry, not once per arrival.
    armed: Option<Instant>,
}

/// nix's timer, as tokio's reactor takes it.
#[derive(Debug)]
struct Timer(TimerFd);

impl AsRawFd for Timer {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_fd().as_raw_fd()
    }
}

impl PreciseTimer {
    /// A timer registered with the current runtime's reactor.
    pub fn new() -> io::Result<Self> {
        let timer = TimerFd::new(
            ClockId::CLOCK_MONOTONIC,
            TimerFlags::TFD_NONBLOCK | TimerFlags::TFD_CLOEXEC,
        )?;
        // SAFETY: the `TimerFd` is owned by `Timer`, which only the `AsyncFd` holds and never
        // gives away: its descriptor stays open and the same until the `AsyncFd` is dropped.
        #[expect(
            unsafe_code,
            reason = "tokio's registration of a descriptor it does not own"
        )]
        let registered =
            unsafe { AsyncFd::register_with_interest(Timer(timer), Interest::READABLE) };
        Ok(Self {
            fd: registered.map_err(io::Error::from)?,
            armed: None,
        })
    }

    /// Waits until `when` at the latest (at once if it has passed): until the time it is set
    /// for, which is `when` unless an earlier time was set and has not expired yet.
    pub async fn wake_by(&mut self, when: Instant) -> io::Result<()> {
        let Some(left) = when
            .checked_duration_since(Instant::now())
            .filter(|d| !d.is_zero())
        else {
            return Ok(());
        };
        if self.armed.is_none_or(|armed| armed > when) {
            self.fd.get_ref().0.set(
                Expiration::OneShot(TimeSpec::from_duration(left)),
                TimerSetTimeFlags::empty(),
            )?;
            self.armed = Some(when);
        }
        loop {
            let mut ready = self.fd.readable().await?;
            // Reading the expiry count re-arms readiness; not expired yet is `EAGAIN`.
            if let Ok(read) =
                ready.try_io(|timer| timer.get_ref().0.wait().map_err(io::Error::from))
            {
                self.armed = None;
                return read;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn wakes_at_its_time_never_before_and_at_once_for_a_time_passed() {
        let mut timer = PreciseTimer::new().unwrap();
        for wait in [Duration::from_micros(300), Duration::from_millis(3)] {
            let when = Instant::now() + wait;
            timer.wake_by(when).await.unwrap();
            assert!(Instant::now() >= when, "woke before {wait:?} had passed");
        }
        let past = Instant::now();
        timer.wake_by(past).await.unwrap();
    }

    #[tokio::test]
    async fn an_earlier_time_set_and_left_still_wakes_a_later_wait_at_it() {
        let mut timer = PreciseTimer::new().unwrap();
        let early = Instant::now() + Duration::from_millis(2);
        // Set for `early`, then abandoned (as when a request's claim wins the race).
        tokio::select! {
            _ = timer.wake_by(early) => panic!("woke before its time"),
            () = tokio::task::yield_now() => {}
        }
        let late = early + Duration::from_secs(5);
        timer.wake_by(late).await.unwrap();
        let woke = Instant::now();
        assert!(woke >= early && woke < late, "woke at the earlier time set");
        // Its expiry read, the next wait sets its own time.
        let next = Instant::now() + Duration::from_millis(1);
        timer.wake_by(next).await.unwrap();
        assert!(Instant::now() >= next);
    }
}
