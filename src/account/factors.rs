//! Second factors: TOTP (RFC 6238) with single-use recovery codes, and the second step of a
//! login (OWASP ASVS 5.0 V6.5, V6.6; OWASP Multifactor Authentication cheat sheet).
//!
//! The TOTP secret is 160 random bits (RFC 4226 §4), sealed at rest with a key derived from the
//! secret key and bound to the account. A code is accepted for the current 30-second step or
//! one step either side (RFC 6238 §5.2), and only for a step newer than the last one accepted,
//! recorded in one statement, so a code works once even across nodes. Recovery codes carry 120
//! random bits each, so a plain hash is enough to store them (ASVS 5.0 V6.5.2). Wrong codes are
//! throttled like passwords.

use std::fmt::Write as _;
use std::sync::Arc;

use qrcodegen::{QrCode, QrCodeEcc};
use totp_rs::{Algorithm, Builder, Totp};

use super::records::{User, UserId};
use super::{Accounts, Actor};
use crate::crypto::{self, KeyRing};
use crate::error::ApiError;
use crate::peer::Peer;

/// Seconds per TOTP step (RFC 6238's default; what every authenticator app uses).
const STEP_SECS: u64 = 30;
const DIGITS: u8 = 6;
/// Recovery codes per set, each used once.
const RECOVERY_CODES: usize = 10;
/// Random bytes per recovery code: 120 bits, above ASVS's 112 for codes stored as plain hashes.
const RECOVERY_CODE_BYTES: usize = 15;
/// Lower-case base32 without the look-alikes 0/o and 1/l.
const RECOVERY_ALPHABET: &[u8; 32] = b"abcdefghijkmnpqrstuvwxyz23456789";

/// What second factors need beside the account services' stores.
pub struct FactorSettings {
    /// Seals TOTP secrets (the configured secret keys).
    pub keys: KeyRing,
    /// The `issuer` shown in authenticator apps.
    pub issuer: String,
    /// How recent a login spares a sensitive change the password (`session.fresh_auth_secs`).
    pub fresh_auth: time::Duration,
}

/// The start of a TOTP enrolment, shown once to the holder.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct TotpEnrolment {
    /// Base32, for typing into an app.
    pub secret: String,
    pub otpauth_uri: String,
    /// The URI as a QR code, an SVG document.
    pub qr_svg: String,
}

/// What a sensitive change can go on: when this session's login happened, and the password if
/// the holder gave it again.
pub struct Freshness<'a> {
    pub logged_in_at: time::OffsetDateTime,
    pub password: Option<&'a str>,
    /// The browser's device-cookie id for the account (see `throttle`).
    pub device: Option<&'a str>,
}

/// A second factor as the holder gives it.
pub enum SecondFactor {
    Totp(String),
    RecoveryCode(String),
    /// An assertion answering the passkey step begun under `key` (see `passkeys`).
    Passkey {
        key: [u8; 32],
        credential: Box<webauthn_rs::prelude::PublicKeyCredential>,
    },
}

/// Which factors an account has, for `GET /users/me/totp`.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct FactorState {
    pub totp: bool,
    pub passkeys: usize,
    pub recovery_codes_left: u64,
}

fn seal_context(user: UserId) -> Vec<u8> {
    format!("totp secret of user {user}").into_bytes()
}

impl Accounts {
    fn totp(&self, user: &User, secret: Vec<u8>) -> Result<Totp, ApiError> {
        Builder::new()
            .with_algorithm(Algorithm::SHA1)
            .with_digits(DIGITS)
            .with_skew(1)
            .with_step_duration(STEP_SECS)
            .with_secret(secret)
            .with_issuer(Some(self.factor_settings.issuer.as_str()))
            .with_account_name(user.username.as_str())
            .build()
            .map_err(|e| ApiError::internal(anyhow::anyhow!("totp parameters: {e}")))
    }

