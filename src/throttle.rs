//! Brute-force protection for logins (OWASP Authentication cheat sheet, "Protect against
//! automated attacks"; ASVS 5.0 V6.3.1).
//!
//! Failures are counted in fixed windows under three keys: account + client address, client
//! address alone (password spraying), and account alone (distributed guessing). IPv6 addresses
//! count per /64, since one host can use a whole /64. Over any limit the login is refused with
//! 429 before the password is checked. Unknown usernames are counted like real ones, so the
//! answer reveals nothing about which accounts exist.
//!
//! So that an attacker cannot lock the real user out, a browser that has logged in to the
//! account before holds a signed device cookie for it (OWASP "device cookies"): its attempts are
//! counted under account + device only, and the address and account limits do not hold it back.

use std::net::IpAddr;
use std::sync::Arc;

use crate::clock::Clock;
use crate::config::ThrottleConfig;
use crate::error::ApiError;
use crate::store::{Counter, ThrottleStore};

pub struct Throttle {
    store: Arc<dyn ThrottleStore>,
    config: ThrottleConfig,
    clock: Arc<dyn Clock>,
}

/// The counters one login attempt is judged by, with their limits.
pub struct Attempt {
    keys: Vec<(String, u32)>,
    /// The key a success clears.
    personal: String,
}

/// The counting unit for an address: the address itself for IPv4, its /64 for IPv6.
pub fn address_key(ip: Option<IpAddr>) -> String {
    match ip {
        Some(IpAddr::V4(v4)) => v4.to_string(),
        Some(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
        None => "unknown".into(),
    }
}

impl Throttle {
    pub fn new(
        store: Arc<dyn ThrottleStore>,
        config: ThrottleConfig,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            store,
            config,
            clock,
        }
    }

    /// The counters for a login to `account` (the case-folded username as typed) from `ip`,
    /// or from a browser holding a device cookie for that account.
    pub fn attempt(&self, account: &str, ip: Option<IpAddr>, device: Option<&str>) -> Attempt {
        let c = &self.config;
        match device {
            Some(device) => {
                let personal = format!("account+device:{account}:{device}");
                Attempt {
                    keys: vec![(personal.clone(), c.per_account_and_ip)],
                    personal,
                }
            }
            None => {
                let address = address_key(ip);
                let personal = format!("account+ip:{account}:{address}");
                Attempt {
                    keys: vec![
                        (personal.clone(), c.per_account_and_ip),
                        (format!("ip:{address}"), c.per_ip),
                        (format!("account:{account}"), c.per_account),
                    ],
                    personal,
                }
            }
        }
    }

    /// 429 `rate_limited` if any counter of the attempt is at its limit.
    pub async fn check(&self, attempt: &Attempt) -> Result<(), ApiError> {
        let now = self.clock.now();
        for (key, limit) in &attempt.keys {
            let counter = self.store.peek(key, now, self.config.window).await?;
            if counter.count >= *limit {
                return Err(self.refusal(counter));
            }
        }
        Ok(())
    }

    pub async fn failed(&self, attempt: &Attempt) -> Result<(), ApiError> {
        let now = self.clock.now();
        for (key, _) in &attempt.keys {
            self.store.hit(key, now, self.config.window).await?;
        }
        Ok(())
    }

    /// A success forgives this account's failures from this address or device.
    pub async fn succeeded(&self, attempt: &Attempt) -> Result<(), ApiError> {
        Ok(self.store.clear(&attempt.personal).await?)
    }

    /// Counts one use of something limited that is not a login (a reset or verification mail)
    /// under `key`; 429 once more than `limit` fall in one window.
    pub async fn spend(&self, key: &str, limit: u32) -> Result<(), ApiError> {
        let counter = self
            .store
            .hit(key, self.clock.now(), self.config.window)
            .await?;
        if counter.count > limit {
            return Err(self.refusal(counter));
        }
        Ok(())
    }

    fn refusal(&self, counter: Counter) -> ApiError {
        let wait = (counter.resets_at - self.clock.now())
            .whole_seconds()
            .max(1);
        ApiError::RateLimited {
            retry_after_secs: u64::try_from(wait).unwrap_or(1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::address_key;

    #[test]
    fn ipv6_addresses_count_per_64_and_mapped_ipv4_as_ipv4() {
        let a = address_key(Some("2001:db8:1:2:aaaa::1".parse().unwrap()));
        let b = address_key(Some("2001:db8:1:2:bbbb::9".parse().unwrap()));
        let c = address_key(Some("2001:db8:1:3::1".parse().unwrap()));
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(
            address_key(Some("::ffff:192.0.2.1".parse().unwrap())),
            "192.0.2.1"
        );
    }
}
