//! Where the raw configuration comes from: defaults, then the file, then
//! `ORIEL_<SECTION>__<KEY>` variables (`ORIEL_<SECTION>__<SUB>__<KEY>` for
//! `[section.sub]`); the command line's flags go on top afterwards
//! (`crate::cli`).
//!
//! Every key given is checked on its own against the defaults' shape: an
//! unknown key, a value of the wrong TOML type or a section written as a
//! value is recorded (naming the variable it came from) and the default
//! kept, so that all of them are reported together with the value errors
//! the typed validation finds afterwards.

use super::problems::Problems;
use super::raw::RawConfig;
use anyhow::Context as _;
use std::collections::HashMap;
use std::path::Path;
use toml::{Table, Value};

/// What was read: the configuration (defaults in place of what was
/// refused) and what was refused.
#[derive(Debug)]
pub struct Loaded {
    pub raw: RawConfig,
    pub problems: Problems,
}

impl Loaded {
    /// Every key refused while reading (unknown, or of the wrong type).
    pub fn refused(&self) -> Result<(), super::ConfigErrors> {
        self.problems.clone().into_result(())
    }
}

impl RawConfig {
    /// Defaults, then the file (if any), then the process environment.
    /// Errors only when the file cannot be read or is not TOML at all.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Loaded> {
        Self::load_with_env(file, std::env::vars())
    }

    pub(crate) fn load_with_env(
        file: Option<&Path>,
        vars: impl Iterator<Item = (String, String)>,
    ) -> anyhow::Result<Loaded> {
        let given = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path).with_context(|| {
                    format!("cannot read configuration file {}", path.display())
                })?;
                toml::from_str::<Table>(&text)
                    .with_context(|| format!("{} is not valid TOML", path.display()))?
            }
            None => Table::new(),
        };
        let mut problems = Problems::default();
        let mut given = given;
        let from_env = apply_env(&mut given, vars, &mut problems);
        let defaults = Table::try_from(RawConfig::default())
            .context("the default configuration does not serialize")?;
        let mut accepted = defaults.clone();
        let mut check = Check {
            defaults: &defaults,
            from_env: &from_env,
            problems: &mut problems,
        };
        check.merge(&defaults, &given, &mut Vec::new(), &mut accepted);
        let raw = RawConfig::deserialize_table(accepted)?;
        Ok(Loaded { raw, problems })
    }

    fn deserialize_table(table: Table) -> anyhow::Result<RawConfig> {
        Value::Table(table)
            .try_into()
            .context("the configuration does not deserialize")
    }

    /// The effective configuration as TOML.
    pub fn to_toml(&self) -> anyhow::Result<String> {
        Ok(toml::to_string_pretty(self)?)
    }
}

/// A variable that set a key: its name and its text as written.
struct EnvSource {
    name: String,
    text: String,
}

/// Turns an environment value into TOML: numbers, booleans and arrays as
/// themselves, anything else as a string (keys whose default is a string
/// take the text as written, see [`Check::merge`]).
fn env_value(raw: &str) -> Value {
    let probe = format!("v = {raw}");
    match toml::from_str::<Table>(&probe) {
        Ok(mut t) => t
            .remove("v")
            .unwrap_or_else(|| Value::String(raw.to_owned())),
        Err(_) => Value::String(raw.to_owned()),
    }
}

/// Applies `ORIEL_<SECTION>__<KEY>=value` variables to `table`; returns
/// which variable set which key (by its dotted name).
fn apply_env(
    table: &mut Table,
    vars: impl Iterator<Item = (String, String)>,
    problems: &mut Problems,
) -> HashMap<String, EnvSource> {
    let mut sources = HashMap::new();
    for (name, value) in vars {
        let Some(rest) = name.strip_prefix("ORIEL_") else {
            continue;
        };
        if !rest.contains("__") {
            continue;
        }
        let path: Vec<String> = rest.split("__").map(str::to_ascii_lowercase).collect();
        if path.iter().any(String::is_empty) {
            problems.push(
                name.clone(),
                "malformed configuration variable (ORIEL_<SECTION>__<KEY>)",
            );
            continue;
        }
        let Some((key, sections)) = path.split_last() else {
            continue;
        };
        match section_of(table, sections) {
            Ok(here) => {
                here.insert(key.clone(), env_value(&value));
                sources.insert(path.join("."), EnvSource { name, text: value });
            }
            Err(depth) => problems.push(
                path[..=depth].join("."),
                format!("is a value, not a section (from {name})"),
            ),
        }
    }
    sources
}

