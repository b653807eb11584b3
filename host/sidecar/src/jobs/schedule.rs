//! Job schedules as daprd's Scheduler reads them (dapr/kit `cron`, robfig/cron's rules): 6-field cron with seconds first, `@daily`-style descriptors and `@every <Go duration>`, and the next trigger time after a given one, in UTC.

use super::timefmt::{
    Nanos, SECOND, civil_from_days, days_from_civil, month_len, parse_go_duration, weekday,
};

/// A parsed schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Schedule {
    /// A cron spec (also what the descriptors `@daily` etc. stand for).
    Spec(Spec),
    /// `@every <duration>`: a constant delay, in nanoseconds, whole milliseconds, at least 1 ms.
    Every(Nanos),
}

/// The bit sets of a cron spec; bit `n` set = value `n` matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Spec {
    second: u64,
    minute: u64,
    hour: u64,
    dom: u64,
    month: u64,
    dow: u64,
    /// `dom` / `dow` was `*` or `?` (then both must match; else either).
    dom_star: bool,
    dow_star: bool,
}

/// The bounds and names of one field.
struct Bounds {
    min: u32,
    max: u32,
    names: &'static [(&'static str, u32)],
}

const SECONDS: Bounds = Bounds {
    min: 0,
    max: 59,
    names: &[],
};
const MINUTES: Bounds = Bounds {
    min: 0,
    max: 59,
    names: &[],
};
const HOURS: Bounds = Bounds {
    min: 0,
    max: 23,
    names: &[],
};
const DOM: Bounds = Bounds {
    min: 1,
    max: 31,
    names: &[],
};
#[rustfmt::skip]
const MONTHS: Bounds = Bounds { min: 1, max: 12, names: &[
    ("jan", 1), ("feb", 2), ("mar", 3), ("apr", 4), ("may", 5), ("jun", 6),
    ("jul", 7), ("aug", 8), ("sep", 9), ("oct", 10), ("nov", 11), ("dec", 12),
] };
#[rustfmt::skip]
const DOW: Bounds = Bounds { min: 0, max: 6, names: &[
    ("sun", 0), ("mon", 1), ("tue", 2), ("wed", 3), ("thu", 4), ("fri", 5), ("sat", 6),
] };

fn bits(min: u32, max: u32, step: u32) -> u64 {
    (min..=max)
        .step_by(step as usize)
        .fold(0, |acc, v| acc | 1 << v)
}

fn number(s: &str) -> Result<u32, String> {
    match s.parse::<i64>() {
        Ok(n) if n < 0 => Err(format!("negative number ({n}) not allowed: {s}")),
        Ok(n) => {
            u32::try_from(n).map_err(|_| format!("failed to parse int from {s}: out of range"))
        }
        Err(e) => Err(format!("failed to parse int from {s}: {e}")),
    }
}

fn number_or_name(s: &str, b: &Bounds) -> Result<u32, String> {
    let lower = s.to_ascii_lowercase();
    match b.names.iter().find(|(n, _)| *n == lower) {
        Some((_, v)) => Ok(*v),
        None => number(s),
    }
}

/// One comma-separated item: `*`, `?`, `n`, `a-b`, each optionally `/step`. Returns the
/// bits and whether it counts as a star (`*`/`?` without a step above 1).
fn range(expr: &str, b: &Bounds) -> Result<(u64, bool), String> {
    let mut parts = expr.split('/');
    let range_part = parts.next().unwrap_or_default();
    let step_part = parts.next();
    if parts.next().is_some() {
        return Err(format!("too many slashes: {expr}"));
    }
    let mut bounds = range_part.split('-');
    let low = bounds.next().unwrap_or_default();
    let high = bounds.next();
    if bounds.next().is_some() {
        return Err(format!("too many hyphens: {expr}"));
    }
    // As in robfig/cron, `*-5` is `*`: the part after the hyphen is not read.
    let (start, mut end, mut star) = if low == "*" || low == "?" {
        (b.min, b.max, true)
    } else {
        let start = number_or_name(low, b)?;
        let end = match high {
            Some(h) => number_or_name(h, b)?,
            None => start,
        };
        (start, end, false)
    };
    let step = match step_part {
        None => 1,
        Some(s) => {
            let step = number(s)?;
            if high.is_none() {
                end = b.max;
            }
            if step > 1 {
                star = false;
            }
            step
        }
    };
    if start < b.min {
        return Err(format!(
            "beginning of range ({start}) below minimum ({}): {expr}",
            b.min
        ));
    }
    if end > b.max {
        return Err(format!(
            "end of range ({end}) above maximum ({}): {expr}",
            b.max
        ));
    }
    if start > end {
        return Err(format!(
            "beginning of range ({start}) beyond end of range ({end}): {expr}"
        ));
    }
    if step == 0 {
        return Err(format!("step of range should be a positive number: {expr}"));
    }
    Ok((bits(start, end, step), star))
}

