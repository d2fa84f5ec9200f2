//! Civil dates from timestamps (UTC, proleptic Gregorian), and back: the
//! calendar parts a model sees of a time (hour of day, day of week, day of
//! year, month), and the date arithmetic the CSV reader and writer share.

/// Days from 1970-01-01 to a civil date (Howard Hinnant's algorithm).
pub(crate) fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date (year, month 1–12, day 1–31) of a day count from 1970-01-01.
pub(crate) fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

/// The calendar parts of one instant, in UTC.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Calendar {
    /// 0–23.
    pub hour: u32,
    /// Hours since midnight with minutes and seconds as the fraction, in [0, 24).
    pub hour_fraction: f64,
    /// 0 for Monday to 6 for Sunday (ISO 8601's order).
    pub day_of_week: u32,
    /// 1–365, or 1–366 in a leap year.
    pub day_of_year: u32,
    /// 365 or 366.
    pub days_in_year: u32,
    /// 1–12.
    pub month: u32,
}

impl Calendar {
    /// The parts of `secs` seconds since the Unix epoch.
    pub fn of(secs: i64) -> Calendar {
        let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
        let (y, m, _) = civil_from_days(days);
        Calendar {
            hour: (rem / 3600) as u32,
            hour_fraction: rem as f64 / 3600.0,
            // 1970-01-01 was a Thursday (3 in Monday-first order).
            day_of_week: (days + 3).rem_euclid(7) as u32,
            day_of_year: (days - days_from_civil(y, 1, 1) + 1) as u32,
            days_in_year: if is_leap(y) { 366 } else { 365 },
            month: m as u32,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_of_known_instants() {
        // 2024-01-01 00:00:00 UTC, a Monday.
        let c = Calendar::of(1_704_067_200);
        assert_eq!((c.hour, c.day_of_week, c.day_of_year, c.days_in_year, c.month), (0, 0, 1, 366, 1));
        // 2024-12-31 23:30:00 UTC, a Tuesday, the 366th day of a leap year.
        let c = Calendar::of(1_704_067_200 + 365 * 86_400 + 23 * 3600 + 1800);
        assert_eq!((c.hour, c.day_of_week, c.day_of_year, c.month), (23, 1, 366, 12));
        assert_eq!(c.hour_fraction, 23.5);
        // 1969-12-31 23:00:00 UTC, before the epoch: a Wednesday.
        let c = Calendar::of(-3600);
        assert_eq!((c.hour, c.day_of_week, c.day_of_year, c.days_in_year, c.month), (23, 2, 365, 365, 12));
        // 2023-03-01, the day after February in a common year.
        let c = Calendar::of(days_from_civil(2023, 3, 1) * 86_400);
        assert_eq!((c.day_of_year, c.month, c.day_of_week), (60, 3, 2));
    }

    #[test]
    fn civil_dates_round_trip() {
        for days in (-800_000..800_000).step_by(997) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }
}
