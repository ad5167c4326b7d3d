//! Checking requests and responses against the OpenAPI document: a small
//! validator for the JSON Schema subset the document uses (`$ref`, `type`
//! with type lists for nullable values, `enum`, `const`, `properties`,
//! `required`, `additionalProperties`, `propertyNames`, `items`,
//! `minItems`, `maxItems`,
//! `minLength`, `maxLength`, `pattern`, `minimum`, `maximum`,
//! `exclusiveMinimum`, `exclusiveMaximum`, `format:
//! date-time`, `oneOf`, `anyOf`, `allOf`). A keyword it does not know is an
//! error, never silently passed. The end-to-end tests run every request and
//! response through [`Contract`].

use serde_json::Value;

/// Keywords that only describe; they constrain nothing.
const ANNOTATIONS: &[&str] = &[
    "description",
    "default",
    "deprecated",
    "title",
    "examples",
    "example",
    "readOnly",
    "writeOnly",
    "format",
];

/// Validates `value` against `schema` (references resolved in `doc`);
/// every violation, each as "`/json/pointer`: what".
pub fn validate(doc: &Value, schema: &Value, value: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    check(doc, schema, value, "", &mut errors, 0);
    errors
}

fn type_matches(ty: &str, v: &Value) -> bool {
    match ty {
        "null" => v.is_null(),
        "boolean" => v.is_boolean(),
        "string" => v.is_string(),
        "array" => v.is_array(),
        "object" => v.is_object(),
        "number" => v.is_number(),
        // Whole numbers only: `1.0` is a float in JSON as the API reads it.
        "integer" => v.is_i64() || v.is_u64(),
        _ => false,
    }
}

/// `YYYY-MM-DDTHH:MM:SS[.fff](Z|±hh:mm)`.
fn is_date_time(s: &str) -> bool {
    let b = s.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| b.get(r).is_some_and(|d| d.iter().all(u8::is_ascii_digit));
    if b.len() < 20
        || !digits(0..4)
        || b[4] != b'-'
        || !digits(5..7)
        || b[7] != b'-'
        || !digits(8..10)
        || !matches!(b[10], b'T' | b't')
        || !digits(11..13)
        || b[13] != b':'
        || !digits(14..16)
        || b[16] != b':'
        || !digits(17..19)
    {
        return false;
    }
    let mut rest = &s[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let n = frac.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return false;
        }
        rest = &frac[n..];
    }
    matches!(rest, "Z" | "z")
        || (rest.len() == 6
            && matches!(rest.as_bytes()[0], b'+' | b'-')
            && rest.as_bytes()[3] == b':')
}