fn field(s: &str, b: &Bounds) -> Result<(u64, bool), String> {
    let mut out = (0, false);
    for item in s.split(',').filter(|i| !i.is_empty()) {
        let (bits, star) = range(item, b)?;
        out = (out.0 | bits, out.1 || star);
    }
    Ok(out)
}

impl Schedule {
    /// Parses a schedule the way the Scheduler does (`cron.Second | Minute | Hour | Dom |
    /// Month | Dow | Descriptor`); the error says what is wrong.
    pub fn parse(spec: &str) -> Result<Schedule, String> {
        if spec.is_empty() {
            return Err("empty spec string".into());
        }
        let mut spec = spec;
        if spec.starts_with("TZ=") || spec.starts_with("CRON_TZ=") {
            let Some((tz, rest)) = spec.split_once(char::is_whitespace) else {
                return Err(format!(
                    "timezone prefix {spec} is not followed by a schedule"
                ));
            };
            let zone = tz.split_once('=').map_or("", |(_, z)| z);
            if zone != "UTC" {
                return Err(format!(
                    "provided bad location {zone}: only UTC is supported by wasi-dapr's scheduler"
                ));
            }
            spec = rest.trim();
        }
        if spec.starts_with('@') {
            return Self::descriptor(spec);
        }
        let fields: Vec<&str> = spec.split_whitespace().collect();
        if fields.len() != 6 {
            return Err(format!(
                "expected exactly 6 fields, found {}: [{}]",
                fields.len(),
                fields.join(" ")
            ));
        }
        let (second, _) = field(fields[0], &SECONDS)?;
        let (minute, _) = field(fields[1], &MINUTES)?;
        let (hour, _) = field(fields[2], &HOURS)?;
        let (dom, dom_star) = field(fields[3], &DOM)?;
        let (month, _) = field(fields[4], &MONTHS)?;
        let (dow, dow_star) = field(fields[5], &DOW)?;
        Ok(Schedule::Spec(Spec {
            second,
            minute,
            hour,
            dom,
            month,
            dow,
            dom_star,
            dow_star,
        }))
    }

    fn descriptor(spec: &str) -> Result<Schedule, String> {
        let all = |b: &Bounds| bits(b.min, b.max, 1);
        let fixed = |month: u64, dom: u64, dow: u64, hour: u64, dom_star: bool, dow_star: bool| {
            Schedule::Spec(Spec {
                second: 1,
                minute: 1,
                hour,
                dom,
                month,
                dow,
                dom_star,
                dow_star,
            })
        };
        let midnight = 1;
        Ok(match spec {
            "@yearly" | "@annually" => fixed(1 << 1, 1 << 1, all(&DOW), midnight, false, true),
            "@monthly" => fixed(all(&MONTHS), 1 << 1, all(&DOW), midnight, false, true),
            "@weekly" => fixed(all(&MONTHS), all(&DOM), 1, midnight, true, false),
            "@daily" | "@midnight" => {
                fixed(all(&MONTHS), all(&DOM), all(&DOW), midnight, true, true)
            }
            "@hourly" => fixed(all(&MONTHS), all(&DOM), all(&DOW), all(&HOURS), true, true),
            _ => {
                let Some(d) = spec.strip_prefix("@every ") else {
                    return Err(format!("unrecognized descriptor: {spec}"));
                };
                let nanos = parse_go_duration(d)
                    .map_err(|e| format!("failed to parse duration {spec}: {e}"))?;
                let ms = 1_000_000;
                let nanos = Nanos::from(nanos).max(ms);
                Schedule::Every(nanos - nanos % ms)
            }
        })
    }

    /// The first trigger time after `t`, or `None` when there is none within five years
    /// (robfig/cron's search limit).
    pub fn next(&self, t: Nanos) -> Option<Nanos> {
        match self {
            Schedule::Every(delay) => Some(t + delay - t.rem_euclid(1_000_000)),
            Schedule::Spec(spec) => spec.next(t),
        }
    }
}

