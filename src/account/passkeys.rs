//! Passkeys: WebAuthn credentials (through webauthn-rs) to log in with alone, without a
//! username, or to give as the second factor after a password (OWASP ASVS 5.0 V6.5, V6.6;
//! WebAuthn L3).
//!
//! Every passkey is made discoverable and with user verification required, so one passkey is
//! possession plus a PIN or biometric: a login with it alone is multi-factor. A ceremony's state
//! (the challenge, the credentials allowed) is kept server-side under a key bound to the
//! browser's (pre-)session and its purpose, for five minutes, and taken once: a challenge is
//! answered once, only by the browser it was given to, and on any node.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use time::Duration;
use webauthn_rs::prelude::{
    CreationChallengeResponse, DiscoverableAuthentication, Passkey, PasskeyAuthentication,
    PasskeyRegistration, PublicKeyCredential, RegisterPublicKeyCredential,
    RequestChallengeResponse, Url, Uuid, Webauthn, WebauthnBuilder,
};

use super::Accounts;
use super::factors::Freshness;
use super::records::{User, UserId};
use crate::clock::rfc3339;
use crate::config::RelyingParty;
use crate::crypto;
use crate::error::ApiError;
use crate::peer::Peer;
use crate::store::StoredPasskey;

/// How long a challenge may wait for its answer.
const CEREMONY_LIFETIME: Duration = Duration::minutes(5);
/// Passkeys per account.
const MAX_PASSKEYS: usize = 20;
/// Characters in a passkey's name.
const MAX_NAME_CHARS: usize = 64;

/// What a ceremony key is for: a state kept for one purpose is never taken for another.
#[derive(Clone, Copy, Debug)]
pub enum CeremonyPurpose {
    Register,
    Login,
    SecondFactor,
}

impl CeremonyPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Register => "register",
            Self::Login => "login",
            Self::SecondFactor => "second_factor",
        }
    }
}

/// A ceremony's state as stored.
#[derive(Serialize, Deserialize)]
enum Ceremony {
    Register {
        user_id: UserId,
        state: PasskeyRegistration,
    },
    Login(DiscoverableAuthentication),
    SecondFactor {
        user_id: UserId,
        state: PasskeyAuthentication,
    },
}

/// A passkey as its holder sees it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PasskeyInfo {
    pub id: String,
    pub name: String,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339; `null` until first used.
    pub last_used_at: Option<String>,
}

impl From<&StoredPasskey> for PasskeyInfo {
    fn from(p: &StoredPasskey) -> Self {
        Self {
            id: p.id.clone(),
            name: p.name.clone(),
            created_at: rfc3339(p.created_at),
            last_used_at: p.last_used_at.map(rfc3339),
        }
    }
}

/// The relying party for `rp`: its ID, name and the exact origins allowed (no subdomains, no
/// other ports: WebAuthn L3 §7.1 step 9).
pub fn relying_party(rp: &RelyingParty) -> anyhow::Result<Webauthn> {
    let urls = rp
        .origins
        .iter()
        .map(|o| Url::parse(o.as_str()))
        .collect::<Result<Vec<_>, _>>()?;
    let (first, rest) = urls
        .split_first()
        .ok_or_else(|| anyhow::anyhow!("passkeys: no origin"))?;
    let mut builder = WebauthnBuilder::new(&rp.id, first)
        .map_err(|e| anyhow::anyhow!("passkeys: rp_id {} and {first}: {e}", rp.id))?
        .rp_name(&rp.name);
    for url in rest {
        builder = builder.append_allowed_origin(url);
    }
    builder
        .build()
        .map_err(|e| anyhow::anyhow!("passkeys: {e}"))
}

fn internal(what: &str, e: impl std::fmt::Display) -> ApiError {
    ApiError::internal(anyhow::anyhow!("{what}: {e}"))
}

/// A passkey's name as given: trimmed, 1 to 64 characters, no control characters; "Passkey"
/// when none is given.
fn passkey_name(name: Option<&str>) -> Result<String, ApiError> {
    let name = name
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .unwrap_or("Passkey");
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(ApiError::field("name", "too_long"));
    }
    if name.chars().any(char::is_control) {
        return Err(ApiError::field("name", "invalid"));
    }
    Ok(name.to_owned())
}

