//! Collecting what is wrong with a configuration: every check records its
//! problem under the key's full name (`gateway.settle`) and carries on with
//! a placeholder, so one run reports every error at once
//! ([`ConfigErrors`]) instead of stopping at the first.
//!
//! The value parsers used by the typed sections live here too: durations,
//! numbers in a range, names from a fixed set, `https://` URLs.

use oriel_core_token::Reuse;
use std::fmt;
use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::time::Duration;

pub const SECOND: Duration = Duration::from_secs(1);
pub const DAY: Duration = Duration::from_secs(86_400);

/// One thing wrong with the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The key's full name, e.g. `gateway.jpeg_quality`.
    pub key: String,
    /// What is wrong, lowercase, without the key.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.key, self.message)
    }
}

/// Every error found in a configuration, in the order of the keys checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.as_slice() {
            [one] => write!(
                f,
                "invalid configuration (see docs/configuration.md): {one}"
            ),
            all => {
                write!(
                    f,
                    "invalid configuration, {} errors (see docs/configuration.md):",
                    all.len()
                )?;
                for e in all {
                    write!(f, "\n  {e}")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for ConfigErrors {}

/// The problems found so far.
#[derive(Debug, Clone, Default)]
pub struct Problems(Vec<ConfigError>);

impl Problems {
    pub fn push(&mut self, key: impl Into<String>, message: impl Into<String>) {
        self.0.push(ConfigError {
            key: key.into(),
            message: message.into(),
        });
    }

    /// `value` if nothing was found wrong, else every problem.
    pub fn into_result<T>(self, value: T) -> Result<T, ConfigErrors> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            Err(ConfigErrors(self.0))
        }
    }

    /// A duration like `300ms`, `5s`, `2m` or `1h 30m`, within `range`.
    /// On error: the range's start (a placeholder, never used).
    pub fn duration(
        &mut self,
        key: &str,
        value: &str,
        range: RangeInclusive<Duration>,
    ) -> Duration {
        match humantime::parse_duration(value.trim()) {
            Ok(d) if range.contains(&d) => d,
            Ok(_) => {
                self.push(
                    key,
                    format!(
                        "{value:?} is out of range: {} to {}",
                        show(*range.start()),
                        show(*range.end())
                    ),
                );
                *range.start()
            }
            Err(_) => {
                self.push(
                    key,
                    format!("invalid duration {value:?} (write e.g. 300ms, 5s, 2m, 12h)"),
                );
                *range.start()
            }
        }
    }

    /// A number within `range`. On error: the range's start.
    pub fn within<T>(&mut self, key: &str, value: T, range: RangeInclusive<T>) -> T
    where
        T: PartialOrd + fmt::Display + Copy,
    {
        if range.contains(&value) {
            value
        } else {
            self.push(
                key,
                format!(
                    "{value} is out of range: {} to {}",
                    range.start(),
                    range.end()
                ),
            );
            *range.start()
        }
    }

    /// One of `choices` by name. On error: `None`.
    pub fn choice<T: Copy>(&mut self, key: &str, value: &str, choices: &[(&str, T)]) -> Option<T> {
        if let Some((_, v)) = choices.iter().find(|(name, _)| *name == value) {
            return Some(*v);
        }
        let names: Vec<&str> = choices.iter().map(|(name, _)| *name).collect();
        self.push(key, format!("{value:?} is not one of {}", names.join(", ")));
        None
    }

    /// An `https://` URL (`loopback_http`: plain `http://` too on a
    /// loopback host); empty: `None`.
    pub fn https_url(&mut self, key: &str, value: &str, loopback_http: bool) -> Option<HttpsUrl> {
        if value.is_empty() {
            return None;
        }
        match HttpsUrl::parse(value, loopback_http) {
            Ok(url) => Some(url),
            Err(why) => {
                self.push(key, why);
                None
            }
        }
    }

    /// A key the role needs but that is empty.
    pub fn required(&mut self, key: &str, what: &str) {
        self.push(key, format!("must be set: {what}"));
    }
}

/// A file named by a key; empty: `None`.
pub fn path(value: &str) -> Option<PathBuf> {
    (!value.trim().is_empty()).then(|| PathBuf::from(value))
}

/// Files named by a list key; an empty entry is a problem.
pub fn paths(key: &str, values: &[String], p: &mut Problems) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for (i, v) in values.iter().enumerate() {
        match path(v) {
            Some(path) => out.push(path),
            None => p.push(format!("{key}[{i}]"), "is empty"),
        }
    }
    out
}

/// A reconnection window (whole seconds in tokens) and count.
pub fn reuse(key: &str, window: &str, max: u16, p: &mut Problems) -> Reuse {
    let window = p.duration(key, window, Duration::ZERO..=DAY);
    Reuse {
        window: u32::try_from(window.as_secs()).unwrap_or(u32::MAX),
        max,
    }
}

/// A duration as the configuration writes it (`5m`, `300ms`).
pub fn show(d: Duration) -> String {
    humantime::format_duration(d).to_string()
}

/// A checked `https://` URL (scheme, host and optional port and path; no
/// user name, query or fragment), without a trailing `/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpsUrl {
    text: String,
    host: String,
}

impl HttpsUrl {
    /// Checks `value`; `loopback_http` also accepts `http://` on
    /// `localhost` or a loopback address.
    pub fn parse(value: &str, loopback_http: bool) -> Result<HttpsUrl, String> {
        let not = |why: &str| format!("{value:?} is not an https:// URL: {why}");
        let uri: http::Uri = value
            .parse()
            .map_err(|e: http::uri::InvalidUri| not(&e.to_string()))?;
        let authority = uri.authority().ok_or_else(|| not("no host"))?;
        if authority.as_str().contains('@') {
            return Err(not("a user name has no place in it"));
        }
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']');
        if host.is_empty() {
            return Err(not("no host"));
        }
        if uri.query().is_some() || value.contains('#') {
            return Err(not("no query or fragment is allowed"));
        }
        match uri.scheme_str() {
            Some("https") => {}
            Some("http") if loopback_http && is_loopback(host) => {}
            Some("http") if loopback_http => {
                return Err(format!(
                    "{value:?} must be an https:// URL (plain http:// only on a loopback address)"
                ));
            }
            _ => return Err(format!("{value:?} must be an https:// URL")),
        }
        Ok(HttpsUrl {
            text: value.trim_end_matches('/').to_owned(),
            host: host.to_ascii_lowercase(),
        })
    }

    /// The URL without a trailing `/`.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The host name or address (IPv6 without brackets).
    pub fn host(&self) -> &str {
        &self.host
    }
}

impl fmt::Display for HttpsUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}