fn check(doc: &Value, schema: &Value, v: &Value, at: &str, errors: &mut Vec<String>, depth: u32) {
    let fail = |errors: &mut Vec<String>, what: String| {
        errors.push(format!("{}: {what}", if at.is_empty() { "/" } else { at }));
    };
    if depth > 64 {
        fail(errors, "schema nests too deep (a reference cycle?)".into());
        return;
    }
    let Some(obj) = schema.as_object() else {
        if schema == &Value::Bool(false) {
            fail(errors, "no value is allowed here".into());
        }
        return;
    };
    for (key, rule) in obj {
        match key.as_str() {
            "$ref" => match rule.as_str().and_then(|r| r.strip_prefix('#')) {
                Some(pointer) => match doc.pointer(pointer) {
                    Some(target) => check(doc, target, v, at, errors, depth + 1),
                    None => fail(errors, format!("unresolved reference {pointer}")),
                },
                None => fail(errors, format!("unsupported reference {rule}")),
            },
            "type" => {
                let ok = match rule {
                    Value::String(t) => type_matches(t, v),
                    Value::Array(ts) => ts
                        .iter()
                        .filter_map(Value::as_str)
                        .any(|t| type_matches(t, v)),
                    _ => false,
                };
                if !ok {
                    fail(errors, format!("{v} is not of type {rule}"));
                }
            }
            "enum" => {
                if !rule.as_array().is_some_and(|a| a.contains(v)) {
                    fail(errors, format!("{v} is not one of {rule}"));
                }
            }
            "const" => {
                if rule != v {
                    fail(errors, format!("{v} is not {rule}"));
                }
            }
            "properties" => {
                if let (Some(props), Some(o)) = (rule.as_object(), v.as_object()) {
                    for (name, sub) in props {
                        if let Some(field) = o.get(name) {
                            check(doc, sub, field, &format!("{at}/{name}"), errors, depth + 1);
                        }
                    }
                }
            }
            "required" => {
                if let (Some(names), Some(o)) = (rule.as_array(), v.as_object()) {
                    for name in names.iter().filter_map(Value::as_str) {
                        if !o.contains_key(name) {
                            fail(errors, format!("required field {name:?} is missing"));
                        }
                    }
                }
            }
            "additionalProperties" => {
                if let Some(o) = v.as_object() {
                    let known = obj.get("properties").and_then(Value::as_object);
                    for (name, field) in o {
                        if known.is_some_and(|k| k.contains_key(name)) {
                            continue;
                        }
                        match rule {
                            Value::Bool(false) => {
                                fail(errors, format!("field {name:?} is not in the schema"));
                            }
                            Value::Bool(true) => {}
                            sub => {
                                check(doc, sub, field, &format!("{at}/{name}"), errors, depth + 1)
                            }
                        }
                    }
                }
            }
            "propertyNames" => {
                if let Some(o) = v.as_object() {
                    for name in o.keys() {
                        let key = Value::String(name.clone());
                        check(doc, rule, &key, &format!("{at}/{name}"), errors, depth + 1);
                    }
                }
            }
            "items" => {
                if let Some(items) = v.as_array() {
                    for (i, item) in items.iter().enumerate() {
                        check(doc, rule, item, &format!("{at}/{i}"), errors, depth + 1);
                    }
                }
            }
            "minItems" | "maxItems" => {
                if let (Some(n), Some(a)) = (rule.as_u64(), v.as_array()) {
                    let len = a.len() as u64;
                    if (key == "minItems" && len < n) || (key == "maxItems" && len > n) {
                        fail(errors, format!("{len} items, {key} is {n}"));
                    }
                }
            }
            "minLength" | "maxLength" => {
                if let (Some(n), Some(s)) = (rule.as_u64(), v.as_str()) {
                    let len = s.chars().count() as u64;
                    if (key == "minLength" && len < n) || (key == "maxLength" && len > n) {
                        fail(errors, format!("{s:?} has {len} characters, {key} is {n}"));
                    }
                }
            }
            "pattern" => {
                if let Some(s) = v.as_str() {
                    match rule.as_str().map(regex::Regex::new) {
                        Some(Ok(re)) => {
                            if !re.is_match(s) {
                                fail(errors, format!("{s:?} does not match {rule}"));
                            }
                        }
                        _ => fail(errors, format!("invalid pattern {rule}")),
                    }
                }
            }
            "minimum" | "maximum" | "exclusiveMinimum" | "exclusiveMaximum" => {
                if let (Some(limit), Some(n)) = (rule.as_f64(), v.as_f64())
                    && match key.as_str() {
                        "minimum" => n < limit,
                        "maximum" => n > limit,
                        "exclusiveMinimum" => n <= limit,
                        _ => n >= limit,
                    }
                {
                    fail(errors, format!("{v} is out of range ({key} {rule})"));
                }
            }
            "oneOf" | "anyOf" => {
                let subs = rule.as_array().map(Vec::as_slice).unwrap_or_default();
                let matching = subs
                    .iter()
                    .filter(|s| validate(doc, s, v).is_empty())
                    .count();
                let ok = if key == "oneOf" {
                    matching == 1
                } else {
                    matching >= 1
                };
                if !ok {
                    fail(
                        errors,
                        format!("{v} matches {matching} of the {key} schemas"),
                    );
                }
            }
            "allOf" => {
                for sub in rule.as_array().map(Vec::as_slice).unwrap_or_default() {
                    check(doc, sub, v, at, errors, depth + 1);
                }
            }
            k if ANNOTATIONS.contains(&k) => {
                if k == "format"
                    && rule == "date-time"
                    && v.as_str().is_some_and(|s| !is_date_time(s))
                {
                    fail(errors, format!("{v} is not an RFC 3339 date-time"));
                }
            }
            other => fail(
                errors,
                format!("the validator does not know the keyword {other:?}"),
            ),
        }
    }
}

