//! A fresh Postgres schema per test (crates.io style): `fresh_pool()` creates `t_<uuid>` in the
//! database named by `DATABASE_URL`, runs the migrations into it and returns a pool whose
//! connections use it as their `search_path`. Tests never skip: without `DATABASE_URL` they fail
//! and say how to get one.
#![allow(dead_code)]

use std::str::FromStr;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgConnection, PgPool};

pub fn database_url() -> String {
    std::env::var("DATABASE_URL").expect(
        "DATABASE_URL is not set: run `source scripts/services.sh` (Postgres tests never skip)",
    )
}

/// One test's schema.
#[derive(Debug, Clone)]
pub struct TestDb {
    pub schema: String,
    pub pool: PgPool,
}

impl TestDb {
    /// Another pool on the same schema: a second "process".
    pub async fn another_pool(&self, max_conns: u32) -> PgPool {
        pool_for(&self.schema, max_conns).await
    }

    /// `DATABASE_URL` for a child process (e.g. the `cc-export` binary) that lands in this schema.
    pub fn url(&self) -> String {
        let url = database_url();
        let sep = if url.contains('?') { '&' } else { '?' };
        format!("{url}{sep}options=-c%20search_path%3D{}", self.schema)
    }
}

async fn pool_for(schema: &str, max_conns: u32) -> PgPool {
    let opts = PgConnectOptions::from_str(&database_url())
        .expect("DATABASE_URL parses")
        .options([("search_path", schema)]);
    PgPoolOptions::new()
        .max_connections(max_conns)
        .connect_with(opts)
        .await
        .expect("connect to DATABASE_URL")
}

/// A fresh, migrated schema.
pub async fn fresh_db() -> TestDb {
    let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
    let mut admin = PgConnection::connect(&database_url())
        .await
        .expect("connect to DATABASE_URL");
    // An identifier cannot be a bound parameter; this one is `t_` + 32 hex digits.
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&mut admin)
        .await
        .expect("create test schema");
    admin.close().await.ok();
    let pool = pool_for(&schema, 8).await;
    cc_export::store::migrate(&pool)
        .await
        .expect("migrations apply to a fresh schema");
    TestDb { schema, pool }
}

/// A pool on a fresh, migrated schema.
pub async fn fresh_pool() -> PgPool {
    fresh_db().await.pool
}
