//! JWT bearer authentication for every route: HS256 with `JWT_SECRET`, or RS256/ES256 with
//! `JWT_PUBLIC_KEY_PEM`. `exp` is required; `alg: none`, other algorithms and wrong keys are
//! refused. The account claim names the one account a caller may touch, the user claim whose
//! stored Constant Contact tokens its requests use.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};

use super::error::ApiError;
use super::state::ApiState;
use crate::secret::Secret;

/// `cc-export serve`'s token settings.
#[derive(clap::Args, Debug, Clone)]
pub struct JwtSettings {
    /// HS256 shared secret.
    #[arg(long, env = "JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<Secret>,
    /// RS256 or ES256 (P-256) public key: the PEM text, or the path of a PEM file.
    #[arg(long, env = "JWT_PUBLIC_KEY_PEM", conflicts_with = "jwt_secret")]
    pub jwt_public_key_pem: Option<String>,
    /// The claim naming the account a caller may touch.
    #[arg(long, env = "JWT_ACCOUNT_CLAIM", default_value = "account_id")]
    pub jwt_account_claim: String,
    /// The claim naming the user whose stored tokens are used.
    #[arg(long, env = "JWT_USER_CLAIM", default_value = "uid")]
    pub jwt_user_claim: String,
    /// When set, tokens must carry this `aud`; when not, `aud` is not checked.
    #[arg(long, env = "JWT_AUDIENCE")]
    pub jwt_audience: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum JwtConfigError {
    #[error("JWT_SECRET or JWT_PUBLIC_KEY_PEM is required: every route needs a bearer token")]
    Missing,
    #[error("JWT_SECRET must be at least 32 bytes (HS256 with a short secret can be brute-forced)")]
    ShortSecret,
    #[error("JWT_PUBLIC_KEY_PEM: {0}")]
    BadKey(String),
}

/// Who is calling, from a verified token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub account_id: String,
    pub user_id: String,
}

/// Checks bearer tokens against one key and one algorithm.
pub struct JwtVerifier {
    key: DecodingKey,
    validation: Validation,
    account_claim: String,
    user_claim: String,
}

impl JwtVerifier {
    pub fn from_settings(s: &JwtSettings) -> Result<Self, JwtConfigError> {
        let (key, alg) = match (&s.jwt_secret, &s.jwt_public_key_pem) {
            (Some(secret), None) => {
                if secret.expose().len() < 32 {
                    return Err(JwtConfigError::ShortSecret);
                }
                (
                    DecodingKey::from_secret(secret.expose().as_bytes()),
                    Algorithm::HS256,
                )
            }
            (None, Some(pem)) => public_key(pem)?,
            _ => return Err(JwtConfigError::Missing),
        };
        // One algorithm: a token signed otherwise (HS256 with the public key as secret, none)
        // never reaches signature checking.
        let mut validation = Validation::new(alg);
        validation.validate_exp = true;
        // A token not yet valid is refused too (jsonwebtoken leaves `nbf` unchecked by default).
        validation.validate_nbf = true;
        match &s.jwt_audience {
            Some(aud) => {
                validation.set_audience(&[aud]);
                validation.set_required_spec_claims(&["exp", "aud"]);
            }
            // Without a configured audience, a token that names one is not refused for it.
            None => {
                validation.validate_aud = false;
                validation.set_required_spec_claims(&["exp"]);
            }
        }
        Ok(Self {
            key,
            validation,
            account_claim: s.jwt_account_claim.clone(),
            user_claim: s.jwt_user_claim.clone(),
        })
    }

    pub fn algorithm(&self) -> Algorithm {
        self.validation.algorithms[0]
    }

    /// The caller a `Bearer` token stands for, or why it is refused.
    pub fn verify(&self, token: &str) -> Result<Caller, ApiError> {
        let data = jsonwebtoken::decode::<Map<String, Value>>(token, &self.key, &self.validation)
            .map_err(|e| ApiError::unauthorized(refusal(e.kind())))?;
        Ok(Caller {
            account_id: claim(&data.claims, &self.account_claim)?,
            user_id: claim(&data.claims, &self.user_claim)?,
        })
    }
}

/// RS256 when the PEM holds an RSA key, ES256 when it holds an EC one.
fn public_key(value: &str) -> Result<(DecodingKey, Algorithm), JwtConfigError> {
    let pem = if value.trim_start().starts_with("-----BEGIN") {
        value.to_owned()
    } else {
        std::fs::read_to_string(value)
            .map_err(|e| JwtConfigError::BadKey(format!("reading {value}: {e}")))?
    };
    if let Ok(key) = DecodingKey::from_rsa_pem(pem.as_bytes()) {
        return Ok((key, Algorithm::RS256));
    }
    DecodingKey::from_ec_pem(pem.as_bytes())
        .map(|key| (key, Algorithm::ES256))
        .map_err(|e| JwtConfigError::BadKey(format!("neither an RSA nor an EC public key: {e}")))
}

/// A claim as a non-empty string (numbers are accepted: account ids often are).
fn claim(claims: &Map<String, Value>, name: &str) -> Result<String, ApiError> {
    let value = match claims.get(name) {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => {
            return Err(ApiError::unauthorized(format!(
                "token has no {name} claim (a non-empty string)"
            )));
        }
    };
    Ok(value)
}

