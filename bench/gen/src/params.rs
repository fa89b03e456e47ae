//! The knobs of a generated network, with defaults scaled from the number of events.

use crate::GenError;

/// 2026-01-01T00:00:00Z in µs: the default end of the generated period. Fixed, so the stream
/// never depends on the clock of the machine that generates it.
pub const DEFAULT_END_US: i64 = 1_767_225_600_000_000;

/// One (365-day) year in µs: the default length of the generated period.
pub const YEAR_US: i64 = 365 * 86_400 * 1_000_000;

/// The latest end the TID encoding (53-bit µs timestamps) can represent.
const MAX_END_US: i64 = (1 << 53) - 1;

/// What to generate. Same parameters, same bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkParams {
    /// Seeds every random choice.
    pub seed: u64,
    /// Number of events (lines) in the stream.
    pub events: usize,
    /// Accounts that publish tracks (they also like, comment and make lists).
    pub artists: usize,
    /// Accounts that mostly like and comment.
    pub listeners: usize,
    /// `time_us` of the end of the period (µs since the Unix epoch).
    pub end_us: i64,
    /// Length of the period in µs; events spread over `end_us - span_us .. end_us`.
    pub span_us: i64,
}

impl NetworkParams {
    /// Defaults scaled from `events`: one artist per 200 events, one listener per 40, over the
    /// year ending at [`DEFAULT_END_US`].
    pub fn new(seed: u64, events: usize) -> Self {
        Self {
            seed,
            events,
            artists: (events / 200).max(1),
            listeners: (events / 40).max(2),
            end_us: DEFAULT_END_US,
            span_us: YEAR_US,
        }
    }

    /// `time_us` of the start of the period.
    pub fn start_us(&self) -> i64 {
        self.end_us - self.span_us
    }

    /// Rejects parameters the generator cannot honour.
    pub fn check(&self) -> Result<(), GenError> {
        if self.artists == 0 {
            return Err(GenError::Params("at least one artist is needed"));
        }
        if self.listeners == 0 {
            return Err(GenError::Params("at least one listener is needed"));
        }
        if u32::try_from(self.artists + self.listeners).is_err() {
            return Err(GenError::Params("too many accounts (artists + listeners must fit in 32 bits)"));
        }
        if self.span_us <= 0 {
            return Err(GenError::Params("the period must be positive"));
        }
        if self.start_us() < 0 || self.end_us > MAX_END_US {
            return Err(GenError::Params("the period must lie between 1970 and the TID limit (2255)"));
        }
        Ok(())
    }
}

impl Default for NetworkParams {
    /// Seed 42, 20,000 events.
    fn default() -> Self {
        Self::new(42, 20_000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_scale_with_events() {
        let cases = [(200_000, 1_000, 5_000), (100, 1, 2), (0, 1, 2)];
        for (events, artists, listeners) in cases {
            let p = NetworkParams::new(1, events);
            assert_eq!((p.artists, p.listeners), (artists, listeners), "{events}");
            assert!(p.check().is_ok());
        }
    }

    #[test]
    fn bad_parameters_are_rejected() {
        let base = NetworkParams::default();
        let cases = [
            NetworkParams { artists: 0, ..base.clone() },
            NetworkParams { listeners: 0, ..base.clone() },
            NetworkParams { span_us: 0, ..base.clone() },
            NetworkParams { span_us: DEFAULT_END_US + 1, ..base.clone() },
            NetworkParams { end_us: MAX_END_US + 1, ..base },
        ];
        for params in cases {
            assert!(params.check().is_err(), "{params:?}");
        }
    }
}