/// The table at `sections` (made if missing), or the depth at which a
/// value stands where a section should.
fn section_of<'t>(table: &'t mut Table, sections: &[String]) -> Result<&'t mut Table, usize> {
    let mut here = table;
    for (depth, section) in sections.iter().enumerate() {
        let entry = here
            .entry(section.clone())
            .or_insert_with(|| Value::Table(Table::new()));
        match entry {
            Value::Table(sect) => here = sect,
            _ => return Err(depth),
        }
    }
    Ok(here)
}

/// Checks the given keys one by one against the defaults.
struct Check<'a> {
    defaults: &'a Table,
    from_env: &'a HashMap<String, EnvSource>,
    problems: &'a mut Problems,
}

impl Check<'_> {
    /// Copies into `out` every key of `given` that exists in `shape` and
    /// deserializes on its own; records the others.
    fn merge(&mut self, shape: &Table, given: &Table, path: &mut Vec<String>, out: &mut Table) {
        for (key, value) in given {
            path.push(key.clone());
            let dotted = path.join(".");
            let origin = match self.from_env.get(&dotted) {
                Some(src) => format!(" (from {})", src.name),
                None => String::new(),
            };
            match (shape.get(key), value) {
                (None, _) => self.problems.push(&dotted, format!("unknown key{origin}")),
                (Some(Value::Table(sub_shape)), Value::Table(sub_given)) => {
                    if let Some(Value::Table(sub_out)) = out.get_mut(key) {
                        self.merge(sub_shape, sub_given, path, sub_out);
                    }
                }
                (Some(Value::Table(_)), _) => self
                    .problems
                    .push(&dotted, format!("must be a section [{dotted}]{origin}")),
                (Some(default), value) => {
                    let value = match (default, self.from_env.get(&dotted)) {
                        // A string key set from the environment takes the
                        // text as written (`ORIEL_GATEWAY__ID=7` is "7").
                        (Value::String(_), Some(src)) => Value::String(src.text.clone()),
                        _ => value.clone(),
                    };
                    match self.probe(path, &value) {
                        Ok(()) => {
                            out.insert(key.clone(), value);
                        }
                        Err(why) => self.problems.push(
                            &dotted,
                            format!("{}{origin}", type_problem(default, &value, &why)),
                        ),
                    }
                }
            }
            path.pop();
        }
    }

    /// Whether the defaults with `path` set to `value` deserialize.
    fn probe(&self, path: &[String], value: &Value) -> Result<(), String> {
        let mut probe = self.defaults.clone();
        let mut here = &mut probe;
        let Some((key, sections)) = path.split_last() else {
            return Ok(());
        };
        for s in sections {
            match here.get_mut(s) {
                Some(Value::Table(t)) => here = t,
                _ => return Err("not a section".into()),
            }
        }
        here.insert(key.clone(), value.clone());
        RawConfig::deserialize_table(probe)
            .map(drop)
            .map_err(|e| format!("{:#}", e.root_cause()))
    }
}

/// Why a value does not fit its key, said by the type the key expects.
fn type_problem(default: &Value, value: &Value, serde_says: &str) -> String {
    let expected = match default {
        Value::String(_) => "a string",
        Value::Integer(_) => "a whole number",
        Value::Float(_) => "a number",
        Value::Boolean(_) => "true or false",
        Value::Array(_) => "a list of strings",
        _ => "another type",
    };
    if default.type_str() == value.type_str() {
        // Right type, wrong value: a number too large for the key, say.
        let detail = serde_says.lines().next().unwrap_or(serde_says);
        format!("{value} does not fit: {detail}")
    } else {
        format!("expected {expected}, got {value}")
    }
}
