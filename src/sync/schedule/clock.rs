//! Time as the scheduler sees it: the current instant and a way to wait for a later one.
//!
//! [`SystemClock`] reads the system clock and sleeps on tokio's timer, waking at least once a
//! minute to notice a system clock that jumped (NTP, a suspended machine). [`ManualClock`]
//! only moves when a test moves it, so scheduler tests never sleep.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use tokio::sync::watch;

/// A source of the current time that can wait for an instant.
pub trait Clock: Send + Sync + 'static {
    /// The current instant.
    fn now(&self) -> DateTime<Utc>;

    /// Resolves once [`Clock::now`] has reached `at` (at once when it already has).
    fn sleep_until(&self, at: DateTime<Utc>) -> BoxFuture<'static, ()>;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

/// Longest single sleep of [`SystemClock`] before it looks at the clock again.
const RECHECK: Duration = Duration::from_secs(60);

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    fn sleep_until(&self, at: DateTime<Utc>) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            while let Ok(left) = (at - Utc::now()).to_std() {
                if left.is_zero() {
                    break;
                }
                tokio::time::sleep(left.min(RECHECK)).await;
            }
        })
    }
}

/// A clock that stands still until [`ManualClock::set`] or [`ManualClock::advance`] moves it.
/// Clones share the same time.
#[derive(Debug, Clone)]
pub struct ManualClock {
    now: Arc<watch::Sender<DateTime<Utc>>>,
}

impl ManualClock {
    /// A clock showing `start`.
    pub fn new(start: DateTime<Utc>) -> Self {
        ManualClock {
            now: Arc::new(watch::Sender::new(start)),
        }
    }

    /// Moves the clock to `at` (never backwards) and wakes every sleeper whose instant came.
    pub fn set(&self, at: DateTime<Utc>) {
        self.now.send_if_modified(|now| {
            let later = at > *now;
            if later {
                *now = at;
            }
            later
        });
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        let by = chrono::Duration::from_std(by).unwrap_or(chrono::Duration::MAX);
        self.set(*self.now.borrow() + by);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.borrow()
    }

    fn sleep_until(&self, at: DateTime<Utc>) -> BoxFuture<'static, ()> {
        let mut rx = self.now.subscribe();
        Box::pin(async move {
            // The sender lives as long as any clone of the clock; a dropped clock never wakes.
            if rx.wait_for(|now| *now >= at).await.is_err() {
                futures::future::pending::<()>().await;
            }
        })
    }
}
