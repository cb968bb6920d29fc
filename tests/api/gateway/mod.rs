//! Gatehouse in front of an API: the gateway's proxy rules, identity and assertions,
//! forward-auth, and real nginx and Caddy in front of a real upstream.

mod forward_auth;
mod proxies;
mod proxy;
mod spa;

use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use serde_json::Value;

use crate::support::TestApp;
use crate::support::upstream::Upstream;

/// An app whose gateway sends `/api/public/` (public), `/api/admin/` (admin) and `/api/`
/// (user) to `upstream`, with extra settings.
pub async fn gateway_app(upstream: &Upstream, extra: &[(&str, &str)]) -> TestApp {
    let url = upstream.url();
    let routes = format!(
        r#"[{{prefix = "/api/", upstream = "{url}", access = "user"}}, {{prefix = "/api/public/", upstream = "{url}", access = "public"}}, {{prefix = "/api/admin/", upstream = "{url}", access = "admin"}}, {{prefix = "/v2/", upstream = "{url}/base", access = "user", strip_prefix = true, audience = "urn:v2"}}]"#
    );
    let mut settings = vec![("GATEHOUSE__GATEWAY__ROUTES", routes.as_str())];
    settings.extend_from_slice(extra);
    TestApp::spawn_with(&settings).await
}

/// The claims of a compact JWS if it verifies with one of the JWKS keys, checking `exp`
/// against `now` (Unix seconds) as an upstream would.
pub fn verify_assertion(jwks: &Value, token: &str, now: i64) -> Result<Value, String> {
    let decode = |s: &str| gatehouse::crypto::decode(s).ok_or("not base64url");
    let (input, signature) = token.rsplit_once('.').ok_or("not a JWS")?;
    let (header, claims) = input.split_once('.').ok_or("not a JWS")?;
    let header: Value = serde_json::from_slice(&decode(header)?).map_err(|e| e.to_string())?;
    if header["alg"] != "EdDSA" {
        return Err(format!("alg {}", header["alg"]));
    }
    let key = jwks["keys"]
        .as_array()
        .ok_or("no keys")?
        .iter()
        .find(|k| k["kid"] == header["kid"])
        .ok_or("unknown kid")?;
    let x: [u8; 32] = decode(key["x"].as_str().ok_or("no x")?)?
        .try_into()
        .map_err(|_| "bad key length")?;
    let signature = Signature::from_slice(&decode(signature)?).map_err(|e| e.to_string())?;
    VerifyingKey::from_bytes(&x)
        .map_err(|e| e.to_string())?
        .verify(input.as_bytes(), &signature)
        .map_err(|_| "bad signature")?;
    let claims: Value = serde_json::from_slice(&decode(claims)?).map_err(|e| e.to_string())?;
    if claims["exp"].as_i64().ok_or("no exp")? <= now {
        return Err("expired".into());
    }
    Ok(claims)
}
