//! What an authenticator app does: RFC 6238 codes from the key Gatehouse handed out, on the
//! test app's manual clock.

use totp_rs::{Algorithm, Builder, Secret, Totp};

use super::TestApp;

pub struct Authenticator(Totp);

impl Authenticator {
    /// From the base32 `secret` of `POST /users/me/totp`.
    pub fn from_secret(secret: &str) -> Self {
        let secret = Secret::try_from_base32(secret).expect("a base32 secret");
        let totp = Builder::new()
            .with_algorithm(Algorithm::SHA1)
            .with_digits(6)
            .with_step_duration(30)
            .with_secret(secret.as_ref().to_vec())
            .build_noncompliant();
        Self(totp)
    }

    /// The code of the step `offset` steps from the app's clock.
    pub fn code(&self, app: &TestApp, offset: i64) -> String {
        self.code_at(gatehouse::clock::Clock::now(&*app.clock).unix_timestamp() + offset * 30)
    }

    /// The code of the step `offset` steps from the real time (for servers on the system clock).
    pub fn code_now(&self, offset: i64) -> String {
        self.code_at(time::OffsetDateTime::now_utc().unix_timestamp() + offset * 30)
    }

    fn code_at(&self, unix: i64) -> String {
        self.0.generate(u64::try_from(unix).unwrap()).to_string()
    }
}