    /// Re-authentication for a sensitive change (OWASP ASVS 5.0 V6.2.3): a login within
    /// `session.fresh_auth_secs` is enough; otherwise the password again, throttled like a
    /// login (422 `fields.password: required` tells the client to ask for it). A password given
    /// is always checked.
    pub async fn confirm_identity(
        &self,
        user: &User,
        proof: Freshness<'_>,
        peer: &Peer,
    ) -> Result<(), ApiError> {
        let given = proof.password.filter(|p| !p.is_empty());
        let fresh = self.clock.now() - proof.logged_in_at < self.factor_settings.fresh_auth;
        if given.is_none() && fresh {
            return Ok(());
        }
        self.reauthenticate(user, given, "password", proof.device, peer)
            .await
            .map(drop)
    }

    fn current_step(&self) -> i64 {
        self.clock.now().unix_timestamp() / STEP_SECS as i64
    }

    /// Starts TOTP enrolment after the holder proves their password again: a new secret,
    /// pending until [`Accounts::confirm_totp`]. 409 `totp_already_enabled` when one is on.
    pub async fn begin_totp(
        &self,
        user: &User,
        proof: Freshness<'_>,
        peer: &Peer,
    ) -> Result<TotpEnrolment, ApiError> {
        self.confirm_identity(user, proof, peer).await?;
        let secret = crypto::random_bytes::<20>();
        let totp = self.totp(user, secret.to_vec())?;
        let sealed = self
            .factor_settings
            .keys
            .seal(&secret, &seal_context(user.id));
        if !self
            .factors
            .begin_totp(user.id, &sealed, self.clock.now())
            .await?
        {
            return Err(ApiError::TotpAlreadyEnabled);
        }
        let uri = totp
            .to_url()
            .map_err(|e| ApiError::internal(anyhow::anyhow!("otpauth URI: {e}")))?;
        Ok(TotpEnrolment {
            secret: totp.secret().to_base32(),
            qr_svg: qr_svg(&uri),
            otpauth_uri: uri,
        })
    }

    /// Turns TOTP on with a first valid code and answers the recovery codes (shown once).
    pub async fn confirm_totp(
        &self,
        user: &User,
        code: Option<&str>,
        peer: &Peer,
    ) -> Result<Vec<String>, ApiError> {
        let code = code
            .filter(|c| !c.trim().is_empty())
            .ok_or_else(|| ApiError::field("code", "required"))?;
        let pending = self
            .factors
            .totp(user.id)
            .await?
            .filter(|f| !f.confirmed)
            .ok_or_else(|| ApiError::field("code", "no_enrolment"))?;
        let step = self
            .matching_step(user, &pending.sealed, pending.last_step, code)?
            .ok_or_else(|| ApiError::field("code", "invalid_code"))?;
        if !self.factors.use_totp_step(user.id, step, true).await? {
            return Err(ApiError::field("code", "invalid_code"));
        }
        let codes = self.new_recovery_codes(user).await?;
        self.audit
            .record(self.audit.event("totp_enabled", peer).user(user))
            .await;
        Ok(codes)
    }

    /// Turns TOTP off; needs a current factor (a code or a recovery code). The recovery codes
    /// stay while a passkey is left.
    pub async fn disable_totp(
        &self,
        user: &User,
        factor: SecondFactor,
        peer: &Peer,
    ) -> Result<(), ApiError> {
        if !matches!(self.factors.totp(user.id).await?, Some(f) if f.confirmed) {
            return Err(ApiError::TotpNotEnabled);
        }
        self.pass_factor(user, factor, peer).await?;
        self.factors.remove_totp(user.id).await?;
        self.audit
            .record(self.audit.event("totp_disabled", peer).user(user))
            .await;
        Ok(())
    }

    /// A new set of recovery codes (the old ones die), after the password again.
    pub async fn regenerate_recovery_codes(
        &self,
        user: &User,
        proof: Freshness<'_>,
        peer: &Peer,
    ) -> Result<Vec<String>, ApiError> {
        self.confirm_identity(user, proof, peer).await?;
        if self.second_factors(user).await?.is_empty() {
            return Err(ApiError::TotpNotEnabled);
        }
        let codes = self.new_recovery_codes(user).await?;
        self.audit
            .record(
                self.audit
                    .event("recovery_codes_regenerated", peer)
                    .user(user),
            )
            .await;
        Ok(codes)
    }

