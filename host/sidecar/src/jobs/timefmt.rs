//! Time vocabulary of the Jobs API: Go durations, ISO 8601 durations, RFC 3339 points, protojson `Duration`s and UTC civil dates, over Unix nanoseconds.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A point in time: nanoseconds since the Unix epoch (negative before 1970).
pub(crate) type Nanos = i128;

/// One second in [`Nanos`].
pub(crate) const SECOND: Nanos = 1_000_000_000;

/// Now, as [`Nanos`].
pub(crate) fn now() -> Nanos {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_nanos() as Nanos,
        Err(e) => -(e.duration().as_nanos() as Nanos),
    }
}

/// The time from `now` until `t` (zero when `t` has passed).
pub(crate) fn until(t: Nanos, now: Nanos) -> Duration {
    let delta = (t - now).max(0);
    Duration::from_nanos(u64::try_from(delta).unwrap_or(u64::MAX))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
pub(crate) fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day number from [`days_from_civil`].
pub(crate) fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Whether `y` is a Gregorian leap year.
pub(crate) fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

/// The number of days of month `m` (1–12) of year `y`.
pub(crate) fn month_len(y: i64, m: u32) -> u32 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// The weekday of a day number, 0 = Sunday.
pub(crate) fn weekday(days: i64) -> u32 {
    (days + 4).rem_euclid(7) as u32
}

/// Go's `time.ParseDuration`: `[-+]?([0-9]*(\.[0-9]*)?(ns|us|µs|μs|ms|s|m|h))+` or `0`, in
/// nanoseconds; past ±2^63 ns is an error as in Go.
pub(crate) fn parse_go_duration(s: &str) -> Result<i64, String> {
    let bad = || format!("time: invalid duration {s:?}");
    let (neg, mut rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(bad());
    }
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let int_len = rest.bytes().take_while(u8::is_ascii_digit).count();
        let (int, after) = rest.split_at(int_len);
        let (frac, after) = match after.strip_prefix('.') {
            Some(a) => {
                let n = a.bytes().take_while(u8::is_ascii_digit).count();
                a.split_at(n)
            }
            None => ("", after),
        };
        if int.is_empty() && frac.is_empty() {
            return Err(bad());
        }
        let unit_len = after
            .char_indices()
            .find(|(_, c)| *c == '.' || c.is_ascii_digit())
            .map_or(after.len(), |(i, _)| i);
        let (unit, after) = after.split_at(unit_len);
        let scale: u128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            "" => return Err(format!("time: missing unit in duration {s:?}")),
            other => return Err(format!("time: unknown unit {other:?} in duration {s:?}")),
        };
        let whole: u128 = if int.is_empty() {
            0
        } else {
            int.parse().map_err(|_| bad())?
        };
        let mut part = whole.checked_mul(scale).ok_or_else(bad)?;
        // The fraction, to nanosecond precision (Go truncates the same way).
        let mut f_scale = scale;
        for digit in frac.bytes() {
            f_scale /= 10;
            if f_scale == 0 {
                break;
            }
            part += u128::from(digit - b'0') * f_scale;
        }
        total = total.checked_add(part).ok_or_else(bad)?;
        if total > 1 << 63 {
            return Err(bad());
        }
        rest = after;
    }
    if neg {
        i64::try_from(-(total as i128)).map_err(|_| bad())
    } else {
        i64::try_from(total).map_err(|_| bad())
    }
}

/// Go's `time.Duration.String`: `1h0m0s`, `1m30s`, `1.5s`, `250ms`, `0s`.
pub(crate) fn format_go_duration(d: i64) -> String {
    if d == 0 {
        return "0s".into();
    }
    let sign = if d < 0 { "-" } else { "" };
    let u = d.unsigned_abs();
    // `whole.fraction` of `u / scale`, trailing zeros of the fraction dropped.
    let frac = |u: u64, scale: u64| {
        let (whole, rest) = (u / scale, u % scale);
        if rest == 0 {
            return whole.to_string();
        }
        let width = scale.ilog10() as usize;
        let digits = format!("{rest:0width$}");
        format!("{whole}.{}", digits.trim_end_matches('0'))
    };
    if u < 1_000 {
        return format!("{sign}{u}ns");
    }
    if u < 1_000_000 {
        return format!("{sign}{}\u{b5}s", frac(u, 1_000));
    }
    if u < 1_000_000_000 {
        return format!("{sign}{}ms", frac(u, 1_000_000));
    }
    let secs = u / 1_000_000_000;
    let (h, m) = (secs / 3600, (secs / 60) % 60);
    let s = frac(u % 60_000_000_000, 1_000_000_000);
    match (h, m) {
        (0, 0) => format!("{sign}{s}s"),
        (0, m) => format!("{sign}{m}m{s}s"),
        (h, m) => format!("{sign}{h}h{m}m{s}s"),
    }
}

