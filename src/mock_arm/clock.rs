//! The mock's clock: virtual (moves only when told) or real time plus any advances.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// How the mock's clock runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ClockMode {
    /// Time stands still until advanced (tests).
    #[default]
    Virtual,
    /// Time follows the wall clock; advances add to it (demo).
    RealTime,
    /// Time follows the tokio runtime's clock; advances add to it. Under a paused runtime that
    /// clock is virtual and jumps to the next timer whenever every task waits (`bench reconcile`
    /// runs the mock, the client budget and the operator's sleeps on one such clock).
    Runtime,
}

/// Virtual clock. `elapsed()` is time since the epoch the clock started at.
#[derive(Debug)]
pub struct Clock {
    mode: ClockMode,
    epoch: OffsetDateTime,
    offset: Duration,
    started: Instant,
    runtime_started: tokio::time::Instant,
}

/// Where a virtual clock starts: a fixed instant, so runs are reproducible.
const VIRTUAL_EPOCH: i64 = 1_735_689_600; // 2025-01-01T00:00:00Z

impl Clock {
    /// A clock whose virtual time starts at `start` (default 2025-01-01T00:00:00Z); a real-time
    /// clock starts now whatever `start` says; a runtime clock at `start`, else now.
    pub fn starting(mode: ClockMode, start: Option<OffsetDateTime>) -> Self {
        let epoch = match mode {
            ClockMode::Virtual => start.unwrap_or_else(|| {
                OffsetDateTime::from_unix_timestamp(VIRTUAL_EPOCH)
                    .unwrap_or(OffsetDateTime::UNIX_EPOCH)
            }),
            ClockMode::RealTime => OffsetDateTime::now_utc(),
            ClockMode::Runtime => start.unwrap_or_else(OffsetDateTime::now_utc),
        };
        Self {
            mode,
            epoch,
            offset: Duration::ZERO,
            started: Instant::now(),
            runtime_started: tokio::time::Instant::now(),
        }
    }

    /// Time since the clock's epoch.
    pub fn elapsed(&self) -> Duration {
        match self.mode {
            ClockMode::Virtual => self.offset,
            ClockMode::RealTime => self.offset + self.started.elapsed(),
            ClockMode::Runtime => self.offset + self.runtime_started.elapsed(),
        }
    }

    /// The current instant.
    pub fn now(&self) -> OffsetDateTime {
        self.at(self.elapsed())
    }

    /// The instant `elapsed` after the epoch.
    pub fn at(&self, elapsed: Duration) -> OffsetDateTime {
        self.epoch + elapsed
    }

    pub fn advance(&mut self, by: Duration) {
        self.offset += by;
    }
}

/// RFC 3339 with a `Z`, as ARM writes timestamps.
pub fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn virtual_clock_stands_still_until_advanced() {
        let mut c = Clock::starting(ClockMode::Virtual, None);
        let t0 = c.now();
        assert_eq!(c.elapsed(), Duration::ZERO);
        assert_eq!(rfc3339(t0), "2025-01-01T00:00:00Z");
        c.advance(Duration::from_secs(90));
        assert_eq!(c.elapsed(), Duration::from_secs(90));
        assert_eq!(rfc3339(c.now()), "2025-01-01T00:01:30Z");
    }

    #[test]
    fn real_time_clock_adds_advances() {
        let mut c = Clock::starting(ClockMode::RealTime, None);
        c.advance(Duration::from_secs(3600));
        assert!(c.elapsed() >= Duration::from_secs(3600));
    }
}
