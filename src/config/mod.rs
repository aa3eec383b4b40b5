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

pub use error::{ConfigError, ConfigErrors};
pub use settings::Settings;

use crate::connector::config::{ConnectorConfig, HttpAuth, SourceKind};
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
                    let header =
                        format!("[fields.{}", e.field.split(['.', '[']).next().unwrap_or(""));
                    errors.push(ConfigError::field(
                        &file.path,
                        &file.text,
                        &e.field,
                        Some(&header),
                        e.reason,
                    ));
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
    if settings.scheduler.max_concurrent_runs == 0 {
        let field = "scheduler.max_concurrent_runs";
        return Err(ConfigError::field(
            &shown,
            &text,
            field,
            None,
            "must be at least 1",
        ));
    }
    if let Some((key, reason)) = settings.insights.invalid() {
        let field = format!("insights.{key}");
        return Err(ConfigError::field(&shown, &text, &field, None, reason));
    }
    if let Err(reason) = crate::reconcile::matching::Matching::new(&settings.reconcile.matching) {
        return Err(ConfigError::field(
            &shown,
            &text,
            "reconcile.matching",
            None,
            reason,
        ));
    }
    let mut names = std::collections::HashSet::new();
    for t in settings.server.tokens.iter_mut() {
        if !names.insert(t.name.clone()) {
            return Err(ConfigError::field(
                &shown,
                &text,
                "server.tokens.name",
                Some(&format!("\"{}\"", t.name)),
                format!("two tokens are named `{}`", t.name),
            ));
        }
        // An unset variable disables the token (`serve` warns); other commands need no token.
        let reference = t.token.take().unwrap_or_default();
        t.token = secrets::expand(&reference, |v| env.get(v).cloned())
            .ok()
            .filter(|v| !v.is_empty());
    }
    settings.store.url =
        secrets::expand(&settings.store.url, |v| env.get(v).cloned()).map_err(|var| {
            ConfigError::field(
                &shown,
                &text,
                "store.url",
                Some(&format!("${{{var}}}")),
                unset(&var),
            )
        })?;
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

fn load_connector(
    path: &Path,
    text: &str,
    mappings: &BTreeMap<String, MappingFile>,
    env: &HashMap<String, String>,
) -> Result<ConnectorFile, Vec<ConfigError>> {
    let mut config: ConnectorConfig =
        toml::from_str(text).map_err(|e| vec![ConfigError::from_toml(path, text, &e)])?;
    if config.name.is_empty() {
        config.name = path
            .file_stem()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
    }
    let mut errors = Vec::new();
    let mut err = |field: &str, needle: Option<&str>, msg: String| {
        errors.push(ConfigError::field(path, text, field, needle, msg));
    };
    if !config
        .name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        err("name", None, "use only letters, digits, `-` and `_`".into());
    }
    let (kind_table, present) = match config.kind {
        SourceKind::File => ("file", config.file.is_some()),
        SourceKind::Http => ("http", config.http.is_some()),
        SourceKind::Jsonrpc => ("jsonrpc", config.jsonrpc.is_some()),
        SourceKind::Sql => ("sql", config.sql.is_some()),
        SourceKind::Webhook => ("webhook", config.webhook.is_some()),
    };
    // The streams of a push-only connector need no table of their own.
    let pushed = config.kind == SourceKind::Webhook;
    if !present {
        err(
            "kind",
            None,
            format!("kind = \"{kind_table}\" needs a [{kind_table}] table"),
        );
    }
    if config.streams.is_empty() {
        err(
            "streams",
            None,
            "at least one [[streams]] entry is needed".into(),
        );
    }
    let mut seen = std::collections::HashSet::new();
    for (i, s) in config.streams.iter().enumerate() {
        let at = format!("streams[{i}]");
        let name_needle = format!("\"{}\"", s.name);
        if !seen.insert(s.name.as_str()) {
            err(
                &format!("{at}.name"),
                Some(&name_needle),
                format!("stream `{}` is defined twice", s.name),
            );
        }
        if !mappings.contains_key(&s.mapping) {
            err(
                &format!("{at}.mapping"),
                Some(&format!("\"{}\"", s.mapping)),
                format!("no mapping file mappings/{}.toml", s.mapping),
            );
        }
        let tables = [
            ("file", s.file.is_some()),
            ("http", s.http.is_some()),
            ("jsonrpc", s.jsonrpc.is_some()),
            ("sql", s.sql.is_some()),
        ];
        let has = tables.iter().any(|&(t, set)| set && t == kind_table);
        let other = tables.iter().any(|&(t, set)| set && t != kind_table);
        if let Some(sql) = &s.sql
            && let Err(e) = crate::connector::sql::validate_stream(sql)
        {
            err(
                &format!("{at}.sql"),
                Some(&name_needle),
                format!("stream `{}`: {e}", s.name),
            );
        }
        if let Some(http) = &s.http {
            for p in crate::connector::http_stream_problems(http) {
                err(
                    &format!("{at}.http.{}", p.field),
                    p.needle.as_deref(),
                    format!("stream `{}`: {}", s.name, p.message),
                );
            }
        }
        if !has && !pushed {
            err(
                &at,
                Some(&name_needle),
                format!(
                    "stream `{}` needs a `{kind_table}` table for kind \"{kind_table}\"",
                    s.name
                ),
            );
        }
        if other {
            err(
                &at,
                Some(&name_needle),
                format!(
                    "stream `{}` has options of another kind than \"{kind_table}\"",
                    s.name
                ),
            );
        }
    }
    if let Some(webhook) = &config.webhook {
        for (field, needle, msg) in webhook.problems(&config.streams) {
            err(&field, needle.as_deref(), msg);
        }
    }
    let mut vars = Vars {
        env,
        lenient: !config.enabled,
        unresolved: Vec::new(),
    };
    if let Some(file) = &mut config.file {
        vars.expand(&mut file.dir, "file.dir", &mut err);
    }
    if let Some(http) = &mut config.http {
        resolve_http_secrets(http, &mut vars, &mut err);
    }
    if let Some(rpc) = &mut config.jsonrpc {
        resolve_jsonrpc_secrets(rpc, &mut vars, &mut err);
    }
    if let Some(webhook) = &mut config.webhook {
        vars.secret(&mut webhook.secret, "webhook.secret", &mut err);
        if webhook.secret.is_empty() {
            err("webhook.secret", None, "the secret is empty".into());
        }
    }
    if let Some(sql) = &mut config.sql {
        if let Err(e) = crate::connector::sql::check_url_secret(&sql.url) {
            err("sql.url", None, e);
        } else {
            vars.expand(&mut sql.url, "sql.url", &mut err);
        }
    }
    for (i, s) in config.streams.iter_mut().enumerate() {
        if let Some(h) = &mut s.http {
            for (k, v) in h.params.iter_mut() {
                vars.expand(v, &format!("streams[{i}].http.params.{k}"), &mut err);
            }
            for (k, v) in h.headers.iter_mut() {
                vars.expand(v, &format!("streams[{i}].http.headers.{k}"), &mut err);
            }
            if let Some(body) = &mut h.body {
                vars.expand(body, &format!("streams[{i}].http.body"), &mut err);
            }
        }
    }
    if errors.is_empty() {
        Ok(ConnectorFile {
            path: path.to_path_buf(),
            config,
            unresolved: vars.unresolved,
        })
    } else {
        Err(errors)
    }
}