impl Spec {
    fn day_matches(&self, y: i64, m: u32, d: u32) -> bool {
        let dom = self.dom & (1 << d) != 0;
        let dow = self.dow & (1 << weekday(days_from_civil(y, m, d))) != 0;
        if self.dom_star || self.dow_star {
            dom && dow
        } else {
            dom || dow
        }
    }

    /// robfig/cron's `SpecSchedule.Next`: from the next whole second, advance the first
    /// field (month, day, hour, minute, second) that does not match, resetting the ones below.
    fn next(&self, t: Nanos) -> Option<Nanos> {
        let secs = i64::try_from(t.div_euclid(SECOND)).ok()?.checked_add(1)?;
        let day = secs.div_euclid(86_400);
        let in_day = secs.rem_euclid(86_400);
        let (mut y, mut mo, mut d) = civil_from_days(day);
        let (mut h, mut mi, mut s) = (
            (in_day / 3600) as u32,
            (in_day / 60 % 60) as u32,
            (in_day % 60) as u32,
        );
        let limit = y + 5;
        'wrap: loop {
            if y > limit {
                return None;
            }
            while self.month & (1 << mo) == 0 {
                (d, h, mi, s) = (1, 0, 0, 0);
                mo += 1;
                if mo == 13 {
                    (y, mo) = (y + 1, 1);
                    continue 'wrap;
                }
            }
            while !self.day_matches(y, mo, d) {
                (h, mi, s) = (0, 0, 0);
                d += 1;
                if d > month_len(y, mo) {
                    (d, mo) = (1, mo + 1);
                    if mo == 13 {
                        (y, mo) = (y + 1, 1);
                    }
                    continue 'wrap;
                }
            }
            while self.hour & (1 << h) == 0 {
                (mi, s) = (0, 0);
                h += 1;
                if h == 24 {
                    h = 0;
                    (y, mo, d) = civil_from_days(days_from_civil(y, mo, d) + 1);
                    continue 'wrap;
                }
            }
            while self.minute & (1 << mi) == 0 {
                s = 0;
                mi += 1;
                if mi == 60 {
                    mi = 0;
                    h += 1;
                    if h == 24 {
                        h = 0;
                        (y, mo, d) = civil_from_days(days_from_civil(y, mo, d) + 1);
                    }
                    continue 'wrap;
                }
            }
            while self.second & (1 << s) == 0 {
                s += 1;
                if s == 60 {
                    s = 0;
                    mi += 1;
                    if mi == 60 {
                        mi = 0;
                        h += 1;
                        if h == 24 {
                            h = 0;
                            (y, mo, d) = civil_from_days(days_from_civil(y, mo, d) + 1);
                        }
                    }
                    continue 'wrap;
                }
            }
            let secs = days_from_civil(y, mo, d) * 86_400 + i64::from(h * 3600 + mi * 60 + s);
            return Some(Nanos::from(secs) * SECOND);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A UTC time as nanoseconds.
    fn at(y: i64, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> Nanos {
        Nanos::from(days_from_civil(y, mo, d) * 86_400 + i64::from(h * 3600 + mi * 60 + s)) * SECOND
    }

    fn next(spec: &str, from: Nanos) -> Nanos {
        Schedule::parse(spec).unwrap().next(from).unwrap()
    }

    fn spec(s: &str) -> Spec {
        match Schedule::parse(s).unwrap() {
            Schedule::Spec(spec) => spec,
            other => panic!("{s}: {other:?}"),
        }
    }

    #[test]
    fn six_fields_with_seconds_first() {
        let s = spec("5 4 3 2 1 *");
        assert_eq!(
            (s.second, s.minute, s.hour, s.dom, s.month),
            (1 << 5, 1 << 4, 1 << 3, 1 << 2, 1 << 1)
        );
        assert_eq!(
            next("5 4 3 2 1 *", at(2025, 6, 1, 0, 0, 0)),
            at(2026, 1, 2, 3, 4, 5)
        );
    }

    #[test]
    fn five_or_seven_fields_are_refused() {
        let e = Schedule::parse("* * * * *").unwrap_err();
        assert!(e.contains("expected exactly 6 fields, found 5"), "{e}");
        assert!(Schedule::parse("* * * * * * *").is_err());
        assert!(Schedule::parse("").is_err());
        assert!(Schedule::parse("   ").is_err());
    }

    #[test]
    fn ranges_lists_and_steps() {
        assert_eq!(spec("1-3 * * * * *").second, 0b1110);
        assert_eq!(spec("1,3,5 * * * * *").second, 0b10_1010);
        assert_eq!(spec("*/20 * * * * *").second, 1 | 1 << 20 | 1 << 40);
        assert_eq!(
            spec("10-30/10 * * * * *").second,
            1 << 10 | 1 << 20 | 1 << 30
        );
        // `n/step` runs from n to the maximum.
        assert_eq!(spec("50/5 * * * * *").second, 1 << 50 | 1 << 55);
        assert_eq!(spec("* * * * * *").second, (1 << 60) - 1);
        assert_eq!(spec("1,,2 * * * * *").second, 0b110);
        assert_eq!(spec("*-5 * * * * *"), spec("* * * * * *"));
    }

    #[test]
    fn names_of_months_and_weekdays_any_case() {
        let s = spec("0 0 0 * JAN-mar,Dec MON-FRI");
        assert_eq!(s.month, 0b1110 | 1 << 12);
        assert_eq!(s.dow, 0b11_1110);
        assert_eq!(spec("0 0 0 * * sun").dow, 1);
    }

    #[test]
    fn question_mark_is_a_star() {
        let s = spec("0 0 0 ? * ?");
        assert!(s.dom_star && s.dow_star);
        assert_eq!(s.dom, spec("0 0 0 * * *").dom);
    }

    #[test]
    fn bad_fields_say_what_is_wrong() {
        for (bad, want) in [
            ("60 * * * * *", "above maximum"),
            ("* * 24 * * *", "above maximum"),
            ("* * * 0 * *", "below minimum"),
            ("* * * * 13 *", "above maximum"),
            ("* * * * * 7", "above maximum"),
            ("5-1 * * * * *", "beyond end of range"),
            ("*/0 * * * * *", "step of range should be a positive number"),
            ("1-2-3 * * * * *", "too many hyphens"),
            ("1/2/3 * * * * *", "too many slashes"),
            ("x * * * * *", "failed to parse int from x"),
            ("* * * * foo *", "failed to parse int from foo"),
            ("* * * * * -1", "failed to parse int"),
        ] {
            let e = Schedule::parse(bad).unwrap_err();
            assert!(e.contains(want), "{bad:?}: {e}");
        }
    }

    #[test]
    fn descriptors() {
        let from = at(2024, 2, 28, 13, 30, 0);
        assert_eq!(next("@yearly", from), at(2025, 1, 1, 0, 0, 0));
        assert_eq!(next("@annually", from), at(2025, 1, 1, 0, 0, 0));
        assert_eq!(next("@monthly", from), at(2024, 3, 1, 0, 0, 0));
        // 2024-02-28 is a Wednesday; the next Sunday is 2024-03-03.
        assert_eq!(next("@weekly", from), at(2024, 3, 3, 0, 0, 0));
        assert_eq!(next("@daily", from), at(2024, 2, 29, 0, 0, 0));
        assert_eq!(next("@midnight", from), at(2024, 2, 29, 0, 0, 0));
        assert_eq!(next("@hourly", from), at(2024, 2, 28, 14, 0, 0));
        for bad in [
            "@often",
            "@every",
            "@every ",
            "@every 1x",
            "@Daily",
            "@every 1d",
        ] {
            assert!(Schedule::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn every_takes_go_durations_in_whole_milliseconds() {
        assert_eq!(
            Schedule::parse("@every 1h30m").unwrap(),
            Schedule::Every(5_400 * SECOND)
        );
        assert_eq!(
            Schedule::parse("@every 1.5s").unwrap(),
            Schedule::Every(1_500_000_000)
        );
        assert_eq!(
            Schedule::parse("@every 1500us").unwrap(),
            Schedule::Every(1_000_000)
        );
        assert_eq!(
            Schedule::parse("@every 0s").unwrap(),
            Schedule::Every(1_000_000)
        );
        let s = Schedule::parse("@every 500ms").unwrap();
        assert_eq!(s.next(SECOND + 250), Some(SECOND + 500_000_000));
    }

    #[test]
    fn time_zone_prefix_only_utc() {
        assert_eq!(Schedule::parse("TZ=UTC @daily"), Schedule::parse("@daily"));
        assert_eq!(
            Schedule::parse("CRON_TZ=UTC 0 0 0 * * *"),
            Schedule::parse("0 0 0 * * *")
        );
        assert!(Schedule::parse("TZ=Europe/Paris @daily").is_err());
        assert!(Schedule::parse("TZ=UTC").is_err());
    }

    #[test]
    fn next_is_strictly_after_and_whole_seconds() {
        let t = at(2024, 1, 1, 0, 0, 0);
        assert_eq!(next("* * * * * *", t), t + SECOND);
        assert_eq!(next("* * * * * *", t + 1), t + SECOND);
        assert_eq!(next("*/5 * * * * *", t + 3 * SECOND), t + 5 * SECOND);
        assert_eq!(next("0 * * * * *", t + 59 * SECOND), t + 60 * SECOND);
    }

    #[test]
    fn next_rolls_over_month_and_year_ends() {
        assert_eq!(
            next("0 0 0 * * *", at(2023, 12, 31, 12, 0, 0)),
            at(2024, 1, 1, 0, 0, 0)
        );
        assert_eq!(
            next("59 59 23 * * *", at(2023, 4, 30, 23, 59, 59)),
            at(2023, 5, 1, 23, 59, 59)
        );
        // The 31st skips the months that have no 31st.
        assert_eq!(
            next("0 0 0 31 * *", at(2023, 4, 1, 0, 0, 0)),
            at(2023, 5, 31, 0, 0, 0)
        );
        assert_eq!(
            next("0 0 0 31 * *", at(2023, 5, 31, 0, 0, 0)),
            at(2023, 7, 31, 0, 0, 0)
        );
        // A month change resets day and time.
        assert_eq!(
            next("30 15 10 * 3 *", at(2023, 1, 20, 20, 0, 0)),
            at(2023, 3, 1, 10, 15, 30)
        );
    }

    #[test]
    fn leap_day_waits_for_a_leap_year() {
        assert_eq!(
            next("0 0 12 29 2 *", at(2023, 3, 1, 0, 0, 0)),
            at(2024, 2, 29, 12, 0, 0)
        );
        assert_eq!(
            next("0 0 12 29 2 *", at(2024, 2, 29, 12, 0, 0)),
            at(2028, 2, 29, 12, 0, 0)
        );
        // 1900 was not a leap year, 2000 was: 2100 is not, so from 2097 there is none in 5 years.
        assert_eq!(
            Schedule::parse("0 0 0 29 2 *")
                .unwrap()
                .next(at(2097, 3, 1, 0, 0, 0)),
            None
        );
        assert_eq!(
            Schedule::parse("0 0 0 30 2 *")
                .unwrap()
                .next(at(2024, 1, 1, 0, 0, 0)),
            None
        );
    }

    #[test]
    fn day_of_week_and_day_of_month() {
        // 2024-03-01 is a Friday.
        assert_eq!(
            next("0 0 9 * * MON", at(2024, 3, 1, 0, 0, 0)),
            at(2024, 3, 4, 9, 0, 0)
        );
        assert_eq!(
            next("0 0 9 * * 0", at(2024, 3, 1, 0, 0, 0)),
            at(2024, 3, 3, 9, 0, 0)
        );
        // Both restricted: either matches (the 15th, or a Monday, whichever is first).
        assert_eq!(
            next("0 0 0 15 * MON", at(2024, 3, 1, 0, 0, 0)),
            at(2024, 3, 4, 0, 0, 0)
        );
        assert_eq!(
            next("0 0 0 2 * MON", at(2024, 3, 1, 0, 0, 0)),
            at(2024, 3, 2, 0, 0, 0)
        );
        // dom restricted, dow `*`: only the dom.
        assert_eq!(
            next("0 0 0 15 * *", at(2024, 3, 1, 0, 0, 0)),
            at(2024, 3, 15, 0, 0, 0)
        );
        // `*/2` in dow is not a star: still OR with the dom.
        assert_eq!(
            next("0 0 0 15 * */2", at(2024, 3, 1, 0, 0, 0)),
            at(2024, 3, 2, 0, 0, 0)
        );
        // The 13th when it is a Friday? No: robfig ORs, so any Friday or any 13th.
        assert_eq!(
            next("0 0 0 13 * FRI", at(2024, 3, 2, 0, 0, 0)),
            at(2024, 3, 8, 0, 0, 0)
        );
    }
}