    /// The second factors a login to `user` needs, in the wire's names; empty without one.
    pub async fn second_factors(&self, user: &User) -> Result<Vec<&'static str>, ApiError> {
        let mut factors = Vec::new();
        if matches!(self.factors.totp(user.id).await?, Some(f) if f.confirmed) {
            factors.push("totp");
        }
        if !self.passkeys.passkeys(user.id).await?.is_empty() {
            factors.push("webauthn");
        }
        if !factors.is_empty() {
            factors.push("recovery_code");
        }
        Ok(factors)
    }

    pub async fn factor_state(&self, user: &User) -> Result<FactorState, ApiError> {
        let totp = matches!(self.factors.totp(user.id).await?, Some(f) if f.confirmed);
        Ok(FactorState {
            totp,
            passkeys: self.passkeys.passkeys(user.id).await?.len(),
            recovery_codes_left: self.factors.recovery_codes_left(user.id).await?,
        })
    }

    /// The second step of a login: the factor for the account whose password was right
    /// moments ago. Throttled; one answer (401 `invalid_credentials`) for every wrong factor.
    pub async fn complete_login(
        &self,
        user_id: UserId,
        factor: SecondFactor,
        peer: &Peer,
    ) -> Result<User, ApiError> {
        let user = self
            .users
            .get(user_id)
            .await?
            .filter(|u| !u.disabled)
            .ok_or(ApiError::InvalidCredentials)?;
        self.pass_factor(&user, factor, peer).await?;
        Ok(Arc::unwrap_or_clone(user))
    }

    /// An operator removes an account's second factors, TOTP and passkeys (a lost phone and no
    /// recovery codes): audited; `false` when it had none.
    pub async fn reset_factors(
        &self,
        user: &User,
        actor: Actor<'_>,
        peer: &Peer,
    ) -> Result<bool, ApiError> {
        let had = self.factors.remove_factors(user.id).await?;
        let event = self
            .audit
            .event("factors_reset", peer)
            .user(user)
            .detail(actor.detail());
        self.audit.record(event).await;
        Ok(had)
    }

    /// Checks a factor of `user`, throttled like a password (ASVS 5.0 V6.3.1); spends it.
    async fn pass_factor(
        &self,
        user: &User,
        factor: SecondFactor,
        peer: &Peer,
    ) -> Result<(), ApiError> {
        let attempt = self
            .throttle
            .attempt(&format!("mfa:{}", user.username.key()), peer.ip, None);
        self.throttle.check(&attempt).await?;
        let (passed, kind) = match &factor {
            SecondFactor::Totp(code) => (self.spend_totp(user, code).await?, "totp"),
            SecondFactor::RecoveryCode(code) => {
                let hash = crypto::hash(normalise_recovery_code(code).as_bytes());
                (
                    self.factors.use_recovery_code(user.id, &hash).await?,
                    "recovery_code",
                )
            }
            SecondFactor::Passkey { key, credential } => {
                (self.spend_passkey(user, key, credential).await?, "webauthn")
            }
        };
        if !passed {
            self.throttle.failed(&attempt).await?;
            self.metrics.login(false);
            let event = self.audit.event("mfa_failed", peer).user(user).detail(kind);
            self.audit.record(event).await;
            return Err(ApiError::InvalidCredentials);
        }
        self.throttle.succeeded(&attempt).await?;
        if kind == "recovery_code" {
            let left = self.factors.recovery_codes_left(user.id).await?;
            let event = self
                .audit
                .event("recovery_code_used", peer)
                .user(user)
                .detail(format!("{left} left"));
            self.audit.record(event).await;
        }
        Ok(())
    }

    /// Whether `code` is a current, unused TOTP code of `user`'s confirmed factor; records its
    /// step as used.
    async fn spend_totp(&self, user: &User, code: &str) -> Result<bool, ApiError> {
        let Some(factor) = self.factors.totp(user.id).await?.filter(|f| f.confirmed) else {
            return Ok(false);
        };
        match self.matching_step(user, &factor.sealed, factor.last_step, code)? {
            Some(step) => Ok(self.factors.use_totp_step(user.id, step, false).await?),
            None => Ok(false),
        }
    }

    /// The step (now, or one either side) whose code is `code`, if newer than `last_step`.
    fn matching_step(
        &self,
        user: &User,
        sealed: &[u8],
        last_step: i64,
        code: &str,
    ) -> Result<Option<i64>, ApiError> {
        let code = code.trim();
        if code.len() != usize::from(DIGITS) || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Ok(None);
        }
        let secret = self
            .factor_settings
            .keys
            .open(sealed, &seal_context(user.id))
            .ok_or_else(|| {
                ApiError::internal(anyhow::anyhow!(
                    "the TOTP secret of user {} does not open with any configured key",
                    user.id
                ))
            })?;
        let totp = self.totp(user, secret)?;
        let now = self.current_step();
        // Every candidate is compared, in constant time, whichever matches.
        let mut found = None;
        for step in [now - 1, now, now + 1] {
            let expected = totp
                .generate(u64::try_from(step).unwrap_or(0) * STEP_SECS)
                .to_string();
            if crypto::ct_eq(expected.as_bytes(), code.as_bytes()) && step > last_step {
                found = Some(step);
            }
        }
        Ok(found)
    }

    /// Ten new recovery codes replacing the old ones; only their hashes are kept.
    pub(super) async fn new_recovery_codes(&self, user: &User) -> Result<Vec<String>, ApiError> {
        let codes: Vec<String> = (0..RECOVERY_CODES).map(|_| recovery_code()).collect();
        let hashes: Vec<[u8; 32]> = codes
            .iter()
            .map(|c| crypto::hash(normalise_recovery_code(c).as_bytes()))
            .collect();
        self.factors
            .replace_recovery_codes(user.id, &hashes, self.clock.now())
            .await?;
        Ok(codes)
    }
}