type Report<'a> = dyn FnMut(&str, Option<&str>, String) + 'a;

/// Expands `${VAR}` references of one connector file.
struct Vars<'a> {
    env: &'a HashMap<String, String>,
    /// A disabled connector may reference unset variables: they are listed, not errors.
    lenient: bool,
    unresolved: Vec<String>,
}

impl Vars<'_> {
    fn expand(&mut self, value: &mut String, field: &str, err: &mut Report<'_>) {
        match secrets::expand(value, |v| self.env.get(v).cloned()) {
            Ok(v) => *value = v,
            Err(var) if self.lenient => {
                if !self.unresolved.contains(&var) {
                    self.unresolved.push(var);
                }
            }
            Err(var) => err(field, Some(&format!("${{{var}}}")), unset(&var)),
        }
    }

    /// Expands a secret, which must be one whole `${VAR}` reference.
    fn secret(&mut self, value: &mut String, field: &str, err: &mut Report<'_>) {
        if secrets::is_reference(value) {
            self.expand(value, field, err);
        } else {
            err(
                field,
                None,
                "secrets are never written in config files: put it in an environment variable and write \"${VAR_NAME}\"".into(),
            );
        }
    }
}

fn resolve_http_secrets(
    http: &mut crate::connector::config::HttpOptions,
    vars: &mut Vars<'_>,
    err: &mut Report<'_>,
) {
    vars.expand(&mut http.base_url, "http.base_url", err);
    for (k, v) in http.headers.iter_mut() {
        vars.expand(v, &format!("http.headers.{k}"), err);
    }
    let secrets: Vec<(&str, &mut String)> = match &mut http.auth {
        None => vec![],
        Some(HttpAuth::Bearer { token }) => vec![("http.auth.token", token)],
        Some(HttpAuth::Basic { username, password }) => {
            vars.expand(username, "http.auth.username", err);
            vec![("http.auth.password", password)]
        }
        Some(HttpAuth::ApiKey { key, .. }) => vec![("http.auth.key", key)],
        Some(HttpAuth::Token { key, secret }) => {
            vars.expand(key, "http.auth.key", err);
            vec![("http.auth.secret", secret)]
        }
        Some(HttpAuth::Oauth2ClientCredentials {
            token_url,
            client_id,
            client_secret,
            ..
        }) => {
            vars.expand(token_url, "http.auth.token_url", err);
            vars.expand(client_id, "http.auth.client_id", err);
            vec![("http.auth.client_secret", client_secret)]
        }
    };
    for (field, value) in secrets {
        vars.secret(value, field, err);
    }
}

fn resolve_jsonrpc_secrets(
    rpc: &mut crate::connector::config::JsonRpcOptions,
    vars: &mut Vars<'_>,
    err: &mut Report<'_>,
) {
    vars.expand(&mut rpc.url, "jsonrpc.url", err);
    vars.expand(&mut rpc.database, "jsonrpc.database", err);
    vars.expand(&mut rpc.username, "jsonrpc.username", err);
    vars.secret(&mut rpc.password, "jsonrpc.password", err);
}

#[cfg(test)]
mod tests;
