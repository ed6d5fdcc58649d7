//! How long an invocation may keep working.

use std::time::{Duration, SystemTime};

/// The time left before `deadline` (the Lambda context's), less `reserved` for finishing
/// up. A deadline of the epoch means none was given (a local run or a test): then
/// `without_deadline`.
pub fn time_budget(deadline: SystemTime, reserved: Duration, without_deadline: Duration) -> Duration {
    if deadline == SystemTime::UNIX_EPOCH {
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
        let in_a_minute = SystemTime::now() + 60 * second;
        let budget = time_budget(in_a_minute, 10 * second, 300 * second);
        assert!(budget <= 50 * second && budget > 49 * second, "{budget:?}");
        let past = SystemTime::now() - second;
        assert_eq!(time_budget(past, second, 300 * second), Duration::ZERO);
    }
}