/// `xxxx-xxxx-xxxx-xxxx-xxxx-xxxx`: 24 base32 characters, 120 random bits.
fn recovery_code() -> String {
    let bytes = crypto::random_bytes::<RECOVERY_CODE_BYTES>();
    let mut bits: u32 = 0;
    let mut held = 0;
    let mut out = String::with_capacity(29);
    for byte in bytes {
        bits = (bits << 8) | u32::from(byte);
        held += 8;
        while held >= 5 {
            held -= 5;
            if !out.is_empty() && out.len() % 5 == 4 {
                out.push('-');
            }
            out.push(char::from(
                RECOVERY_ALPHABET[((bits >> held) & 31) as usize],
            ));
        }
    }
    out
}

/// Case, spaces and dashes do not matter when a recovery code is typed.
fn normalise_recovery_code(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// `text` as a QR code in an SVG document, one square per dark module, with the quiet zone.
fn qr_svg(text: &str) -> String {
    const BORDER: i32 = 4;
    let qr = match QrCode::encode_text(text, QrCodeEcc::Medium) {
        Ok(qr) => qr,
        // An otpauth URI is far below a QR code's capacity.
        Err(_) => return String::new(),
    };
    let size = qr.size();
    let mut path = String::new();
    for y in 0..size {
        for x in 0..size {
            if qr.get_module(x, y) {
                let _ = write!(path, "M{},{}h1v1h-1z", x + BORDER, y + BORDER);
            }
        }
    }
    let dim = size + 2 * BORDER;
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {dim} {dim}\" shape-rendering=\"crispEdges\"><rect width=\"100%\" height=\"100%\" fill=\"#fff\"/><path d=\"{path}\" fill=\"#000\"/></svg>"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovery_codes_are_24_unambiguous_characters_in_groups_of_four() {
        let code = recovery_code();
        assert_eq!(code.len(), 29, "{code}");
        assert_eq!(code.split('-').count(), 6, "{code}");
        assert!(
            code.chars()
                .all(|c| c == '-' || RECOVERY_ALPHABET.contains(&(c as u8))),
            "{code}"
        );
        assert_ne!(recovery_code(), code);
        assert_eq!(normalise_recovery_code(" ABCD-efgh "), "abcdefgh");
    }

    #[test]
    fn the_qr_code_is_an_svg_document() {
        let svg = qr_svg("otpauth://totp/Gatehouse:ada?secret=JBSWY3DPEHPK3PXP&issuer=Gatehouse");
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(
            svg.contains("<path d=\"M4,4h1v1h-1z"),
            "the finder pattern's corner"
        );
    }
}