/// An ISO 8601 duration as dapr/kit's `ParseISO8601Duration` reads it:
/// `[R<n>/]P[nY][nM][nW][nD][T[nH][nM][nS]]`, integers only (signed, as Go's `Atoi`), units
/// in any order, a trailing number without unit ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct IsoDuration {
    pub years: i64,
    pub months: i64,
    pub days: i64,
    /// Hours, minutes and seconds, in nanoseconds.
    pub nanos: Nanos,
    /// The `R<n>/` repetitions (0 when absent).
    pub repeats: u64,
}

/// Parses an ISO 8601 duration; see [`IsoDuration`]. Lax where dapr/kit is lax (`PT` is
/// zero, `P1M1Y` is fine).
pub(crate) fn parse_iso_duration(s: &str) -> Result<IsoDuration, String> {
    let bad = || format!("unsupported ISO8601 duration format: {s}");
    // Go's strconv.Atoi: an optional sign, then digits.
    let atoi = |t: &str| -> Result<i64, String> {
        let digits = t.strip_prefix(['+', '-']).unwrap_or(t);
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        t.parse().map_err(|_| bad())
    };
    let b = s.as_bytes();
    let mut out = IsoDuration::default();
    if b.len() < 2 {
        return Err(bad());
    }
    let mut i = 0;
    if b[0] == b'R' {
        i = b.iter().position(|c| *c == b'/').unwrap_or(b.len());
        let n = atoi(&s[1..i])?;
        out.repeats = u64::try_from(n).unwrap_or(0);
        i += 1;
        if i >= b.len() {
            return Ok(out);
        }
    }
    if b[i] != b'P' {
        return Err(bad());
    }
    i += 1;
    let (mut start, mut in_time) = (i, false);
    while i < b.len() {
        let unit = b[i];
        if unit == b'T' {
            if start != i {
                return Err(bad());
            }
            (in_time, start) = (true, i + 1);
        } else if matches!(unit, b'Y' | b'W' | b'D' | b'H' | b'S' | b'M') {
            let date_unit = matches!(unit, b'Y' | b'W' | b'D');
            let time_unit = matches!(unit, b'H' | b'S');
            if start == i || (date_unit && in_time) || (time_unit && !in_time) {
                return Err(bad());
            }
            let n = atoi(&s[start..i])?;
            match (unit, in_time) {
                (b'Y', _) => out.years = n,
                (b'W', _) => out.days += n * 7,
                (b'D', _) => out.days += n,
                (b'H', _) => out.nanos += Nanos::from(n) * 3600 * SECOND,
                (b'S', _) => out.nanos += Nanos::from(n) * SECOND,
                (_, true) => out.nanos += Nanos::from(n) * 60 * SECOND,
                (_, false) => out.months = n,
            }
            start = i + 1;
        }
        // Other bytes are skipped, as dapr/kit does (they fail the next number instead).
        i += 1;
    }
    Ok(out)
}

/// Go's `t.AddDate(years, months, days)` in UTC (overflowing days roll into the next
/// month, as in Go: Jan 31 + 1 month = Mar 3), then `+ nanos`.
pub(crate) fn add_date(
    t: Nanos,
    years: i64,
    months: i64,
    days: i64,
    nanos: Nanos,
) -> Option<Nanos> {
    let day = t.div_euclid(SECOND * 86_400);
    let in_day = t.rem_euclid(SECOND * 86_400);
    let (y, m, d) = civil_from_days(i64::try_from(day).ok()?);
    let month0 = i64::from(m) - 1 + months;
    let y = y.checked_add(years)?.checked_add(month0.div_euclid(12))?;
    if y.abs() > 1_000_000 {
        return None;
    }
    let m = month0.rem_euclid(12) as u32 + 1;
    let days = days_from_civil(y, m, 1)
        .checked_add(i64::from(d) - 1)?
        .checked_add(days)?;
    Some(i128::from(days) * SECOND * 86_400 + in_day + nanos)
}