impl Accounts {
    fn webauthn(&self) -> Result<&Webauthn, ApiError> {
        self.webauthn
            .as_deref()
            .ok_or(ApiError::PasskeysNotConfigured)
    }

    /// Whether `[passkeys]` is on.
    pub fn passkeys_enabled(&self) -> bool {
        self.webauthn.is_some()
    }

    async fn keep_ceremony(&self, key: &[u8; 32], ceremony: &Ceremony) -> Result<(), ApiError> {
        let state = serde_json::to_string(ceremony).map_err(|e| internal("ceremony state", e))?;
        let expires = self.clock.now() + CEREMONY_LIFETIME;
        Ok(self.ceremonies.put_ceremony(key, &state, expires).await?)
    }

    async fn take_ceremony(&self, key: &[u8; 32]) -> Result<Ceremony, ApiError> {
        let state = self
            .ceremonies
            .take_ceremony(key, self.clock.now())
            .await?
            .ok_or(ApiError::PasskeyChallengeMissing)?;
        serde_json::from_str(&state).map_err(|_| ApiError::PasskeyChallengeMissing)
    }

    /// The account's passkeys, parsed.
    async fn stored_passkeys(
        &self,
        user_id: UserId,
    ) -> Result<Vec<(StoredPasskey, Passkey)>, ApiError> {
        let mut out = Vec::new();
        for stored in self.passkeys.passkeys(user_id).await? {
            let passkey = serde_json::from_str(&stored.credential)
                .map_err(|e| internal("stored passkey", e))?;
            out.push((stored, passkey));
        }
        Ok(out)
    }

    /// Starts registering a passkey (after the password again unless the login is fresh): the
    /// options for `navigator.credentials.create()`.
    pub async fn begin_passkey_registration(
        &self,
        user: &User,
        proof: Freshness<'_>,
        key: &[u8; 32],
        peer: &Peer,
    ) -> Result<CreationChallengeResponse, ApiError> {
        let webauthn = self.webauthn()?;
        self.confirm_identity(user, proof, peer).await?;
        let existing = self.passkeys.passkeys(user.id).await?;
        if existing.len() >= MAX_PASSKEYS {
            return Err(ApiError::field("credential", "too_many_passkeys"));
        }
        let handle = self
            .passkeys
            .user_handle(user.id, Uuid::new_v4().as_bytes())
            .await?;
        let handle = Uuid::from_slice(&handle).map_err(|e| internal("user handle", e))?;
        let exclude = existing.into_iter().map(|p| p.credential_id).collect();
        let display = user
            .name
            .as_ref()
            .map_or(user.username.as_str(), |n| n.as_str());
        let (mut options, state) = webauthn
            .start_passkey_registration(handle, user.username.as_str(), display, Some(exclude))
            .map_err(|e| internal("passkey options", e))?;
        // Discoverable, so the login needs no username (WebAuthn L3 §5.4.4 residentKey).
        if let Some(selection) = options.public_key.authenticator_selection.as_mut() {
            selection.require_resident_key = true;
            selection.resident_key = Some(webauthn_rs_proto::ResidentKeyRequirement::Required);
        }
        let ceremony = Ceremony::Register {
            user_id: user.id,
            state,
        };
        self.keep_ceremony(key, &ceremony).await?;
        Ok(options)
    }

    /// Finishes a registration begun by this session: the passkey, and the recovery codes when
    /// the account had none (shown once).
    pub async fn finish_passkey_registration(
        &self,
        user: &User,
        key: &[u8; 32],
        name: Option<&str>,
        credential: &RegisterPublicKeyCredential,
        peer: &Peer,
    ) -> Result<(PasskeyInfo, Option<Vec<String>>), ApiError> {
        let webauthn = self.webauthn()?;
        // A bad name must not spend the challenge.
        let name = passkey_name(name)?;
        let Ceremony::Register { user_id, state } = self.take_ceremony(key).await? else {
            return Err(ApiError::PasskeyChallengeMissing);
        };
        if user_id != user.id {
            return Err(ApiError::PasskeyChallengeMissing);
        }
        let passkey = webauthn
            .finish_passkey_registration(credential, &state)
            .map_err(|e| {
                tracing::info!(user = user.id, error = %e, "passkey registration refused");
                ApiError::field("credential", "rejected")
            })?;
        let stored = StoredPasskey {
            id: crypto::encode(&crypto::random_bytes::<12>()),
            user_id,
            credential_id: passkey.cred_id().to_vec(),
            name,
            credential: serde_json::to_string(&passkey).map_err(|e| internal("passkey", e))?,
            created_at: self.clock.now(),
            last_used_at: None,
        };
        if !self.passkeys.add_passkey(&stored).await? {
            return Err(ApiError::PasskeyAlreadyRegistered);
        }
        // A passkey is a second factor for password logins: the way back if it is lost.
        let codes = match self.factors.recovery_codes_left(user.id).await? {
            0 => Some(self.new_recovery_codes(user).await?),
            _ => None,
        };
        let event = self
            .audit
            .event("passkey_added", peer)
            .user(user)
            .detail(stored.name.clone());
        self.audit.record(event).await;
        Ok((PasskeyInfo::from(&stored), codes))
    }

