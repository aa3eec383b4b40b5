//! Loading the files a user edits: `config/tributary.toml`, `connectors/*.toml` and
//! `mappings/*.toml`, relative to a project root.
//!
//! Everything is checked before anything runs: unknown keys, wrong types, missing sections,
//! unset `${ENV_VAR}` references, secrets written in clear, streams naming missing mappings,
//! and mappings that do not compile. Every problem is reported with its file, line and field,
//! all at once. Reading files is the only I/O done here.

mod error;
pub mod settings;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

pub use error::{ConfigError, ConfigErrors, Spans};
pub use settings::Settings;

use crate::connector::{ConnectorConfig, ConnectorShape, Problem};
use crate::mapping::{Mapping, MappingSpec};
use crate::support::secrets;

/// Where the settings file lives under the root.
pub const SETTINGS_FILE: &str = "config/tributary.toml";
/// Prefix of environment overrides (`TRIBUTARY__STORE__URL`).
pub const ENV_PREFIX: &str = "TRIBUTARY";

/// A loaded mapping file.
#[derive(Debug, Clone)]
pub struct MappingFile {
    /// Its path.
    pub path: PathBuf,
    /// Its text (for locating errors).
    pub text: String,
    /// Its parsed content.
    pub spec: MappingSpec,
}

/// A loaded connector file.
#[derive(Debug, Clone)]
pub struct ConnectorFile {
    /// Its path.
    pub path: PathBuf,
    /// Its content, with `${VAR}` references resolved.
    pub config: ConnectorConfig,
    /// Environment variables it references that are not set. Only a disabled connector (a
    /// preset waiting to be filled in) may have any; it cannot run until they are set.
    pub unresolved: Vec<String>,
}

/// Everything a run needs to know, validated.
#[derive(Debug, Clone)]
pub struct Project {
    /// The project root.
    pub root: PathBuf,
    /// `config/tributary.toml`, with environment overrides applied.
    pub settings: Settings,
    /// Connectors by name.
    pub connectors: BTreeMap<String, ConnectorFile>,
    /// Mappings by name (file stem).
    pub mappings: BTreeMap<String, MappingFile>,
}

impl Project {
    /// Loads and validates the project under `root`, reading the process environment.
    pub fn load(root: &Path) -> Result<Project, ConfigErrors> {
        let vars: HashMap<String, String> = std::env::vars().collect();
        Project::load_with_env(root, &vars)
    }

    /// Loads with an explicit environment (for tests).
    pub fn load_with_env(
        root: &Path,
        env: &HashMap<String, String>,
    ) -> Result<Project, ConfigErrors> {
        let mut errors = Vec::new();
        let settings = load_settings(root, env).map_err(|e| errors.push(e)).ok();
        let mappings = load_dir(root, "mappings", &mut errors, |path, text| {
            toml::from_str::<MappingSpec>(text)
                .map(|spec| MappingFile {
                    path: path.to_path_buf(),
                    text: text.to_string(),
                    spec,
                })
                .map_err(|e| vec![ConfigError::from_toml(path, text, &e)])
        });
        let connectors = load_dir(root, "connectors", &mut errors, |path, text| {
            load_connector(path, text, &mappings, env)
        });
        match settings {
            Some(settings) if errors.is_empty() => Ok(Project {
                root: root.to_path_buf(),
                settings,
                connectors,
                mappings,
            }),
            _ => Err(ConfigErrors(errors)),
        }
    }

    /// Compiles every mapping; errors name the mapping file, line and field.
    pub fn compile_mappings(&self) -> Result<BTreeMap<String, Mapping>, ConfigErrors> {
        let mut out = BTreeMap::new();
        let mut errors = Vec::new();
        for (name, file) in &self.mappings {
            match Mapping::compile(&file.spec) {
                Ok(m) => {
                    out.insert(name.clone(), m);
                }
                Err(e) => {
                    let line = Spans::new(&file.text).line(&format!("fields.{}", e.field));
                    errors.push(ConfigError::at(&file.path, line, &e.field, e.reason));
                }
            }
        }
        if errors.is_empty() {
            Ok(out)
        } else {
            Err(ConfigErrors(errors))
        }
    }

    /// The store URL with a relative SQLite path resolved against the root.
    pub fn store_url(&self) -> String {
        resolve_store_url(&self.root, &self.settings.store.url)
    }
}

/// Resolves a relative `sqlite:` path against `root`; other URLs pass through.
pub fn resolve_store_url(root: &Path, url: &str) -> String {
    let Some(rest) = url.strip_prefix("sqlite:") else {
        return url.to_string();
    };
    let path = rest.trim_start_matches("//");
    if path.starts_with(':') || Path::new(path).is_absolute() {
        return url.to_string();
    }
    format!("sqlite://{}", root.join(path).display())
}