/// The OpenAPI document as a contract for requests and responses.
#[derive(Debug, Clone)]
pub struct Contract {
    doc: Value,
}

impl Contract {
    /// A contract for `doc` (an OpenAPI 3.1 document).
    pub fn new(doc: Value) -> Contract {
        Contract { doc }
    }

    /// The path template of the document matching a concrete path (query
    /// string ignored): an exact path first, else one with `{param}`
    /// segments.
    pub fn template(&self, path: &str) -> Option<&str> {
        let path = path.split('?').next().unwrap_or(path);
        let paths = self.doc.get("paths")?.as_object()?;
        if paths.contains_key(path) {
            return paths.keys().find(|k| *k == path).map(String::as_str);
        }
        let segments: Vec<&str> = path.split('/').collect();
        paths.keys().map(String::as_str).find(|t| {
            let ts: Vec<&str> = t.split('/').collect();
            ts.len() == segments.len()
                && ts.iter().zip(&segments).all(|(t, s)| {
                    (t.starts_with('{') && t.ends_with('}') && !s.is_empty()) || t == s
                })
        })
    }

    fn resolve<'a>(&'a self, v: &'a Value) -> &'a Value {
        match v
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix('#'))
        {
            Some(p) => self.doc.pointer(p).unwrap_or(v),
            None => v,
        }
    }

    fn error_schema(&self) -> Value {
        serde_json::json!({ "$ref": "#/components/schemas/Error" })
    }

    /// Checks a response: its status must be documented for the operation
    /// and its body must match (a JSON body its schema, no body when none
    /// is documented). Paths outside `/api/` are not the API's.
    pub fn check_response(
        &self,
        method: &str,
        path: &str,
        status: u16,
        content_type: Option<&str>,
        body: &Value,
    ) -> Result<(), String> {
        let plain = path.split('?').next().unwrap_or(path);
        if !plain.starts_with("/api/") {
            return Ok(());
        }
        let method = method.to_ascii_lowercase();
        let op = self
            .template(plain)
            .and_then(|t| self.doc["paths"][t].get(method.as_str()));
        let Some(op) = op else {
            // Unknown endpoints and methods answer with the error shape.
            let errors = validate(&self.doc, &self.error_schema(), body);
            return if matches!(status, 404 | 405) && errors.is_empty() {
                Ok(())
            } else {
                Err(format!(
                    "{method} {path} is not in the document and answered {status}: {errors:?}"
                ))
            };
        };
        let Some(response) = op["responses"].get(status.to_string()) else {
            return Err(format!(
                "{method} {path}: status {status} is not documented (body {body})"
            ));
        };
        let response = self.resolve(response);
        let content = response.get("content").and_then(Value::as_object);
        let json = content.and_then(|c| c.get("application/json"));
        let is_json = content_type.is_some_and(|c| c.starts_with("application/json"));
        match (json, is_json) {
            (Some(media), true) => {
                let errors = validate(&self.doc, &media["schema"], body);
                if errors.is_empty() {
                    Ok(())
                } else {
                    Err(format!(
                        "{method} {path} → {status}: the body does not match the document:\n  {}\nbody: {body}",
                        errors.join("\n  ")
                    ))
                }
            }
            (None, false) if content.is_none() => {
                if body.is_null() {
                    Ok(())
                } else {
                    Err(format!(
                        "{method} {path} → {status}: documented without a body, answered {body}"
                    ))
                }
            }
            (None, false) => {
                let ct = content_type.unwrap_or("");
                let media = ct.split(';').next().unwrap_or("").trim();
                if content.is_some_and(|c| c.contains_key(media)) {
                    Ok(())
                } else {
                    Err(format!(
                        "{method} {path} → {status}: content type {ct:?} is not documented"
                    ))
                }
            }
            (Some(_), false) => Err(format!(
                "{method} {path} → {status}: documented as JSON, answered {content_type:?}"
            )),
            (None, true) => Err(format!(
                "{method} {path} → {status}: answered JSON where the document has none: {body}"
            )),
        }
    }

    /// Checks a request body against the operation's JSON request schema.
    pub fn check_request(&self, method: &str, path: &str, body: &Value) -> Result<(), String> {
        let method = method.to_ascii_lowercase();
        let Some(template) = self.template(path) else {
            return Err(format!("{method} {path} is not in the document"));
        };
        let Some(op) = self.doc["paths"][template].get(method.as_str()) else {
            return Err(format!("{method} {path} is not in the document"));
        };
        let Some(schema) = op.pointer("/requestBody/content/application~1json/schema") else {
            return Err(format!("{method} {path} takes no JSON body, sent {body}"));
        };
        let errors = validate(&self.doc, schema, body);
        if errors.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "{method} {path}: the request does not match the document:\n  {}\nbody: {body}",
                errors.join("\n  ")
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc() -> Value {
        json!({
            "components": {"schemas": {
                "Error": {"type": "object", "required": ["error"], "additionalProperties": false,
                          "properties": {"error": {"type": "object"}}},
                "Thing": {"type": "object", "additionalProperties": false, "required": ["id"],
                          "properties": {
                              "id": {"type": "string", "minLength": 1, "maxLength": 4, "pattern": "^[a-z]+$"},
                              "n": {"type": "integer", "minimum": 1, "maximum": 10},
                              "x": {"type": "number", "exclusiveMinimum": 0},
                              "at": {"type": ["string", "null"], "format": "date-time"},
                              "kind": {"enum": ["a", "b"]},
                              "tags": {"type": "array", "items": {"type": "string"}, "minItems": 1},
                              "labels": {"type": "object", "additionalProperties": {"type": "string"},
                                         "propertyNames": {"type": "string", "pattern": "^[a-z]+$"}},
                              "ref": {"oneOf": [{"$ref": "#/components/schemas/Thing"}, {"type": "null"}]}
                          }}
            }},
            "paths": {
                "/api/v1/things/{id}": {"get": {"responses": {
                    "200": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Thing"}}}},
                    "204": {"description": "none"},
                    "404": {"$ref": "#/components/responses/NotFound"}
                }}, "put": {"requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Thing"}}}},
                            "responses": {"200": {"description": "ok"}}}},
                "/api/v1/things/mine": {"get": {"responses": {"200": {"description": "exact"}}}}
            }
        })
    }

    fn errors(v: Value) -> Vec<String> {
        let d = doc();
        validate(&d, &json!({"$ref": "#/components/schemas/Thing"}), &v)
    }

    #[test]
    fn valid_values_pass() {
        assert_eq!(errors(json!({"id": "ab"})), Vec::<String>::new());
        let full = json!({"id": "abcd", "n": 10, "at": "2026-12-07T10:00:00.123Z", "kind": "b",
                          "tags": ["x"], "ref": {"id": "z", "at": null}});
        assert_eq!(errors(full), Vec::<String>::new());
        assert!(errors(json!({"id": "a", "at": "2026-12-07T10:00:00+01:00"})).is_empty());
    }

    #[test]
    fn each_rule_refuses_what_it_should() {
        let cases = [
            (json!({}), "required field \"id\""),
            (json!({"id": ""}), "minLength"),
            (json!({"id": "abcde"}), "maxLength"),
            (json!({"id": "AB"}), "does not match"),
            (json!({"id": "a", "n": 0}), "minimum"),
            (json!({"id": "a", "n": 11}), "maximum"),
            (json!({"id": "a", "n": 1.0}), "not of type"),
            (json!({"id": "a", "x": 0}), "exclusiveMinimum"),
            (json!({"id": "a", "n": null}), "not of type"),
            (json!({"id": "a", "at": "yesterday"}), "date-time"),
            (json!({"id": "a", "kind": "c"}), "not one of"),
            (json!({"id": "a", "tags": []}), "minItems"),
            (json!({"id": "a", "tags": [1]}), "/tags/0"),
            (json!({"id": "a", "extra": 1}), "not in the schema"),
            (json!({"id": "a", "labels": {"Up": "x"}}), "/labels/Up"),
            (json!({"id": "a", "labels": {"ok": 1}}), "/labels/ok"),
            (
                json!({"id": "a", "ref": {"id": 7}}),
                "matches 0 of the oneOf",
            ),
        ];
        for (value, expected) in cases {
            let e = errors(value.clone());
            assert!(
                e.iter().any(|m| m.contains(expected)),
                "{value}: {e:?} lacks {expected}"
            );
        }
    }

    #[test]
    fn unknown_keywords_and_references_are_errors() {
        let d = doc();
        let e = validate(&d, &json!({"multipleOf": 2}), &json!(4));
        assert!(e[0].contains("does not know the keyword"), "{e:?}");
        let e = validate(&d, &json!({"$ref": "#/components/schemas/Nope"}), &json!(4));
        assert!(e[0].contains("unresolved reference"), "{e:?}");
    }

    #[test]
    fn responses_are_matched_to_their_operation_and_status() {
        let c = Contract::new(doc());
        assert_eq!(
            c.template("/api/v1/things/mine"),
            Some("/api/v1/things/mine")
        );
        assert_eq!(
            c.template("/api/v1/things/x1?y=2"),
            Some("/api/v1/things/{id}")
        );
        assert_eq!(c.template("/api/v1/things/"), None);
        let json_ct = Some("application/json");
        assert!(
            c.check_response(
                "GET",
                "/api/v1/things/ab",
                200,
                json_ct,
                &json!({"id": "ab"})
            )
            .is_ok()
        );
        let bad = c.check_response("GET", "/api/v1/things/ab", 200, json_ct, &json!({"id": 1}));
        assert!(bad.unwrap_err().contains("/id"));
        let undocumented = c.check_response("GET", "/api/v1/things/ab", 500, json_ct, &json!({}));
        assert!(undocumented.unwrap_err().contains("not documented"));
        assert!(
            c.check_response("GET", "/api/v1/things/ab", 204, None, &Value::Null)
                .is_ok()
        );
        assert!(
            c.check_response("GET", "/api/v1/things/ab", 204, json_ct, &json!({}))
                .is_err()
        );
        // Not the API's, and unknown endpoints answering the error shape.
        assert!(
            c.check_response("GET", "/metrics", 200, None, &json!("x"))
                .is_ok()
        );
        let error = json!({"error": {"code": "not_found"}});
        assert!(
            c.check_response("GET", "/api/v1/nope", 404, json_ct, &error)
                .is_ok()
        );
        assert!(
            c.check_response("GET", "/api/v1/nope", 200, json_ct, &json!({}))
                .is_err()
        );
    }

    #[test]
    fn requests_are_checked_against_the_request_schema() {
        let c = Contract::new(doc());
        assert!(
            c.check_request("PUT", "/api/v1/things/a", &json!({"id": "a"}))
                .is_ok()
        );
        assert!(
            c.check_request("PUT", "/api/v1/things/a", &json!({"id": 3}))
                .is_err()
        );
        assert!(
            c.check_request("GET", "/api/v1/things/a", &json!({}))
                .is_err()
        );
    }
}
