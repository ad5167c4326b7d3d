//! Every exchange of a test that calls [`enforce`] is checked against the
//! control plane's OpenAPI document (`oriel_control::openapi`): each
//! response's status must be documented and its body match the schema,
//! and each request body the server accepted (2xx) must match the request
//! schema. A mismatch fails the test at once, naming the field.

use super::Reply;
use oriel_control::openapi::Contract;
use serde_json::Value;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

static ENFORCED: AtomicBool = AtomicBool::new(false);
static CHECKED: AtomicUsize = AtomicUsize::new(0);

fn contract() -> &'static Contract {
    static CONTRACT: OnceLock<Contract> = OnceLock::new();
    CONTRACT.get_or_init(|| Contract::new(oriel_control::openapi::document()))
}

/// Checks every API exchange of this test process from now on.
pub fn enforce() {
    ENFORCED.store(true, Ordering::SeqCst);
}

/// How many responses were checked so far.
pub fn checked() -> usize {
    CHECKED.load(Ordering::SeqCst)
}

/// Called by [`super::Api::call`] for each exchange.
pub fn observe(method: &str, path: &str, request: Option<&Value>, reply: &Reply) {
    if !ENFORCED.load(Ordering::SeqCst) {
        return;
    }
    let content_type = reply
        .headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        .map(|(_, v)| v.as_str());
    if let Err(e) = contract().check_response(method, path, reply.status, content_type, &reply.body)
    {
        panic!("response outside the OpenAPI document: {e}");
    }
    if let Some(body) = request
        && (200..300).contains(&reply.status)
        && path.starts_with("/api/")
        && let Err(e) = contract().check_request(method, path, body)
    {
        panic!("accepted request outside the OpenAPI document: {e}");
    }
    CHECKED.fetch_add(1, Ordering::SeqCst);
}
