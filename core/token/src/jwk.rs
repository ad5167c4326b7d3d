//! The control plane's public keys as a JWK set (RFC 7517, RFC 8037
//! `OKP`/`Ed25519`), as `GET /api/v1/keys` serves them to gateways.

use crate::Kid;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use serde::{Deserialize, Serialize};

/// One key of a JWK set (RFC 8037: `kty` OKP, `crv` Ed25519).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Jwk {
    /// `OKP`.
    #[cfg_attr(feature = "openapi", schema(schema_with = only_okp))]
    pub kty: String,
    /// `Ed25519`.
    #[cfg_attr(feature = "openapi", schema(schema_with = only_ed25519))]
    pub crv: String,
    /// Key id as tokens carry it.
    pub kid: String,
    /// The public key, base64url.
    pub x: String,
}

/// A JWK set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct JwkSet {
    /// The keys.
    pub keys: Vec<Jwk>,
}

/// The one value a string field may have, as a schema.
#[cfg(feature = "openapi")]
fn only(value: &'static str) -> utoipa::openapi::schema::Object {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some([value]))
        .build()
}

#[cfg(feature = "openapi")]
fn only_okp() -> utoipa::openapi::schema::Object {
    only("OKP")
}

#[cfg(feature = "openapi")]
fn only_ed25519() -> utoipa::openapi::schema::Object {
    only("Ed25519")
}

impl JwkSet {
    /// The set of these Ed25519 public keys.
    pub fn of(keys: impl IntoIterator<Item = [u8; 32]>) -> Self {
        JwkSet {
            keys: keys
                .into_iter()
                .map(|k| Jwk {
                    kty: "OKP".into(),
                    crv: "Ed25519".into(),
                    kid: Kid::of(&k).as_str().to_owned(),
                    x: B64.encode(k),
                })
                .collect(),
        }
    }

    /// The Ed25519 keys of the set whose id matches the key; anything
    /// else in it is an error (a set is taken whole or not at all).
    pub fn ed25519_keys(&self) -> Result<Vec<[u8; 32]>, String> {
        let mut out = Vec::new();
        for k in &self.keys {
            if k.kty != "OKP" || k.crv != "Ed25519" {
                return Err(format!("key {:?} is not an Ed25519 key", k.kid));
            }
            let bytes = B64
                .decode(&k.x)
                .map_err(|_| format!("key {:?} is not base64url", k.kid))?;
            let key: [u8; 32] = bytes
                .try_into()
                .map_err(|_| format!("key {:?} is not 32 bytes", k.kid))?;
            if Kid::of(&key).as_str() != k.kid {
                return Err(format!("key {:?} does not match its id", k.kid));
            }
            out.push(key);
        }
        if out.is_empty() {
            return Err("the key set is empty".into());
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_set_is_taken_whole_or_not_at_all() {
        let keys = [[1u8; 32], [2u8; 32]];
        let set = JwkSet::of(keys);
        assert_eq!(set.ed25519_keys().unwrap(), keys.to_vec());
        let mut wrong_id = set.clone();
        wrong_id.keys[1].kid = set.keys[0].kid.clone();
        assert!(wrong_id.ed25519_keys().is_err());
        let mut short = set.clone();
        short.keys[0].x = B64.encode([1u8; 31]);
        assert!(short.ed25519_keys().is_err());
        assert!(JwkSet::default().ed25519_keys().is_err());
    }
}
