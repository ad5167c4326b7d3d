//! The OpenAPI document of `/api/v1`, and the [`Contract`] that checks
//! requests and responses against it.

mod contract;

pub use contract::{Contract, validate};

use axum::response::{IntoResponse, Response};

const DOCUMENT: &str = include_str!("../openapi.json");

/// The OpenAPI document of `/api/v1`.
pub fn document() -> serde_json::Value {
    serde_json::from_str(DOCUMENT).unwrap_or_default()
}

/// `GET /api/v1/openapi.json` (public: it describes, it grants nothing).
pub(crate) async fn serve() -> Response {
    ([(http::header::CONTENT_TYPE, "application/json")], DOCUMENT).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// The field names a type's `Deserialize` reads, as serde's derive lists
    /// them (through `#[serde(from = …)]` too): a deserializer that only
    /// records what `deserialize_struct` is asked for.
    fn fields_of<'de, T: serde::Deserialize<'de>>() -> BTreeSet<&'static str> {
        #[derive(Debug)]
        struct Stop;
        impl std::fmt::Display for Stop {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("stop")
            }
        }
        impl std::error::Error for Stop {}
        impl serde::de::Error for Stop {
            fn custom<M: std::fmt::Display>(_: M) -> Self {
                Stop
            }
        }
        struct Fields<'a>(&'a mut Option<&'static [&'static str]>);
        impl<'de> serde::Deserializer<'de> for Fields<'_> {
            type Error = Stop;
            fn deserialize_any<V: serde::de::Visitor<'de>>(self, _: V) -> Result<V::Value, Stop> {
                Err(Stop)
            }
            fn deserialize_struct<V: serde::de::Visitor<'de>>(
                self,
                _: &'static str,
                fields: &'static [&'static str],
                _: V,
            ) -> Result<V::Value, Stop> {
                *self.0 = Some(fields);
                Err(Stop)
            }
            serde::forward_to_deserialize_any! {
                bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
                bytes byte_buf option unit unit_struct newtype_struct seq tuple
                tuple_struct map enum identifier ignored_any
            }
        }
        let mut fields = None;
        let _ = T::deserialize(Fields(&mut fields));
        fields.expect("a struct").iter().copied().collect()
    }

    /// The checked-in document is exactly what `control/openapi/build.py`
    /// writes (run it after changing the API).
    #[test]
    fn the_checked_in_document_is_what_build_py_writes() {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/build.py");
        let out = std::process::Command::new("python3")
            .arg(script)
            .arg("--stdout")
            .output()
            .expect("python3 runs control/openapi/build.py");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.stdout == DOCUMENT.as_bytes(),
            "control/src/openapi.json is stale: run python3 control/openapi/build.py"
        );
    }

    /// Every request schema of the document names exactly the fields its
    /// Rust type reads: the types are the truth, the document follows them.
    #[test]
    fn request_schemas_name_the_fields_of_their_rust_types() {
        let doc = document();
        let schema_fields = |name: &str| -> BTreeSet<&'static str> {
            let props = doc["components"]["schemas"][name]["properties"]
                .as_object()
                .unwrap_or_else(|| panic!("no schema {name}"));
            props
                .keys()
                .map(|k| &*Box::leak(k.clone().into_boxed_str()))
                .collect()
        };
        let pairs: Vec<(&str, BTreeSet<&'static str>)> = vec![
            (
                "LoginRequest",
                fields_of::<super::super::login::LoginBody>(),
            ),
            (
                "PasswordChange",
                fields_of::<super::super::login::PasswordBody>(),
            ),
            ("TotpCode", fields_of::<super::super::enroll::CodeBody>()),
            ("NewUser", fields_of::<super::super::users::NewUserBody>()),
            (
                "UpdateUser",
                fields_of::<super::super::users::UpdateUserBody>(),
            ),
            ("GroupInput", fields_of::<super::super::groups::GroupBody>()),
            (
                "GroupSettings",
                fields_of::<crate::service::policy::GroupSettings>(),
            ),
            (
                "PolicyOverrides",
                fields_of::<oriel_core_token::PolicyOverrides>(),
            ),
            ("Policy", fields_of::<oriel_core_token::Policy>()),
            (
                "WorkspaceInput",
                fields_of::<super::super::workspaces::WorkspaceInput>(),
            ),
            (
                "Target",
                fields_of::<super::super::workspaces::TargetInput>(),
            ),
            (
                "ContainerSpec",
                fields_of::<super::super::workspaces::ContainerSpec>(),
            ),
            ("Credentials", fields_of::<oriel_core_token::Credentials>()),
            (
                "LaunchRequest",
                fields_of::<super::super::sessions::LaunchInput>(),
            ),
            ("TokenInput", fields_of::<super::super::tokens::TokenBody>()),
            ("ZoneInput", fields_of::<super::super::zones::ZoneBody>()),
            (
                "ConnectionProxy",
                fields_of::<oriel_control_store::ConnectionProxy>(),
            ),
            (
                "AgentHello",
                fields_of::<oriel_core_agent_protocol::AgentHello>(),
            ),
            (
                "NodeGateway",
                fields_of::<oriel_core_agent_protocol::NodeGatewayHello>(),
            ),
            (
                "AgentPoll",
                fields_of::<oriel_core_agent_protocol::AgentPoll>(),
            ),
            (
                "AgentReport",
                fields_of::<oriel_core_agent_protocol::AgentReport>(),
            ),
        ];
        for (schema, rust) in pairs {
            assert_eq!(schema_fields(schema), rust, "schema {schema}");
        }
        let revoke = doc["paths"]["/api/v1/revocations"]["post"]["requestBody"]["content"]
            ["application/json"]["schema"]["properties"]
            .as_object()
            .expect("revoke body");
        let names: BTreeSet<&str> = revoke.keys().map(String::as_str).collect();
        assert_eq!(names, fields_of::<super::super::revocations::RevokeBody>());
    }

    /// The document only uses what the contract checker understands, and
    /// its examples of the rules hold: each pattern compiles and refuses
    /// what the code refuses.
    #[test]
    fn the_document_is_checkable_and_its_rules_hold() {
        use serde_json::json;
        let doc = document();
        let schema = |name: &str| json!({ "$ref": format!("#/components/schemas/{name}") });
        for (name, _) in doc["components"]["schemas"].as_object().expect("schemas") {
            // Every keyword of every schema is one the checker knows.
            let errors = validate(&doc, &schema(name), &serde_json::Value::Null);
            assert!(
                errors
                    .iter()
                    .all(|e| !e.contains("does not know") && !e.contains("invalid pattern")),
                "{name}: {errors:?}"
            );
        }
        let ok = |name: &str, v: serde_json::Value| validate(&doc, &schema(name), &v).is_empty();
        let ws = |name: &str| json!({"name": name, "kind": "vnc", "target": {"host": "10.0.0.1", "port": 5901}});
        assert!(ok("WorkspaceInput", ws("Linux desktop 1")));
        assert!(ok("WorkspaceInput", ws("bureau-é")));
        for bad in [" lead", "trail ", "a/b", "", "x".repeat(65).as_str()] {
            assert!(!ok("WorkspaceInput", ws(bad)), "{bad:?}");
        }
        assert!(!ok("GroupInput", json!({"name": "a", "members": [1]})));
        assert!(!ok(
            "NewUser",
            json!({"username": "al ice", "password": "x"})
        ));
        assert!(ok(
            "NewUser",
            json!({"username": "a.b-c_d@example.com", "password": "x"})
        ));
        assert!(!ok(
            "TokenInput",
            json!({"name": "   ", "scopes": ["read"]})
        ));
        assert!(!ok("TokenInput", json!({"name": "t", "scopes": []})));
        assert!(!ok("ContainerSpec", json!({"image": "a", "cpus": 0})));
        assert!(!ok("ContainerSpec", json!({"image": "a b"})));
        assert!(!ok("Policy", json!({"idle_timeout_secs": 1.5})));
        assert!(!ok("Policy", json!({"clipboard_max_bytes": null})));
        assert!(ok("PolicyOverrides", json!({"clipboard_max_bytes": null})));
        assert!(!ok(
            "UpdateUser",
            json!({"role": "user", "zone": "a\u{7}b"})
        ));
        assert!(ok(
            "ZoneInput",
            json!({"name": "eu_west.1", "proxy_url": "https://p.example"})
        ));
        assert!(!ok("ZoneInput", json!({"name": "eu west"})));
        assert!(!ok(
            "ZoneInput",
            json!({"name": "eu", "proxy_url": "http://p.example"})
        ));
    }

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
