//! Tokens only travel over TLS: the worker and the one-shot export refuse a plain-http API or
//! token URL on another machine unless `CC_ALLOW_HTTP=true` says so. (reqwest is built with
//! rustls only: there is no other TLS stack to fall back to.)

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_cc-export");

fn worker(api: &str, auth: &str) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.arg("worker")
        .env("DATABASE_URL", "postgres://nobody@127.0.0.1:1/none")
        .env("CC_API_BASE_URL", api)
        .env("CC_AUTH_URL", auth)
        .env("CC_CLIENT_ID", "id")
        .env("CC_CLIENT_SECRET", "secret")
        .env(
            "TOKEN_ENCRYPTION_KEY",
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        )
        .env("S3_BUCKET", "b")
        .env_remove("CC_ALLOW_HTTP");
    cmd
}

fn stderr(cmd: &mut Command) -> (bool, String) {
    let out = cmd.output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_worker_refuses_plain_http_to_another_machine() {
    let tls = "https://authz.constantcontact.com/oauth2/default/v1/token";
    let (ok, err) = stderr(&mut worker("http://api.cc.email/v3", tls));
    assert!(
        !ok && err.contains("CC_API_BASE_URL") && err.contains("CC_ALLOW_HTTP"),
        "{err}"
    );
    let (ok, err) = stderr(&mut worker(
        "https://api.cc.email/v3",
        "http://10.1.2.3/token",
    ));
    assert!(!ok && err.contains("CC_AUTH_URL"), "{err}");
    // Explicitly allowed: it gets past the check (and fails later, on the unreachable database).
    let (ok, err) = stderr(worker("http://api.cc.email/v3", tls).env("CC_ALLOW_HTTP", "true"));
    assert!(!ok && !err.contains("CC_ALLOW_HTTP"), "{err}");
}

#[test]
fn the_one_shot_export_refuses_plain_http_to_another_machine() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, err) = stderr(
        Command::new(BIN)
            .args(["export", "--account", "a", "--out"])
            .arg(dir.path().join("c.csv"))
            .env("CC_API_BASE_URL", "http://api.cc.email/v3")
            .env("CC_ACCESS_TOKEN", "t")
            .env("CC_REFRESH_TOKEN", "r")
            .env_remove("CC_ALLOW_HTTP"),
    );
    assert!(!ok && err.contains("CC_ALLOW_HTTP"), "{err}");
}
