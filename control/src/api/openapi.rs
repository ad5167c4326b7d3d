//! The OpenAPI document of `/api/v1` (`openapi.json` beside this file).

use axum::response::{IntoResponse, Response};

const DOCUMENT: &str = include_str!("../openapi.json");

/// `GET /api/v1/openapi.json` (public: it describes, it grants nothing).
pub(crate) async fn document() -> Response {
    ([(http::header::CONTENT_TYPE, "application/json")], DOCUMENT).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn document_lists_exactly_the_routes_of_the_router() {
        let doc: serde_json::Value = serde_json::from_str(DOCUMENT).expect("valid JSON");
        assert_eq!(doc["openapi"], "3.1.0");
        let mut documented = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for (method, op) in item.as_object().expect("path item") {
                if method == "parameters" {
                    continue;
                }
                assert!(
                    op["responses"].is_object(),
                    "{method} {path} has no responses"
                );
                assert!(
                    op["operationId"].is_string(),
                    "{method} {path} has no operationId"
                );
                documented.insert((method.clone(), path.clone()));
            }
        }
        let served: BTreeSet<_> = crate::api::ROUTES
            .iter()
            .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
            .collect();
        assert_eq!(documented, served);
    }

    #[test]
    fn every_schema_reference_resolves() {
        let doc: serde_json::Value = serde_json::from_str(DOCUMENT).expect("valid JSON");
        let text = DOCUMENT;
        for (i, _) in text.match_indices("\"$ref\": \"#/components/") {
            let rest = &text[i + 9..];
            let end = rest.find('"').expect("closing quote");
            let pointer = &rest[1..end];
            assert!(
                doc.pointer(pointer).is_some(),
                "unresolved reference {pointer}"
            );
        }
    }
}