fn load_settings(root: &Path, env: &HashMap<String, String>) -> Result<Settings, ConfigError> {
    let path = root.join(SETTINGS_FILE);
    let shown = PathBuf::from(SETTINGS_FILE);
    let text = std::fs::read_to_string(&path)
        .map_err(|e| ConfigError::file(&shown, format!("cannot read {}: {e}", path.display())))?;
    // Parse once with toml for precise positions, then layer the environment over it.
    toml::from_str::<Settings>(&text).map_err(|e| ConfigError::from_toml(&shown, &text, &e))?;
    let overrides: HashMap<String, String> = env
        .iter()
        .filter(|(k, _)| k.starts_with(&format!("{ENV_PREFIX}__")))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let mut settings: Settings = config::Config::builder()
        .add_source(config::File::from_str(&text, config::FileFormat::Toml))
        .add_source(
            config::Environment::with_prefix(ENV_PREFIX)
                .prefix_separator("__")
                .separator("__")
                .source(Some(overrides.into_iter().collect())),
        )
        .build()
        .and_then(|c| c.try_deserialize())
        .map_err(|e| {
            ConfigError::file(
                &shown,
                format!("with {ENV_PREFIX}__… environment overrides: {e}"),
            )
        })?;
    let spans = Spans::new(&text);
    let error =
        |field: &str, message: String| ConfigError::at(&shown, spans.line(field), field, message);
    if settings.scheduler.max_concurrent_runs == 0 {
        return Err(error(
            "scheduler.max_concurrent_runs",
            "must be at least 1".into(),
        ));
    }
    if let Some((key, reason)) = settings.insights.invalid() {
        return Err(error(&format!("insights.{key}"), reason));
    }
    if let Err(reason) = crate::reconcile::matching::Matching::new(&settings.reconcile.matching) {
        return Err(error("reconcile.matching", reason));
    }
    let mut names = std::collections::HashSet::new();
    for (i, t) in settings.server.tokens.iter_mut().enumerate() {
        if !names.insert(t.name.clone()) {
            return Err(error(
                &format!("server.tokens[{i}].name"),
                format!("two tokens are named `{}`", t.name),
            ));
        }
        // An unset variable disables the token (`serve` warns); other commands need no token.
        let reference = t.token.take().unwrap_or_default();
        t.token = secrets::expand(&reference, |v| env.get(v).cloned())
            .ok()
            .filter(|v| !v.is_empty());
    }
    settings.store.url = secrets::expand(&settings.store.url, |v| env.get(v).cloned())
        .map_err(|var| error("store.url", unset(&var)))?;
    Ok(settings)
}

fn unset(var: &str) -> String {
    format!("environment variable `{var}` is not set")
}

/// Reads every `*.toml` in `root/dir`, sorted, keyed by file stem.
fn load_dir<T>(
    root: &Path,
    dir: &str,
    errors: &mut Vec<ConfigError>,
    parse: impl Fn(&Path, &str) -> Result<T, Vec<ConfigError>>,
) -> BTreeMap<String, T> {
    let mut out = BTreeMap::new();
    let entries = match std::fs::read_dir(root.join(dir)) {
        Ok(e) => e,
        Err(e) => {
            errors.push(ConfigError::file(
                Path::new(dir),
                format!("cannot read folder: {e}"),
            ));
            return out;
        }
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    paths.sort();
    for full in paths {
        let shown = Path::new(dir).join(full.file_name().unwrap_or_default());
        let stem = full
            .file_stem()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        match std::fs::read_to_string(&full) {
            Ok(text) => match parse(&shown, &text) {
                Ok(v) => {
                    out.insert(stem, v);
                }
                Err(mut errs) => errors.append(&mut errs),
            },
            Err(e) => errors.push(ConfigError::file(&shown, format!("cannot read: {e}"))),
        }
    }
    out
}

/// Reads one connector file: its shape, its streams' mappings, the `${VAR}` references the
/// kind declares (secrets only as references), then the kind's own checks through
/// [`ConnectorConfig::validate`], the same that `open` runs. Lines come from the file's spans.
fn load_connector(
    path: &Path,
    text: &str,
    mappings: &BTreeMap<String, MappingFile>,
    env: &HashMap<String, String>,
) -> Result<ConnectorFile, Vec<ConfigError>> {
    let shape: ConnectorShape =
        toml::from_str(text).map_err(|e| vec![ConfigError::from_toml(path, text, &e)])?;
    let mut problems: Vec<Problem> = shape
        .stream_mappings()
        .enumerate()
        .filter(|(_, (_, mapping))| !mappings.contains_key(*mapping))
        .map(|(i, (_, mapping))| {
            Problem::new(
                format!("streams[{i}].mapping"),
                format!("no mapping file mappings/{mapping}.toml"),
            )
        })
        .collect();
    let stem = path.file_stem().unwrap_or_default().to_string_lossy();
    let (config, mut structure) = shape.into_config(&stem);
    problems.append(&mut structure);
    let mut unresolved = Vec::new();
    if let Some(mut config) = config {
        let lenient = !config.enabled;
        for r in config.references() {
            if let Err(message) = r.secrecy.check(r.value) {
                problems.push(Problem::new(r.field, message));
                continue;
            }
            match secrets::expand(r.value, |v| env.get(v).cloned()) {
                Ok(v) => *r.value = v,
                // A disabled connector may reference unset variables: listed, not errors.
                Err(var) if lenient => {
                    if !unresolved.contains(&var) {
                        unresolved.push(var);
                    }
                }
                Err(var) => problems.push(Problem::new(r.field, unset(&var))),
            }
        }
        problems.extend(config.validate());
        if problems.is_empty() {
            return Ok(ConnectorFile {
                path: path.to_path_buf(),
                config,
                unresolved,
            });
        }
    }
    let spans = Spans::new(text);
    Err(problems
        .into_iter()
        .map(|p| ConfigError::at(path, spans.line(&p.field), &p.field, p.message))
        .collect())
}

#[cfg(test)]
mod tests;
