//! `cc-export serve`: the HTTP API (axum). Every route but `/openapi.json` needs a JWT bearer
//! token (`auth`); the token's account claim decides which account a caller may touch.
//!
//! - `lists`: the seed's `GET /v1/integrations/constantcontact/lists` (one page of contacts).
//! - `exports`: export jobs over HTTP (create, status with a presigned download URL, cancel).
//! - `openapi`: the OpenAPI 3 document, checked against [`ROUTES`] by a test.
//! - `state` / `publisher` / `error` / `seed_contact`: shared state, the AMQP link, the seed's
//!   error shape, the seed's contact shape.

pub mod auth;
pub mod error;
pub mod exports;
pub mod lists;
pub mod openapi;
pub mod publisher;
pub mod seed_contact;
pub mod state;

use axum::Router;
use axum::http::Method;
use axum::routing::{MethodRouter, delete, get, post};

pub use auth::{Caller, JwtSettings, JwtVerifier};
pub use error::ApiError;
pub use state::{ApiContext, ApiState};

pub const LISTS_PATH: &str = "/v1/integrations/constantcontact/lists";
pub const EXPORTS_PATH: &str = "/v1/integrations/constantcontact/exports";
pub const EXPORT_PATH: &str = "/v1/integrations/constantcontact/exports/{id}";
pub const OPENAPI_PATH: &str = "/openapi.json";

/// The one table the router is built from, so the routes a test compares with the OpenAPI
/// document are the routes served.
fn route_table() -> Vec<(Method, &'static str, MethodRouter<ApiState>)> {
    vec![
        (Method::GET, LISTS_PATH, get(lists::list_contacts)),
        (Method::POST, EXPORTS_PATH, post(exports::create_export)),
        (Method::GET, EXPORT_PATH, get(exports::get_export)),
        (Method::DELETE, EXPORT_PATH, delete(exports::cancel_export)),
        (Method::GET, OPENAPI_PATH, get(openapi::openapi_json)),
    ]
}

/// `(METHOD, path)` of every route, sorted.
pub fn routes() -> Vec<(String, String)> {
    let mut all: Vec<(String, String)> = route_table()
        .into_iter()
        .map(|(method, path, _)| (method.to_string(), path.to_owned()))
        .collect();
    all.sort();
    all
}

/// The API's routes, ready to serve or to `.merge()` with others (metrics, health).
pub fn router(state: ApiState) -> Router {
    route_table()
        .into_iter()
        // Same path twice: axum merges the method routers.
        .fold(Router::new(), |router, (_, path, methods)| {
            router.route(path, methods)
        })
        .with_state(state)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_openapi_document_lists_exactly_the_routes() {
        assert_eq!(super::openapi::documented_operations(), super::routes());
    }
}