/// Go's `time.Parse(time.RFC3339, s)`: `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`.
pub(crate) fn parse_rfc3339(s: &str) -> Option<Nanos> {
    let b = s.as_bytes();
    let num = |range: std::ops::Range<usize>| -> Option<u32> {
        let part = b.get(range)?;
        part.iter().all(u8::is_ascii_digit).then_some(())?;
        std::str::from_utf8(part).ok()?.parse().ok()
    };
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo)
        || d == 0
        || d > month_len(i64::from(y), mo)
        || h > 23
        || mi > 59
        || sec > 59
    {
        return None;
    }
    let mut i = 19;
    let mut frac: Nanos = 0;
    if b[i] == b'.' {
        let digits = b[i + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 {
            return None;
        }
        let mut scale = SECOND;
        for c in &b[i + 1..i + 1 + digits] {
            scale /= 10;
            frac += Nanos::from(c - b'0') * scale;
        }
        i += 1 + digits;
    }
    let offset: i64 = match b.get(i..)? {
        b"Z" => 0,
        [sign @ (b'+' | b'-'), ..] if b.len() == i + 6 && b[i + 3] == b':' => {
            let (oh, om) = (num(i + 1..i + 3)?, num(i + 4..i + 6)?);
            if oh > 23 || om > 59 {
                return None;
            }
            let secs = i64::from(oh * 3600 + om * 60);
            if *sign == b'-' { -secs } else { secs }
        }
        _ => return None,
    };
    let days = days_from_civil(i64::from(y), mo, d);
    let secs = days * 86_400 + i64::from(h * 3600 + mi * 60 + sec) - offset;
    Some(Nanos::from(secs) * SECOND + frac)
}

/// A protojson `google.protobuf.Duration`: `-?<seconds>[.<1–9 digits>]s`, in nanoseconds.
pub(crate) fn parse_proto_duration(s: &str) -> Option<i128> {
    let body = s.strip_suffix('s')?;
    let (neg, body) = match body.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, body),
    };
    let (int, frac) = body.split_once('.').unwrap_or((body, ""));
    if int.is_empty() || !int.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    if body.contains('.') && (frac.is_empty() || frac.len() > 9) {
        return None;
    }
    if !frac.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let secs: i128 = int.parse().ok()?;
    if secs > 315_576_000_000 {
        return None;
    }
    let mut nanos: i128 = 0;
    let mut scale = SECOND;
    for c in frac.bytes() {
        scale /= 10;
        nanos += i128::from(c - b'0') * scale;
    }
    let total = secs * SECOND + nanos;
    Some(if neg { -total } else { total })
}

