//! The injected clock. All expiry decisions read time from a [`Clock`], so tests move time
//! forward instead of sleeping.

use std::sync::Mutex;
use time::{Duration, OffsetDateTime};

pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> OffsetDateTime;
}

/// Wall-clock time, used in production.
#[derive(Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// A clock that only moves when told to.
#[derive(Debug)]
pub struct ManualClock(Mutex<OffsetDateTime>);

impl ManualClock {
    pub fn new(start: OffsetDateTime) -> Self {
        Self(Mutex::new(start))
    }

    pub fn advance(&self, by: Duration) {
        let mut now = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *now += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// RFC 3339 in UTC, the one timestamp format of the API.
pub fn rfc3339(t: OffsetDateTime) -> String {
    Rfc3339(t).write(&mut [0; 20]).to_owned()
}

/// A time that serialises as [`rfc3339`], formatted on the stack (an answer carries several).
#[derive(Clone, Copy, Debug)]
pub struct Rfc3339(pub OffsetDateTime);

impl Rfc3339 {
    /// Whole seconds in UTC, `YYYY-MM-DDTHH:MM:SSZ`; empty for a year RFC 3339 cannot write
    /// (outside 0-9999). Written digit by digit: `time`'s general formatter costs about as much
    /// as the rest of a session check's JSON.
    fn write(self, buf: &mut [u8; 20]) -> &str {
        let Some(t) = self.0.checked_to_offset(time::UtcOffset::UTC) else {
            return "";
        };
        let Ok(year) = u16::try_from(t.year()) else {
            return "";
        };
        if year > 9999 {
            return "";
        }
        let (hour, minute, second) = t.to_hms();
        let mut at = 0;
        let mut put = |value: u16, digits: u32, then: u8| {
            for i in (0..digits).rev() {
                buf[at] = b'0' + (value / 10u16.pow(i) % 10) as u8;
                at += 1;
            }
            buf[at] = then;
            at += 1;
        };
        put(year, 4, b'-');
        put(u8::from(t.month()).into(), 2, b'-');
        put(t.day().into(), 2, b'T');
        put(hour.into(), 2, b':');
        put(minute.into(), 2, b':');
        put(second.into(), 2, b'Z');
        std::str::from_utf8(&buf[..]).unwrap_or_default()
    }
}

impl serde::Serialize for Rfc3339 {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.write(&mut [0; 20]))
    }
}

pub fn from_unix(secs: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(secs).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// Serde helper: a time as an RFC 3339 string in UTC.
pub fn serialize_rfc3339<S: serde::Serializer>(
    t: &OffsetDateTime,
    s: S,
) -> Result<S::Ok, S::Error> {
    serde::Serialize::serialize(&Rfc3339(*t), s)
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::{Rfc3339, rfc3339};

    #[test]
    fn times_are_written_in_utc_to_the_second_and_a_year_rfc_3339_cannot_hold_is_empty() {
        let t = datetime!(2026-12-03 15:24:42.987 +01:00);
        assert_eq!(rfc3339(t), "2026-12-03T14:24:42Z");
        assert_eq!(
            serde_json::to_string(&Rfc3339(t)).unwrap(),
            "\"2026-12-03T14:24:42Z\""
        );
        assert_eq!(rfc3339(datetime!(-0001-06-01 00:00 UTC)), "");
        assert_eq!(
            rfc3339(datetime!(0000-01-01 00:00 UTC)),
            "0000-01-01T00:00:00Z"
        );
        assert_eq!(
            rfc3339(datetime!(9999-12-31 23:59:59.999 UTC)),
            "9999-12-31T23:59:59Z"
        );
    }

    #[test]
    fn times_are_written_as_the_time_crate_writes_rfc_3339() {
        let rfc = &time::format_description::well_known::Rfc3339;
        // Every few hours and seconds over two centuries, leap days included.
        let mut t = datetime!(1901-01-01 00:00:00 UTC);
        while t.year() < 2101 {
            assert_eq!(rfc3339(t), t.format(rfc).unwrap());
            t += time::Duration::seconds(7 * 3600 + 31 * 60 + 13);
        }
    }
}
