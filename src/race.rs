//! Seed 004's live race standings: a small simulated race that advances with the clock.
//!
//! The race is a pure function of time (one lap every [`LAP_SECONDS`], restarting after
//! [`LAPS`]), so every node of a cluster shows the same standings without sharing state, and
//! tests move the injected clock instead of waiting.

use serde::Serialize;
use time::OffsetDateTime;

pub const LAP_SECONDS: i64 = 20;
pub const LAPS: i64 = 50;

/// (driver, team, base lap time in milliseconds)
const GRID: &[(&str, &str, i64)] = &[
    ("Ana Ferreira", "Meridian", 81_200),
    ("Lukas Brandt", "Meridian", 81_350),
    ("Chidi Obi", "Stratos", 81_300),
    ("Mei Tanaka", "Stratos", 81_500),
    ("Pavel Novak", "Halcyon", 81_450),
    ("Sofia Marchetti", "Halcyon", 81_650),
    ("Diego Alvarez", "Tempest", 81_700),
    ("Noor Haddad", "Tempest", 81_800),
];

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RaceResults {
    pub lap: i64,
    pub standings: Vec<Standing>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Standing {
    pub position: usize,
    pub driver: &'static str,
    pub team: &'static str,
    /// Gap to the leader: `"Leader"` or `"+1.234"` seconds.
    pub gap: String,
}

/// The standings at `now`.
pub fn results(now: OffsetDateTime) -> RaceResults {
    let elapsed_laps = now.unix_timestamp().div_euclid(LAP_SECONDS);
    let race = elapsed_laps.div_euclid(LAPS);
    let lap = elapsed_laps.rem_euclid(LAPS) + 1;
    let mut totals: Vec<(i64, usize)> = GRID
        .iter()
        .enumerate()
        .map(|(car, (_, _, base))| {
            let total = (1..=lap).map(|l| base + jitter(race, l, car)).sum::<i64>();
            (total, car)
        })
        .collect();
    totals.sort();
    let leader = totals[0].0;
    let standings = totals
        .iter()
        .enumerate()
        .map(|(i, &(total, car))| Standing {
            position: i + 1,
            driver: GRID[car].0,
            team: GRID[car].1,
            gap: if i == 0 {
                "Leader".into()
            } else {
                let ms = total - leader;
                format!("+{}.{:03}", ms / 1000, ms % 1000)
            },
        })
        .collect();
    RaceResults { lap, standings }
}

/// A deterministic lap-time variation of 0..1500 ms for one car on one lap of one race.
fn jitter(race: i64, lap: i64, car: usize) -> i64 {
    let seed = format!("{race}:{lap}:{car}");
    let h = crate::crypto::hash(seed.as_bytes());
    i64::from(u16::from_le_bytes([h[0], h[1]]) % 1500)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_race_advances_one_lap_per_interval_and_restarts() {
        let t = OffsetDateTime::from_unix_timestamp(LAP_SECONDS * LAPS * 1000).unwrap();
        assert_eq!(results(t).lap, 1);
        assert_eq!(results(t + time::Duration::seconds(LAP_SECONDS)).lap, 2);
        assert_eq!(
            results(t + time::Duration::seconds(LAP_SECONDS * LAPS)).lap,
            1
        );
    }

    #[test]
    fn standings_are_ordered_with_growing_gaps() {
        let r = results(OffsetDateTime::from_unix_timestamp(1_000_000).unwrap());
        assert_eq!(r.standings.len(), GRID.len());
        assert_eq!(r.standings[0].gap, "Leader");
        let gaps: Vec<f64> = r.standings[1..]
            .iter()
            .map(|s| s.gap[1..].parse().unwrap())
            .collect();
        assert!(gaps.windows(2).all(|w| w[0] <= w[1]), "{gaps:?}");
    }
}