    pub async fn list_passkeys(&self, user: &User) -> Result<Vec<PasskeyInfo>, ApiError> {
        let stored = self.passkeys.passkeys(user.id).await?;
        Ok(stored.iter().map(PasskeyInfo::from).collect())
    }

    pub async fn rename_passkey(
        &self,
        user: &User,
        id: &str,
        name: Option<&str>,
    ) -> Result<PasskeyInfo, ApiError> {
        if name.is_none_or(|n| n.trim().is_empty()) {
            return Err(ApiError::field("name", "required"));
        }
        let name = passkey_name(name)?;
        if !self.passkeys.rename_passkey(user.id, id, &name).await? {
            return Err(ApiError::NotFound);
        }
        let stored = self.passkeys.passkeys(user.id).await?;
        stored
            .iter()
            .find(|p| p.id == id)
            .map(PasskeyInfo::from)
            .ok_or(ApiError::NotFound)
    }

    /// Removes a passkey (after the password again unless the login is fresh); the recovery
    /// codes go too when no factor is left.
    pub async fn delete_passkey(
        &self,
        user: &User,
        id: &str,
        proof: Freshness<'_>,
        peer: &Peer,
    ) -> Result<(), ApiError> {
        let name = self
            .passkeys
            .passkeys(user.id)
            .await?
            .into_iter()
            .find(|p| p.id == id)
            .ok_or(ApiError::NotFound)?
            .name;
        self.confirm_identity(user, proof, peer).await?;
        if !self.passkeys.delete_passkey(user.id, id).await? {
            return Err(ApiError::NotFound);
        }
        let event = self
            .audit
            .event("passkey_removed", peer)
            .user(user)
            .detail(name);
        self.audit.record(event).await;
        Ok(())
    }

    /// Starts a login with a passkey alone: options for `navigator.credentials.get()` with no
    /// credentials listed (the authenticator offers the ones it holds).
    pub async fn begin_passkey_login(
        &self,
        key: &[u8; 32],
    ) -> Result<RequestChallengeResponse, ApiError> {
        let (mut options, state) = self
            .webauthn()?
            .start_discoverable_authentication()
            .map_err(|e| internal("passkey options", e))?;
        // Asked for by a button, not an autofill field: the browser's own dialog.
        options.mediation = None;
        self.keep_ceremony(key, &Ceremony::Login(state)).await?;
        Ok(options)
    }

    /// Finishes a passkey login begun in this browser: the account, if the assertion is valid
    /// for a passkey it holds. Throttled per credential and client address; one answer (401
    /// `invalid_credentials`) for every failure.
    pub async fn finish_passkey_login(
        &self,
        key: &[u8; 32],
        credential: &PublicKeyCredential,
        peer: &Peer,
    ) -> Result<User, ApiError> {
        let webauthn = self.webauthn()?;
        let Ceremony::Login(state) = self.take_ceremony(key).await? else {
            return Err(ApiError::PasskeyChallengeMissing);
        };
        let attempt = self.throttle.attempt(
            &format!("passkey:{}", crypto::encode(credential.get_credential_id())),
            peer.ip,
            None,
        );
        self.throttle.check(&attempt).await?;
        let user = match self.check_discoverable(webauthn, credential, state).await? {
            Ok(user) => user,
            Err(reason) => {
                self.throttle.failed(&attempt).await?;
                self.metrics.login(false);
                let event = self
                    .audit
                    .event("login_failed", peer)
                    .detail(format!("passkey: {reason}"));
                self.audit.record(event).await;
                return Err(ApiError::InvalidCredentials);
            }
        };
        self.throttle.succeeded(&attempt).await?;
        self.require_verified(&user, peer).await?;
        self.metrics.login(true);
        Ok(user)
    }

