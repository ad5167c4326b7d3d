//! From the provider's claims to an Oriel user: the login name (a
//! configured claim, `sub` when it is absent), the provider's group names
//! (a configured claim), and the role those groups give.

use oriel_control_store::Role;
use serde_json::{Map, Value};

/// Most groups taken from one claim.
const MAX_GROUPS: usize = 1000;

/// Longest group name taken.
const MAX_GROUP_NAME: usize = 256;

/// Why the claims give no usable login name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum UsernameError {
    /// The claim (or `sub`) is not 1–64 letters, digits, `.`, `_`, `-`, `@`.
    Invalid(String),
}

impl std::fmt::Display for UsernameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UsernameError::Invalid(v) => write!(f, "unusable user name {v:?}"),
        }
    }
}

/// Local user names: the rule of the users API.
fn valid_username(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'))
}

/// A claim by name; a name with dots that is not itself a claim walks
/// nested objects (`realm_access.roles`).
fn claim<'a>(claims: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    if let Some(v) = claims.get(name) {
        return Some(v);
    }
    let mut parts = name.split('.');
    let mut v = claims.get(parts.next()?)?;
    for part in parts {
        v = v.as_object()?.get(part)?;
    }
    Some(v)
}

/// The login name: the string claim `username_claim`, or `subject` when the
/// claim is absent or empty. Never anything else: a value that is not a
/// valid user name is refused rather than altered.
pub(crate) fn username(
    claims: &Map<String, Value>,
    username_claim: &str,
    subject: &str,
) -> Result<String, UsernameError> {
    let name = match claim(claims, username_claim) {
        Some(Value::String(s)) if !s.trim().is_empty() => s.trim(),
        _ => subject,
    };
    if valid_username(name) {
        Ok(name.to_owned())
    } else {
        Err(UsernameError::Invalid(name.chars().take(80).collect()))
    }
}

/// The provider's group names in `groups_claim`: an array of strings (other
/// items ignored) or one string; none when absent.
pub(crate) fn groups(claims: &Map<String, Value>, groups_claim: &str) -> Vec<String> {
    let take = |s: &str| {
        let s = s.trim();
        (!s.is_empty() && s.len() <= MAX_GROUP_NAME).then(|| s.to_owned())
    };
    let mut out: Vec<String> = match claim(claims, groups_claim) {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .filter_map(take)
            .take(MAX_GROUPS)
            .collect(),
        Some(Value::String(s)) => take(s).into_iter().collect(),
        _ => Vec::new(),
    };
    out.sort_unstable();
    out.dedup();
    out
}

/// The role the provider's groups give: admin if one is in `admin_groups`,
/// else auditor if one is in `auditor_groups`, else user.
pub(crate) fn role(groups: &[String], admin_groups: &[String], auditor_groups: &[String]) -> Role {
    let any_in = |list: &[String]| groups.iter().any(|g| list.contains(g));
    if any_in(admin_groups) {
        Role::Admin
    } else if any_in(auditor_groups) {
        Role::Auditor
    } else {
        Role::User
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn the_username_comes_from_the_claim_then_the_subject() {
        let c = claims(json!({"preferred_username": " alice ", "email": "a@x.example"}));
        assert_eq!(username(&c, "preferred_username", "s1").unwrap(), "alice");
        assert_eq!(username(&c, "email", "s1").unwrap(), "a@x.example");
        assert_eq!(username(&c, "upn", "s-1").unwrap(), "s-1", "absent: sub");
        let empty = claims(json!({"preferred_username": "", "n": 5}));
        assert_eq!(username(&empty, "preferred_username", "s1").unwrap(), "s1");
        assert_eq!(username(&empty, "n", "s1").unwrap(), "s1", "not a string");
        // Unusable values are refused, never rewritten into someone else's name.
        let bad = claims(json!({"preferred_username": "al ice"}));
        assert!(username(&bad, "preferred_username", "s1").is_err());
        assert!(username(&c, "upn", "auth0|123").is_err());
        assert!(username(&c, "upn", &"x".repeat(65)).is_err());
        let nested = claims(json!({"profile": {"login": "bob"}}));
        assert_eq!(username(&nested, "profile.login", "s").unwrap(), "bob");
    }

    #[test]
    fn groups_are_strings_of_the_claim() {
        let c = claims(json!({
            "groups": ["eng", " ops ", 7, "", "eng", null],
            "one": "solo",
            "realm_access": {"roles": ["admin"]},
            "weird": {"a": 1},
        }));
        assert_eq!(groups(&c, "groups"), ["eng", "ops"]);
        assert_eq!(groups(&c, "one"), ["solo"]);
        assert_eq!(groups(&c, "realm_access.roles"), ["admin"]);
        assert!(groups(&c, "weird").is_empty());
        assert!(groups(&c, "missing").is_empty());
        let many: Vec<String> = (0..5000).map(|i| format!("g{i}")).collect();
        assert_eq!(groups(&claims(json!({ "g": many })), "g").len(), MAX_GROUPS);
        let long = claims(json!({ "g": ["x".repeat(300), "ok"] }));
        assert_eq!(groups(&long, "g"), ["ok"]);
    }

    #[test]
    fn roles_follow_the_configured_groups() {
        let admins = vec!["oriel-admins".to_owned()];
        let auditors = vec!["auditors".to_owned()];
        let g = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(role(&g(&["eng"]), &admins, &auditors), Role::User);
        assert_eq!(role(&g(&["auditors"]), &admins, &auditors), Role::Auditor);
        assert_eq!(
            role(&g(&["auditors", "oriel-admins"]), &admins, &auditors),
            Role::Admin,
            "admin wins"
        );
        assert_eq!(
            role(&g(&["Oriel-Admins"]), &admins, &auditors),
            Role::User,
            "exact names"
        );
        assert_eq!(role(&[], &[], &[]), Role::User);
    }
}