/// Why a token was refused, in words a caller can act on (never the token).
fn refusal(kind: &ErrorKind) -> String {
    match kind {
        ErrorKind::ExpiredSignature => "token expired".into(),
        ErrorKind::InvalidSignature => "token signature does not verify".into(),
        ErrorKind::InvalidAlgorithm => "token algorithm not accepted".into(),
        ErrorKind::MissingRequiredClaim(c) => format!("token has no {c} claim"),
        ErrorKind::ImmatureSignature => "token not valid yet (nbf)".into(),
        ErrorKind::InvalidAudience => "token audience not accepted".into(),
        ErrorKind::InvalidToken
        | ErrorKind::Base64(_)
        | ErrorKind::Json(_)
        | ErrorKind::Utf8(_) => "malformed token".into(),
        other => format!("token refused ({other:?})"),
    }
}

fn bearer(parts: &Parts) -> Result<&str, ApiError> {
    let value = parts
        .headers
        .get(AUTHORIZATION)
        .ok_or_else(|| ApiError::unauthorized("missing Authorization header"))?
        .to_str()
        .map_err(|_| ApiError::unauthorized("Authorization header is not text"))?;
    let (scheme, token) = value
        .split_once(' ')
        .ok_or_else(|| ApiError::unauthorized("Authorization must be `Bearer <token>`"))?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(ApiError::unauthorized(
            "Authorization must be `Bearer <token>`",
        ));
    }
    Ok(token.trim())
}

impl FromRequestParts<ApiState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, ApiError> {
        state.jwt.verify(bearer(parts)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{EncodingKey, Header, encode};
    use serde_json::json;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    fn verifier() -> JwtVerifier {
        JwtVerifier::from_settings(&JwtSettings {
            jwt_secret: Some(Secret::new(SECRET)),
            jwt_public_key_pem: None,
            jwt_account_claim: "account_id".into(),
            jwt_user_claim: "uid".into(),
            jwt_audience: None,
        })
        .unwrap()
    }

    fn token(claims: Value, secret: &str) -> String {
        let key = EncodingKey::from_secret(secret.as_bytes());
        encode(&Header::new(Algorithm::HS256), &claims, &key).unwrap()
    }

    fn exp(offset: i64) -> i64 {
        jsonwebtoken::get_current_timestamp() as i64 + offset
    }

    #[test]
    fn a_valid_token_names_the_caller() {
        let t = token(
            json!({"account_id": 12345, "uid": "u1", "exp": exp(60)}),
            SECRET,
        );
        let caller = verifier().verify(&t).unwrap();
        assert_eq!(caller.account_id, "12345");
        assert_eq!(caller.user_id, "u1");
    }

    #[test]
    fn refusals_say_why() {
        let v = verifier();
        let reason = |t: &str| match v.verify(t) {
            Err(ApiError::Unauthorized { reason }) => reason,
            other => panic!("{other:?}"),
        };
        let c = json!({"account_id": "a", "uid": "u", "exp": exp(-3600)});
        assert_eq!(reason(&token(c, SECRET)), "token expired");
        let c = json!({"account_id": "a", "uid": "u", "exp": exp(60)});
        assert_eq!(
            reason(&token(c, "another secret of at least 32 bytes!")),
            "token signature does not verify"
        );
        let c = json!({"account_id": "a", "uid": "u"});
        assert_eq!(reason(&token(c, SECRET)), "token has no exp claim");
        let c = json!({"uid": "u", "exp": exp(60)});
        assert!(reason(&token(c, SECRET)).contains("account_id"));
        assert_eq!(reason("not.a.jwt"), "malformed token");
    }

    #[test]
    fn nbf_is_checked_and_aud_only_when_configured() {
        let reason = |v: &JwtVerifier, t: &str| match v.verify(t) {
            Err(ApiError::Unauthorized { reason }) => reason,
            other => panic!("{other:?}"),
        };
        let v = verifier();
        let c = json!({"account_id": "a", "uid": "u", "exp": exp(3600), "nbf": exp(1800)});
        assert_eq!(reason(&v, &token(c, SECRET)), "token not valid yet (nbf)");
        let c = json!({"account_id": "a", "uid": "u", "exp": exp(60), "aud": "elsewhere"});
        assert!(v.verify(&token(c.clone(), SECRET)).is_ok());

        let v = JwtVerifier::from_settings(&JwtSettings {
            jwt_secret: Some(Secret::new(SECRET)),
            jwt_public_key_pem: None,
            jwt_account_claim: "account_id".into(),
            jwt_user_claim: "uid".into(),
            jwt_audience: Some("cc-export".into()),
        })
        .unwrap();
        assert_eq!(reason(&v, &token(c, SECRET)), "token audience not accepted");
        let c = json!({"account_id": "a", "uid": "u", "exp": exp(60)});
        assert_eq!(reason(&v, &token(c, SECRET)), "token has no aud claim");
        let c = json!({"account_id": "a", "uid": "u", "exp": exp(60), "aud": "cc-export"});
        assert!(v.verify(&token(c, SECRET)).is_ok());
    }

    #[test]
    fn a_short_secret_is_refused_at_startup() {
        let err = JwtVerifier::from_settings(&JwtSettings {
            jwt_secret: Some(Secret::new("short")),
            jwt_public_key_pem: None,
            jwt_account_claim: "account_id".into(),
            jwt_user_claim: "uid".into(),
            jwt_audience: None,
        });
        assert!(matches!(err, Err(JwtConfigError::ShortSecret)));
    }
}