    /// The enabled account a discoverable assertion proves, or why not.
    async fn check_discoverable(
        &self,
        webauthn: &Webauthn,
        credential: &PublicKeyCredential,
        state: DiscoverableAuthentication,
    ) -> Result<Result<User, &'static str>, ApiError> {
        let Ok((handle, credential_id)) = webauthn.identify_discoverable_authentication(credential)
        else {
            return Ok(Err("no user handle"));
        };
        let Some(stored) = self.passkeys.passkey_by_credential(credential_id).await? else {
            return Ok(Err("unknown credential"));
        };
        // The credential must belong to the account the user handle names (WebAuthn L3 §7.2
        // step 6).
        if self.passkeys.user_for_handle(handle.as_bytes()).await? != Some(stored.user_id) {
            return Ok(Err("user handle of another account"));
        }
        let mut passkey: Passkey =
            serde_json::from_str(&stored.credential).map_err(|e| internal("stored passkey", e))?;
        let Ok(result) =
            webauthn.finish_discoverable_authentication_v2(credential, state, &passkey)
        else {
            return Ok(Err("assertion refused"));
        };
        let Some(user) = self
            .users
            .get(stored.user_id)
            .await?
            .filter(|u| !u.disabled)
        else {
            return Ok(Err("disabled"));
        };
        passkey.update_credential(&result);
        self.record_passkey_use(&stored, &passkey).await?;
        Ok(Ok(Arc::unwrap_or_clone(user)))
    }

    async fn record_passkey_use(
        &self,
        stored: &StoredPasskey,
        passkey: &Passkey,
    ) -> Result<(), ApiError> {
        let credential = serde_json::to_string(passkey).map_err(|e| internal("passkey", e))?;
        Ok(self
            .passkeys
            .passkey_used(&stored.id, &credential, self.clock.now())
            .await?)
    }

    /// Starts the passkey step of a pending login: options listing the account's passkeys.
    pub async fn begin_passkey_factor(
        &self,
        user_id: UserId,
        key: &[u8; 32],
    ) -> Result<RequestChallengeResponse, ApiError> {
        let webauthn = self.webauthn()?;
        let passkeys: Vec<Passkey> = self
            .stored_passkeys(user_id)
            .await?
            .into_iter()
            .map(|(_, p)| p)
            .collect();
        if passkeys.is_empty() {
            return Err(ApiError::field("webauthn", "no_passkey"));
        }
        let (options, state) = webauthn
            .start_passkey_authentication(&passkeys)
            .map_err(|e| internal("passkey options", e))?;
        self.keep_ceremony(key, &Ceremony::SecondFactor { user_id, state })
            .await?;
        Ok(options)
    }

    /// Whether `credential` answers the passkey step begun for `user` in this browser.
    pub(super) async fn spend_passkey(
        &self,
        user: &User,
        key: &[u8; 32],
        credential: &PublicKeyCredential,
    ) -> Result<bool, ApiError> {
        let webauthn = self.webauthn()?;
        let Ceremony::SecondFactor { user_id, state } = self.take_ceremony(key).await? else {
            return Err(ApiError::PasskeyChallengeMissing);
        };
        if user_id != user.id {
            return Err(ApiError::PasskeyChallengeMissing);
        }
        let Ok(result) = webauthn.finish_passkey_authentication(credential, &state) else {
            return Ok(false);
        };
        let found = self
            .stored_passkeys(user.id)
            .await?
            .into_iter()
            .find(|(stored, _)| stored.credential_id == *result.cred_id());
        let Some((stored, mut passkey)) = found else {
            return Ok(false);
        };
        passkey.update_credential(&result);
        self.record_passkey_use(&stored, &passkey).await?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passkey_names_are_trimmed_bounded_and_printable() {
        assert_eq!(passkey_name(None).unwrap(), "Passkey");
        assert_eq!(passkey_name(Some("  Laptop ")).unwrap(), "Laptop");
        assert!(passkey_name(Some(&"x".repeat(65))).is_err());
        assert!(passkey_name(Some("a\u{0}b")).is_err());
    }
}