/// Formats nanoseconds as protojson does a `Duration`: `1s`, `0.500s`, `1.000000001s`.
pub(crate) fn format_proto_duration(nanos: i128) -> String {
    let sign = if nanos < 0 { "-" } else { "" };
    let n = nanos.abs();
    let (secs, frac) = (n / SECOND, n % SECOND);
    if frac == 0 {
        format!("{sign}{secs}s")
    } else if frac % 1_000_000 == 0 {
        format!("{sign}{secs}.{:03}s", frac / 1_000_000)
    } else if frac % 1_000 == 0 {
        format!("{sign}{secs}.{:06}s", frac / 1_000)
    } else {
        format!("{sign}{secs}.{frac:09}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_duration_strings() {
        for (d, want) in [
            (0, "0s"),
            (SECOND as i64, "1s"),
            (1_500_000_000, "1.5s"),
            (90 * SECOND as i64, "1m30s"),
            (3600 * SECOND as i64, "1h0m0s"),
            (3_723_000_000_000, "1h2m3s"),
            (250_000_000, "250ms"),
            (1_500, "1.5\u{b5}s"),
            (7, "7ns"),
            (-2 * SECOND as i64, "-2s"),
        ] {
            assert_eq!(format_go_duration(d), want, "{d}");
        }
    }

    #[test]
    fn civil_dates_round_trip_and_know_their_weekday() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        for z in (-800_000..800_000).step_by(997) {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, m, d), z, "{y}-{m}-{d}");
            assert!(d >= 1 && d <= month_len(y, m));
        }
        // 2024-02-29 is a Thursday, 2026-12-02 a Wednesday, 1970-01-01 a Thursday.
        assert_eq!(weekday(days_from_civil(2024, 2, 29)), 4);
        assert_eq!(weekday(days_from_civil(2026, 12, 2)), 3);
        assert_eq!(weekday(0), 4);
        assert_eq!(weekday(-4), 0);
    }

    #[test]
    fn month_lengths_and_leap_years() {
        assert_eq!(month_len(2024, 2), 29);
        assert_eq!(month_len(2023, 2), 28);
        assert_eq!(month_len(1900, 2), 28);
        assert_eq!(month_len(2000, 2), 29);
        assert_eq!(month_len(2023, 4), 30);
        assert_eq!(month_len(2023, 12), 31);
    }

    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration("1h30m"), Ok(5_400_000_000_000));
        assert_eq!(parse_go_duration("500ms"), Ok(500_000_000));
        assert_eq!(parse_go_duration("1.5s"), Ok(1_500_000_000));
        assert_eq!(parse_go_duration(".5s"), Ok(500_000_000));
        assert_eq!(parse_go_duration("1.s"), Ok(1_000_000_000));
        assert_eq!(parse_go_duration("2us"), Ok(2_000));
        assert_eq!(parse_go_duration("2µs"), Ok(2_000));
        assert_eq!(parse_go_duration("3ns"), Ok(3));
        assert_eq!(parse_go_duration("-1m"), Ok(-60_000_000_000));
        assert_eq!(parse_go_duration("+2h"), Ok(7_200_000_000_000));
        assert_eq!(parse_go_duration("0"), Ok(0));
        assert_eq!(parse_go_duration("1h1m1s1ms"), Ok(3_661_001_000_000));
    }

    #[test]
    fn bad_go_durations() {
        for bad in [
            "",
            "1",
            "s",
            "1x",
            "1d",
            "-",
            ".s",
            "1h 2m",
            "10000000000h",
            "1..5s",
            "PT1S",
        ] {
            assert!(parse_go_duration(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn iso_durations() {
        let d = parse_iso_duration("PT10S").unwrap();
        assert_eq!((d.nanos, d.repeats), (10 * SECOND, 0));
        let d = parse_iso_duration("P1Y2M1W3DT4H5M6S").unwrap();
        assert_eq!((d.years, d.months, d.days), (1, 2, 10));
        assert_eq!(d.nanos, (4 * 3600 + 5 * 60 + 6) * SECOND);
        assert_eq!(parse_iso_duration("R5/PT1M").unwrap().repeats, 5);
        assert_eq!(parse_iso_duration("P3D").unwrap().days, 3);
        // dapr/kit's leniencies.
        assert_eq!(parse_iso_duration("PT").unwrap(), IsoDuration::default());
        assert_eq!(parse_iso_duration("P1M1Y").unwrap().years, 1);
        assert_eq!(parse_iso_duration("PT10").unwrap().nanos, 0);
        assert_eq!(parse_iso_duration("PT-5S").unwrap().nanos, -5 * SECOND);
        assert_eq!(parse_iso_duration("R0/PT1S").unwrap().repeats, 0);
        assert_eq!(parse_iso_duration("PT1HT1S").unwrap().nanos, 3601 * SECOND);
    }

    #[test]
    fn bad_iso_durations() {
        for bad in [
            "", "P", "T10S", "PT1.5S", "P1S", "PT1Y", "PTS", "P1X2D", "R/PT1S", "Rx/PT1S", "10s",
            "P1T1S",
        ] {
            assert!(parse_iso_duration(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn add_date_normalises_like_go() {
        let jan31 = Nanos::from(days_from_civil(2023, 1, 31)) * 86_400 * SECOND;
        let got = add_date(jan31, 0, 1, 0, 0).unwrap();
        assert_eq!(
            got,
            Nanos::from(days_from_civil(2023, 3, 3)) * 86_400 * SECOND
        );
        let got = add_date(jan31, 1, 11, 1, SECOND).unwrap();
        assert_eq!(
            got,
            Nanos::from(days_from_civil(2025, 1, 1)) * 86_400 * SECOND + SECOND
        );
    }

    #[test]
    fn rfc3339_points() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_rfc3339("1970-01-01T01:00:00+01:00"), Some(0));
        assert_eq!(parse_rfc3339("1969-12-31T23:00:00-01:00"), Some(0));
        assert_eq!(parse_rfc3339("1970-01-01T00:00:01.5Z"), Some(1_500_000_000));
        assert_eq!(
            parse_rfc3339("2024-02-29T12:00:00Z"),
            Some(Nanos::from(days_from_civil(2024, 2, 29) * 86_400 + 43_200) * SECOND)
        );
    }

    #[test]
    fn bad_rfc3339_points() {
        for bad in [
            "",
            "2023-02-29T00:00:00Z",
            "2024-13-01T00:00:00Z",
            "2024-01-01 00:00:00Z",
            "2024-01-01T24:00:00Z",
            "2024-01-01T00:00:60Z",
            "2024-01-01T00:00:00",
            "2024-01-01T00:00:00+0100",
            "2024-01-01T00:00:00.Z",
            "2024-01-01T00:00:00Zjunk",
            "1s",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn proto_durations_parse_and_format() {
        assert_eq!(parse_proto_duration("3s"), Some(3 * SECOND));
        assert_eq!(parse_proto_duration("0.5s"), Some(SECOND / 2));
        assert_eq!(parse_proto_duration("-1.000000001s"), Some(-SECOND - 1));
        assert_eq!(format_proto_duration(SECOND), "1s");
        assert_eq!(format_proto_duration(SECOND / 2), "0.500s");
        assert_eq!(format_proto_duration(1_000), "0.000001s");
        assert_eq!(format_proto_duration(-SECOND - 1), "-1.000000001s");
        for bad in [
            "",
            "s",
            "1",
            "1m",
            "1.s",
            ".5s",
            "1.0000000001s",
            "1e3s",
            "+1s",
            "1 s",
        ] {
            assert_eq!(parse_proto_duration(bad), None, "{bad:?}");
        }
    }
}
