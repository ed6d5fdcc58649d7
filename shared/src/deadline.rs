//! How long an invocation may keep working.

use std::time::{Duration, SystemTime};

/// Lambda's deadline is a wall-clock time in milliseconds since the epoch; anything before
/// this (September 2001) is not one. `cargo lambda watch` sends a fixed 600000 (ten minutes,
/// meant as a duration) and tests send 0.
const EARLIEST_REAL_DEADLINE: Duration = Duration::from_secs(1_000_000_000);

/// The time left before `deadline` (the Lambda context's), less `reserved` for finishing
/// up. A deadline that is no wall-clock time means none was given (a test, or a local
/// runner's placeholder): then `without_deadline`.
pub fn time_budget(deadline: SystemTime, reserved: Duration, without_deadline: Duration) -> Duration {
    if deadline < SystemTime::UNIX_EPOCH + EARLIEST_REAL_DEADLINE {
        return without_deadline;
    }
    deadline.duration_since(SystemTime::now()).unwrap_or_default().saturating_sub(reserved)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_is_the_time_left_less_the_reserve() {
        let second = Duration::from_secs(1);
        assert_eq!(time_budget(SystemTime::UNIX_EPOCH, second, 300 * second), 300 * second);
        // `cargo lambda watch`'s placeholder: 600,000 ms after the epoch.
        let placeholder = SystemTime::UNIX_EPOCH + Duration::from_millis(600_000);
        assert_eq!(time_budget(placeholder, second, 300 * second), 300 * second);
        let in_a_minute = SystemTime::now() + 60 * second;
        let budget = time_budget(in_a_minute, 10 * second, 300 * second);
        assert!(budget <= 50 * second && budget > 49 * second, "{budget:?}");
        let past = SystemTime::now() - second;
        assert_eq!(time_budget(past, second, 300 * second), Duration::ZERO);
    }
}
