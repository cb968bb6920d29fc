//! What a platform authenticator and the browser's WebAuthn API do, for the API tests: an
//! ES256 key per credential, a discoverable credential holding the user handle, attestation
//! "none", user verification done, a signature counter; answers shaped as the browser's
//! `PublicKeyCredential.toJSON()`. (The browser tests use Chromium's own virtual authenticator.)

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};
use serde_json::{Value, json};

/// Authenticator-data flags (WebAuthn L3 §6.1): user present, user verified, attested data.
const UP: u8 = 0x01;
const UV: u8 = 0x04;
const AT: u8 = 0x40;

pub struct SoftPasskey {
    key: EcdsaKeyPair,
    pub credential_id: Vec<u8>,
    /// The user handle the relying party gave at registration.
    pub user_handle: Vec<u8>,
    pub counter: u32,
    /// Whether the next ceremony reports user verification.
    pub verifies_user: bool,
    rng: SystemRandom,
}

impl Default for SoftPasskey {
    fn default() -> Self {
        Self::new()
    }
}

impl SoftPasskey {
    pub fn new() -> Self {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng)
            .unwrap();
        let mut credential_id = vec![0u8; 32];
        ring::rand::SecureRandom::fill(&rng, &mut credential_id).unwrap();
        Self {
            key,
            credential_id,
            user_handle: Vec::new(),
            counter: 0,
            verifies_user: true,
            rng,
        }
    }

    /// `navigator.credentials.create(options)` on `origin`, where `options` is the server's
    /// `{"publicKey": …}`.
    pub fn create(&mut self, options: &Value, origin: &str) -> Value {
        let public_key = &options["publicKey"];
        let rp_id = public_key["rp"]["id"].as_str().expect("rp.id");
        self.user_handle = B64
            .decode(public_key["user"]["id"].as_str().expect("user.id"))
            .unwrap();
        let client_data = client_data("webauthn.create", public_key, origin);
        let point = self.key.public_key().as_ref();
        let (x, y) = (&point[1..33], &point[33..65]);
        // COSE_Key (RFC 9053): kty EC2, alg ES256, crv P-256, x, y.
        let mut cose = Vec::new();
        cbor_head(&mut cose, 5, 5);
        for (label, value) in [(1, 2), (3, -7), (-1, 1)] {
            cbor_int(&mut cose, label);
            cbor_int(&mut cose, value);
        }
        cbor_int(&mut cose, -2);
        cbor_bytes(&mut cose, x);
        cbor_int(&mut cose, -3);
        cbor_bytes(&mut cose, y);
        let mut auth_data = self.auth_data(rp_id, AT);
        auth_data.extend_from_slice(&[0u8; 16]);
        auth_data.extend_from_slice(
            &u16::try_from(self.credential_id.len())
                .unwrap()
                .to_be_bytes(),
        );
        auth_data.extend_from_slice(&self.credential_id);
        auth_data.extend_from_slice(&cose);
        let mut attestation = Vec::new();
        cbor_head(&mut attestation, 5, 3);
        cbor_text(&mut attestation, "fmt");
        cbor_text(&mut attestation, "none");
        cbor_text(&mut attestation, "attStmt");
        cbor_head(&mut attestation, 5, 0);
        cbor_text(&mut attestation, "authData");
        cbor_bytes(&mut attestation, &auth_data);
        json!({
            "id": B64.encode(&self.credential_id),
            "rawId": B64.encode(&self.credential_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": B64.encode(client_data.as_bytes()),
                "attestationObject": B64.encode(&attestation),
                "transports": ["internal"],
            },
            "clientExtensionResults": {},
        })
    }

    /// `navigator.credentials.get(options)` on `origin`: an assertion with the user handle.
    pub fn get(&mut self, options: &Value, origin: &str) -> Value {
        let public_key = &options["publicKey"];
        let rp_id = public_key["rpId"].as_str().expect("rpId");
        let client_data = client_data("webauthn.get", public_key, origin);
        let auth_data = self.auth_data(rp_id, 0);
        let mut signed = auth_data.clone();
        signed.extend_from_slice(
            ring::digest::digest(&ring::digest::SHA256, client_data.as_bytes()).as_ref(),
        );
        let signature = self.key.sign(&self.rng, &signed).unwrap();
        json!({
            "id": B64.encode(&self.credential_id),
            "rawId": B64.encode(&self.credential_id),
            "type": "public-key",
            "response": {
                "authenticatorData": B64.encode(&auth_data),
                "clientDataJSON": B64.encode(client_data.as_bytes()),
                "signature": B64.encode(signature.as_ref()),
                "userHandle": B64.encode(&self.user_handle),
            },
            "clientExtensionResults": {},
        })
    }

    /// RP ID hash, flags and the next counter value.
    fn auth_data(&mut self, rp_id: &str, extra_flags: u8) -> Vec<u8> {
        self.counter += 1;
        let mut data = ring::digest::digest(&ring::digest::SHA256, rp_id.as_bytes())
            .as_ref()
            .to_vec();
        let uv = if self.verifies_user { UV } else { 0 };
        data.push(UP | uv | extra_flags);
        data.extend_from_slice(&self.counter.to_be_bytes());
        data
    }
}

fn client_data(kind: &str, public_key: &Value, origin: &str) -> String {
    json!({
        "type": kind,
        "challenge": public_key["challenge"].as_str().expect("challenge"),
        "origin": origin,
        "crossOrigin": false,
    })
    .to_string()
}

fn cbor_head(out: &mut Vec<u8>, major: u8, len: u64) {
    let major = major << 5;
    match len {
        0..=23 => out.push(major | len as u8),
        24..=255 => out.extend_from_slice(&[major | 24, len as u8]),
        _ => {
            out.push(major | 25);
            out.extend_from_slice(&u16::try_from(len).unwrap().to_be_bytes());
        }
    }
}

fn cbor_int(out: &mut Vec<u8>, value: i64) {
    if value >= 0 {
        cbor_head(out, 0, value as u64);
    } else {
        cbor_head(out, 1, (-1 - value) as u64);
    }
}

fn cbor_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    cbor_head(out, 2, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

fn cbor_text(out: &mut Vec<u8>, text: &str) {
    cbor_head(out, 3, text.len() as u64);
    out.extend_from_slice(text.as_bytes());
}
