//! When a job fires next: its cron expression read on the wall clock of its time zone.
//!
//! Wall-clock times are walked as if the zone had no transitions, then each is placed on the
//! time line:
//! - a time that exists once is that instant;
//! - a time that exists twice (the repeated hour when clocks go back) fires once, at its first
//!   occurrence; planned during the repeated hour before the wall clock reaches it again (after
//!   the first has passed), it fires at the second;
//! - a time that does not exist (the hour skipped when clocks go forward) fires as far past the
//!   start of the gap as it was written after it: `02:30` on a day that jumps from 02:00 to
//!   03:00 fires at 03:30, so a nightly job is moved, never lost.

use chrono::{DateTime, Duration, LocalResult, NaiveDateTime, Offset, TimeZone, Utc};
use chrono_tz::Tz;

use crate::support::cron::CronExpr;

/// How many wall-clock candidates are looked at before giving up (an expression that names
/// only 30 February never fires).
const CANDIDATES: usize = 1000;

/// The first instant strictly after `after` at which `expr` fires in `tz`, or `None` when it
/// never fires again.
pub fn next_tick(expr: &CronExpr, tz: Tz, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
    // Wall times strictly after `after`'s: one that just fired is not looked at again.
    let wall = Utc.from_utc_datetime(&after.with_timezone(&tz).naive_local());
    expr.schedule()
        .after(&wall)
        .take(CANDIDATES)
        .flat_map(|w| instants(tz, w.naive_utc()))
        .find(|at| *at > after)
}

/// The instants a wall-clock time stands for in `tz`, earliest first.
fn instants(tz: Tz, wall: NaiveDateTime) -> Vec<DateTime<Utc>> {
    match tz.from_local_datetime(&wall) {
        LocalResult::Single(t) => vec![t.to_utc()],
        LocalResult::Ambiguous(first, second) => vec![first.to_utc(), second.to_utc()],
        LocalResult::None => {
            // Read with the offset in force before the gap.
            let before = tz
                .offset_from_utc_datetime(&(wall - Duration::days(1)))
                .fix();
            let utc = wall - Duration::seconds(before.local_minus_utc().into());
            vec![Utc.from_utc_datetime(&utc)]
        }
    }
}
