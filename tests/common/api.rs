//! `cc-export serve` as a real process next to a [`Stack`], and JWTs to call it with.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::{Value, json};

use cc_export::api::EXPORTS_PATH;

use super::stack::{ACCOUNT, BIN, Stack, USER};

pub const SECRET: &str = "test-secret-of-at-least-32-bytes!!";
pub const RSA_PRIVATE: &str = include_str!("../fixtures/jwt/rsa_private.pem");
pub const RSA_PUBLIC: &str = include_str!("../fixtures/jwt/rsa_public.pem");
pub const EC_PRIVATE: &str = include_str!("../fixtures/jwt/ec_private.pem");
pub const EC_PUBLIC: &str = include_str!("../fixtures/jwt/ec_public.pem");

pub struct ApiServer {
    child: Child,
    pub base: String,
    pub http: reqwest::Client,
}

impl ApiServer {
    /// Starts `cc-export serve` on a free port with `jwt_env` (JWT_SECRET or JWT_PUBLIC_KEY_PEM).
    pub fn start(st: &Stack, jwt_env: &[(&str, &str)]) -> Self {
        let log = std::fs::File::create(st.log_path("serve")).unwrap();
        let mut child = Command::new(BIN)
            .arg("serve")
            .env("API_ADDR", "127.0.0.1:0")
            .env("DATABASE_URL", st.db.url())
            .env("AMQP_URL", super::amqp::amqp_url())
            .env("EXPORT_QUEUE", &st.queue.name)
            .env("S3_BUCKET", &st.bucket)
            .env("S3_FORCE_PATH_STYLE", "true")
            .env("CC_API_BASE_URL", st.sim.base_url())
            .env("CC_AUTH_URL", st.sim.auth_url())
            .env("CC_CLIENT_ID", "sim-client")
            .env("CC_CLIENT_SECRET", "sim-secret")
            .env("CC_RATE_LIMIT_RPS", st.rps.to_string())
            .env("TOKEN_ENCRYPTION_KEY", st.key_b64())
            .env("RUST_LOG", "info,cc_export=debug")
            .env_remove("JWT_SECRET")
            .env_remove("JWT_PUBLIC_KEY_PEM")
            .envs(jwt_env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("start cc-export serve");
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        assert!(
            first.starts_with("http://"),
            "serve printed {first:?}; log:\n{}",
            std::fs::read_to_string(st.log_path("serve")).unwrap_or_default()
        );
        Self {
            child,
            base: first.trim().to_owned(),
            http: reqwest::Client::new(),
        }
    }

    pub fn hs256(st: &Stack) -> Self {
        Self::start(st, &[("JWT_SECRET", SECRET)])
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A request with `token` as bearer (none when `None`); status and JSON body.
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self.http.request(method, self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        let json = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, json)
    }

    pub async fn get(&self, path: &str, token: &str) -> (u16, Value) {
        self.call(reqwest::Method::GET, path, Some(token), None)
            .await
    }
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn now() -> i64 {
    jsonwebtoken::get_current_timestamp() as i64
}

/// Claims for `account`/`user` expiring in `exp_in` seconds (negative: already expired).
pub fn claims(account: &str, user: &str, exp_in: i64) -> Value {
    json!({"account_id": account, "uid": user, "exp": now() + exp_in, "iat": now()})
}

pub fn hs256(claims: &Value, secret: &str) -> String {
    encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

pub fn rs256(claims: &Value) -> String {
    let key = EncodingKey::from_rsa_pem(RSA_PRIVATE.as_bytes()).unwrap();
    encode(&Header::new(Algorithm::RS256), claims, &key).unwrap()
}

pub fn es256(claims: &Value) -> String {
    let key = EncodingKey::from_ec_pem(EC_PRIVATE.as_bytes()).unwrap();
    encode(&Header::new(Algorithm::ES256), claims, &key).unwrap()
}

/// An unsigned token (`alg: none`), as an attacker would send it.
pub fn alg_none(claims: &Value) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    format!(
        "{}.{}.",
        b64.encode(br#"{"alg":"none","typ":"JWT"}"#),
        b64.encode(claims.to_string())
    )
}

/// A valid HS256 token for the stack's account and user.
pub fn token() -> String {
    hs256(&claims(ACCOUNT, USER, 600), SECRET)
}

pub fn export_path(id: &str) -> String {
    format!("{EXPORTS_PATH}/{id}")
}

/// A 401 in the seed's shape, with `reason` as the refusal.
pub fn assert_unauthorized(status: u16, body: &Value, reason: &str) {
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["success"], false);
    assert_eq!(body["errno"], 400);
    assert_eq!(body["status"], "Unauthorized User");
    assert_eq!(body["error"], reason, "{body}");
}
