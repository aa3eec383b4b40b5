use std::collections::HashMap;
use std::fs;
use std::path::Path;

use rust_decimal_macros::dec;

use super::*;
use crate::connector::http::config::HttpAuth;

const SETTINGS: &str = "[store]\nurl = \"sqlite://data/t.db\"\n[currency]\nbase = \"CNY\"\n[currency.rates]\nUSD = \"7.10\"\n";
const MAPPING: &str =
    "entity = \"customer\"\n[fields.source_key]\npath = \"id\"\n[fields.name]\npath = \"name\"\n";
const HTTP: &str = r#"kind = "http"
[http]
base_url = "${ERP_URL}/api"
auth = { type = "bearer", token = "${ERP_TOKEN}" }

[[streams]]
name = "customers"
mapping = "m"
http = { path = "/customers" }
"#;

fn project(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (path, text) in files {
        let full = dir.path().join(path);
        fs::create_dir_all(full.parent().unwrap()).unwrap();
        fs::write(full, text).unwrap();
    }
    fs::create_dir_all(dir.path().join("connectors")).unwrap();
    fs::create_dir_all(dir.path().join("mappings")).unwrap();
    dir
}

fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn errors(root: &Path, e: &HashMap<String, String>) -> Vec<String> {
    Project::load_with_env(root, e)
        .unwrap_err()
        .0
        .iter()
        .map(|e| e.to_string())
        .collect()
}

#[test]
fn loads_a_valid_project_with_secrets_and_defaults() {
    let dir = project(&[
        (SETTINGS_FILE, SETTINGS),
        ("mappings/m.toml", MAPPING),
        ("connectors/shop.toml", HTTP),
    ]);
    let p = Project::load_with_env(
        dir.path(),
        &env(&[("ERP_URL", "http://x"), ("ERP_TOKEN", "t0k")]),
    )
    .unwrap();
    let c = &p.connectors["shop"].config;
    assert_eq!(c.name, "shop", "name defaults to the file stem");
    let http = c.http().unwrap();
    assert_eq!(http.base_url, "http://x/api");
    assert!(matches!(&http.auth, Some(HttpAuth::Bearer { token }) if token == "t0k"));
    assert_eq!(
        p.settings.currency.rates[&"USD".parse().unwrap()],
        dec!(7.10)
    );
    assert_eq!(p.settings.exposure.stale_after_hours, 36);
    assert_eq!(
        p.store_url(),
        format!("sqlite://{}", dir.path().join("data/t.db").display())
    );
}

#[test]
fn environment_overrides_settings() {
    let dir = project(&[(SETTINGS_FILE, SETTINGS)]);
    let e = env(&[
        ("TRIBUTARY__STORE__URL", "postgres://db/x"),
        ("TRIBUTARY__EXPOSURE__STALE_AFTER_HOURS", "12"),
    ]);
    let p = Project::load_with_env(dir.path(), &e).unwrap();
    assert_eq!(p.settings.store.url, "postgres://db/x");
    assert_eq!(p.store_url(), "postgres://db/x");
    assert_eq!(p.settings.exposure.stale_after_hours, 12);
}

#[test]
fn unknown_keys_name_file_line_and_field() {
    let dir = project(&[
        (SETTINGS_FILE, SETTINGS),
        ("mappings/m.toml", MAPPING),
        (
            "connectors/erp.toml",
            "kind = \"file\"\nfile = { dir = \"x\" }\nshedule = \"0 2 * * *\"\nstreams = []\n",
        ),
    ]);
    let errs = errors(dir.path(), &env(&[]));
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(
        errs[0].starts_with("connectors/erp.toml:3: field `shedule`: unknown field `shedule`"),
        "{}",
        errs[0]
    );
}

#[test]
fn secrets_must_be_references_and_set() {
    let clear = HTTP.replace("${ERP_TOKEN}", "hunter2");
    let dir = project(&[
        (SETTINGS_FILE, SETTINGS),
        ("mappings/m.toml", MAPPING),
        ("connectors/a.toml", &clear),
    ]);
    let errs = errors(dir.path(), &env(&[("ERP_URL", "http://x")]));
    assert!(
        errs[0].contains("field `http.auth.token`: secrets are never written"),
        "{errs:?}"
    );

    let dir = project(&[
        (SETTINGS_FILE, SETTINGS),
        ("mappings/m.toml", MAPPING),
        ("connectors/a.toml", HTTP),
    ]);
    let errs = errors(dir.path(), &env(&[("ERP_URL", "http://x")]));
    assert_eq!(
        errs,
        vec![
            "connectors/a.toml:4: field `http.auth.token`: environment variable `ERP_TOKEN` is not set"
        ]
    );
}

#[test]
fn streams_are_checked_against_kind_and_mappings() {
    let text =
        "kind = \"file\"\n[file]\ndir = \"d\"\n\n[[streams]]\nname = \"a\"\nmapping = \"nope\"\n";
    let dir = project(&[
        (SETTINGS_FILE, SETTINGS),
        ("mappings/m.toml", MAPPING),
        ("connectors/f.toml", text),
    ]);
    let errs = errors(dir.path(), &env(&[]));
    assert!(
        errs.contains(
            &"connectors/f.toml:7: field `streams[0].mapping`: no mapping file mappings/nope.toml"
                .to_string()
        ),
        "{errs:?}"
    );
    assert!(
        errs.iter().any(|e| e.contains("needs a `file` table")),
        "{errs:?}"
    );
}

#[test]
fn http_links_and_details_are_checked_with_file_line_and_field() {
    let text = r#"kind = "http"
[http]
base_url = "http://erp"

[[streams]]
name = "customers"
mapping = "m"
[streams.http]
path = "/api/resource/Customer"
detail = { path = "/api/resource/Customer/{name}", concurrency = 0 }
links = [
  { field = "customer_primary_address", path = "/api/resource/Address/{customer_primary_address}", records = "data", as = "_primary_address" },
  { field = "", path = "/api/resource/Contact/{customer_primary_contact", as = "_primary_address" },
  { field = "x", path = "/api/resource/Country/China", as = "", concurrency = 0 },
]
"#;
    let dir = project(&[
        (SETTINGS_FILE, SETTINGS),
        ("mappings/m.toml", MAPPING),
        ("connectors/erp.toml", text),
    ]);
    let errs = errors(dir.path(), &env(&[]));
    let expected = [
        "connectors/erp.toml:10: field `streams[0].http.detail.concurrency`: stream `customers`: must be at least 1",
        "connectors/erp.toml:13: field `streams[0].http.links[1].field`: stream `customers`: names no field of the record",
        "connectors/erp.toml:13: field `streams[0].http.links[1].as`: stream `customers`: `_primary_address` is already the key of links[0]",
        "connectors/erp.toml:13: field `streams[0].http.links[1].path`: stream `customers`: path `/api/resource/Contact/{customer_primary_contact`: unclosed `{`",
        "connectors/erp.toml:14: field `streams[0].http.links[2].as`: stream `customers`: names no key to add the document under",
        "connectors/erp.toml:14: field `streams[0].http.links[2].concurrency`: stream `customers`: must be at least 1",
        "connectors/erp.toml:14: field `streams[0].http.links[2].path`: stream `customers`: `/api/resource/Country/China` has no `{field}` placeholder: every record would fetch the same document",
    ];
    assert_eq!(errs, expected, "{errs:#?}");
}

#[test]
fn float_rates_and_bad_currencies_are_refused() {
    let dir = project(&[(SETTINGS_FILE, &SETTINGS.replace("\"7.10\"", "7.1"))]);
    let errs = errors(dir.path(), &env(&[]));
    assert!(errs[0].contains("write it as a string"), "{errs:?}");
    assert!(errs[0].starts_with("config/tributary.toml:"), "{errs:?}");

    let dir = project(&[(SETTINGS_FILE, &SETTINGS.replace("\"CNY\"", "\"RMB1\""))]);
    let errs = errors(dir.path(), &env(&[]));
    assert!(
        errs[0].starts_with("config/tributary.toml:4: field `base`"),
        "{errs:?}"
    );
}

#[test]
fn every_problem_is_reported_at_once() {
    let dir = project(&[
        ("mappings/bad.toml", "entity = \"client\"\n"),
        ("connectors/c.toml", "kind = \"ftp\"\n"),
    ]);
    let errs = errors(dir.path(), &env(&[]));
    assert_eq!(errs.len(), 3, "{errs:?}");
    assert!(
        errs[0].starts_with("config/tributary.toml: cannot read"),
        "{errs:?}"
    );
    assert!(
        errs.iter()
            .any(|e| e.starts_with("mappings/bad.toml:1: field `entity`")),
        "{errs:?}"
    );
    assert!(
        errs.iter()
            .any(|e| e.starts_with("connectors/c.toml:1: field `kind`")),
        "{errs:?}"
    );
}

#[test]
fn a_disabled_preset_may_reference_unset_variables_but_an_enabled_one_may_not() {
    let connector = |enabled: bool| {
        format!(
            "kind = \"http\"\nenabled = {enabled}\n[http]\nbase_url = \"${{ODOO_URL}}\"\nauth = {{ type = \"bearer\", token = \"${{ODOO_KEY}}\" }}\n[[streams]]\nname = \"partners\"\nmapping = \"m\"\n[streams.http]\npath = \"/x\"\n"
        )
    };
    let disabled = connector(false);
    let dir = project(&[
        ("connectors/odoo.toml", disabled.as_str()),
        ("mappings/m.toml", MAPPING),
        ("config/tributary.toml", SETTINGS),
    ]);
    let p = Project::load_with_env(dir.path(), &HashMap::new()).expect("a disabled preset loads");
    assert_eq!(
        p.connectors["odoo"].unresolved,
        vec!["ODOO_URL", "ODOO_KEY"]
    );

    let enabled = connector(true);
    let dir = project(&[
        ("connectors/odoo.toml", enabled.as_str()),
        ("mappings/m.toml", MAPPING),
        ("config/tributary.toml", SETTINGS),
    ]);
    let e = Project::load_with_env(dir.path(), &HashMap::new())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("connectors/odoo.toml:4: field `http.base_url`"),
        "{e}"
    );
}

#[test]
fn token_and_oauth_secrets_must_be_references() {
    let token = HTTP.replace(
        r#"auth = { type = "bearer", token = "${ERP_TOKEN}" }"#,
        r#"auth = { type = "token", key = "${ERP_KEY}", secret = "plain" }"#,
    );
    let oauth = HTTP.replace(
        r#"auth = { type = "bearer", token = "${ERP_TOKEN}" }"#,
        r#"auth = { type = "oauth2_client_credentials", token_url = "${TOKEN_URL}", client_id = "app", client_secret = "plain" }"#,
    );
    let dir = project(&[
        (SETTINGS_FILE, SETTINGS),
        ("mappings/m.toml", MAPPING),
        ("connectors/a.toml", &token),
        ("connectors/b.toml", &oauth),
    ]);
    let errs = errors(
        dir.path(),
        &env(&[
            ("ERP_URL", "http://x"),
            ("ERP_KEY", "k"),
            ("TOKEN_URL", "http://t"),
        ]),
    );
    assert!(
        errs.iter()
            .any(|e| e.contains("field `http.auth.secret`: secrets are never written")),
        "{errs:?}"
    );
    assert!(
        errs.iter()
            .any(|e| e.contains("field `http.auth.client_secret`: secrets are never written")),
        "{errs:?}"
    );

    let ok = oauth.replace(r#"client_secret = "plain""#, r#"client_secret = "${S}""#);
    let dir = project(&[
        (SETTINGS_FILE, SETTINGS),
        ("mappings/m.toml", MAPPING),
        ("connectors/b.toml", &ok),
    ]);
    let errs = errors(dir.path(), &env(&[("ERP_URL", "http://x")]));
    assert_eq!(errs.len(), 2, "{errs:?}");
    assert!(
        errs.iter().any(|e| e.contains("`TOKEN_URL` is not set")),
        "{errs:?}"
    );
    assert!(
        errs.iter().any(|e| e.contains("`S` is not set")),
        "{errs:?}"
    );
}

const JSONRPC: &str = r#"kind = "jsonrpc"
enabled = false
[jsonrpc]
dialect = "odoo"
url = "${ODOO_URL}"
database = "${ODOO_DB}"
username = "api"
password = "${ODOO_API_KEY}"

[[streams]]
name = "partners"
mapping = "m"
[streams.jsonrpc]
model = "res.partner"
"#;

#[test]
fn jsonrpc_connectors_expand_secrets_and_refuse_clear_passwords() {
    let dir = project(&[
        (SETTINGS_FILE, SETTINGS),
        ("mappings/m.toml", MAPPING),
        ("connectors/odoo.toml", JSONRPC),
    ]);
    let p = Project::load_with_env(
        dir.path(),
        &env(&[
            ("ODOO_URL", "http://odoo"),
            ("ODOO_DB", "prod"),
            ("ODOO_API_KEY", "k3y"),
        ]),
    )
    .unwrap();
    let rpc = p.connectors["odoo"].config.jsonrpc().cloned().unwrap();
    assert_eq!(
        (
            rpc.url.as_str(),
            rpc.database.as_str(),
            rpc.password.as_str()
        ),
        ("http://odoo", "prod", "k3y")
    );
    assert_eq!(rpc.page_size, 200);
    // Disabled: unset variables are listed, not errors.
    let p = Project::load_with_env(dir.path(), &env(&[])).unwrap();
    assert_eq!(
        p.connectors["odoo"].unresolved,
        ["ODOO_URL", "ODOO_DB", "ODOO_API_KEY"]
    );

    let clear = JSONRPC.replace("\"${ODOO_API_KEY}\"", "\"hunter2\"");
    fs::write(dir.path().join("connectors/odoo.toml"), &clear).unwrap();
    let errs = errors(dir.path(), &env(&[]));
    assert!(
        errs.iter()
            .any(|e| e.contains("connectors/odoo.toml:8") && e.contains("jsonrpc.password")),
        "{errs:?}"
    );

    let no_table = JSONRPC.replace("[streams.jsonrpc]\nmodel = \"res.partner\"\n", "");
    fs::write(dir.path().join("connectors/odoo.toml"), &no_table).unwrap();
    let errs = errors(dir.path(), &env(&[]));
    assert!(
        errs.iter().any(|e| e.contains("needs a `jsonrpc` table")),
        "{errs:?}"
    );
}

#[test]
fn basic_auth_users_stream_headers_and_bodies_expand_variables() {
    let text = HTTP
        .replace(
            r#"auth = { type = "bearer", token = "${ERP_TOKEN}" }"#,
            r#"auth = { type = "basic", username = "${WS_USER}", password = "${WS_PASSWORD}" }"#,
        )
        .replace(
            r#"http = { path = "/customers" }"#,
            "http = { path = \"/c\", body = \"<Company>${COMPANY}</Company>\", headers = { X-Company = \"${COMPANY}\" } }",
        );
    let dir = project(&[
        (SETTINGS_FILE, SETTINGS),
        ("mappings/m.toml", MAPPING),
        ("connectors/nav.toml", &text),
    ]);
    let vars = [
        ("ERP_URL", "http://x"),
        ("WS_USER", "ws-user"),
        ("WS_PASSWORD", "pw"),
        ("COMPANY", "CRONUS"),
    ];
    let p = Project::load_with_env(dir.path(), &env(&vars)).unwrap();
    let c = &p.connectors["nav"].config;
    match &c.http().unwrap().auth {
        Some(HttpAuth::Basic { username, password }) => {
            assert_eq!((username.as_str(), password.as_str()), ("ws-user", "pw"));
        }
        other => panic!("{other:?}"),
    }
    let stream = c.streams[0].http().unwrap();
    assert_eq!(stream.body.as_deref(), Some("<Company>CRONUS</Company>"));
    assert_eq!(stream.headers["X-Company"], "CRONUS");

    let errs = errors(dir.path(), &env(&vars[..3]));
    assert!(
        errs.iter().any(|e| e.contains("`COMPANY` is not set")),
        "{errs:?}"
    );
}

#[test]
fn insight_settings_default_when_the_section_is_absent() {
    let dir = project(&[(SETTINGS_FILE, SETTINGS)]);
    let p = Project::load_with_env(dir.path(), &env(&[])).unwrap();
    let i = &p.settings.insights;
    assert_eq!(
        (i.period_days, i.loyal_periods, i.loyal_min_periods),
        (30, 3, 3)
    );
    assert_eq!((i.lapsed_multiple, i.churn_multiple), (dec!(3), dec!(2)));
    assert_eq!((i.lapsed_days_without_history, i.channel_days), (180, 28));
}

#[test]
fn insight_multiples_are_exact_and_may_come_from_the_environment() {
    let text = format!(
        "{SETTINGS}[insights]\nperiod_days = 91\nloyal_periods = 4\nloyal_min_periods = 2\nlapsed_multiple = 2.5\nchurn_multiple = \"1.75\"\n"
    );
    let dir = project(&[(SETTINGS_FILE, &text)]);
    let p = Project::load_with_env(dir.path(), &env(&[])).unwrap();
    let i = &p.settings.insights;
    assert_eq!(
        (i.period_days, i.loyal_periods, i.loyal_min_periods),
        (91, 4, 2)
    );
    assert_eq!(
        (i.lapsed_multiple, i.churn_multiple),
        (dec!(2.5), dec!(1.75))
    );
    let e = env(&[("TRIBUTARY__INSIGHTS__CHURN_MULTIPLE", "3.5")]);
    let p = Project::load_with_env(dir.path(), &e).unwrap();
    assert_eq!(p.settings.insights.churn_multiple, dec!(3.5));
}

#[test]
fn bad_insight_settings_name_the_key() {
    for (section, needle) in [
        ("[insights]\nchurn_multipel = 2\n", "churn_multipel"),
        ("[insights]\nchurn_multiple = 0\n", "positive"),
        ("[insights]\nlapsed_multiple = \"x\"\n", "not a decimal"),
        ("[insights]\nperiod_days = 0\n", "insights.period_days"),
        (
            "[insights]\nloyal_periods = 2\nloyal_min_periods = 3\n",
            "insights.loyal_min_periods",
        ),
    ] {
        let dir = project(&[(SETTINGS_FILE, &format!("{SETTINGS}{section}"))]);
        let err = Project::load_with_env(dir.path(), &env(&[]))
            .unwrap_err()
            .to_string();
        assert!(err.contains(needle), "{section}: {err}");
    }
}

const SCHEDULED: &str = "kind = \"file\"\nfile = { dir = \"x\" }\nschedule = \"30 2 * * 1-5\"\nfull_schedule = \"0 3 * * SUN\"\ntimezone = \"Asia/Shanghai\"\n[[streams]]\nname = \"s\"\nmapping = \"m\"\nfile = { pattern = \"*.csv\", format = \"csv\" }\n";

#[test]
fn schedules_and_time_zones_are_read_and_checked() {
    let dir = project(&[
        (SETTINGS_FILE, SETTINGS),
        ("mappings/m.toml", MAPPING),
        ("connectors/erp.toml", SCHEDULED),
    ]);
    let p = Project::load_with_env(dir.path(), &env(&[])).unwrap();
    let c = &p.connectors["erp"].config;
    assert_eq!(c.schedule.as_ref().unwrap().source(), "30 2 * * 1-5");
    assert_eq!(c.full_schedule.as_ref().unwrap().source(), "0 3 * * SUN");
    assert_eq!(c.timezone, Some(chrono_tz::Tz::Asia__Shanghai));
    let s = &p.settings.scheduler;
    assert_eq!((s.timezone, s.max_concurrent_runs), (chrono_tz::Tz::UTC, 2));

    for (from, to, says) in [
        (
            "30 2 * * 1-5",
            "30 2 * *",
            "connectors/erp.toml:3: field `schedule`: ",
        ),
        (
            "0 3 * * SUN",
            "0 3 * * FUN",
            "connectors/erp.toml:4: field `full_schedule`: ",
        ),
        (
            "Asia/Shanghai",
            "Asia/Shanghay",
            "connectors/erp.toml:5: field `timezone`: ",
        ),
    ] {
        let dir = project(&[
            (SETTINGS_FILE, SETTINGS),
            ("mappings/m.toml", MAPPING),
            ("connectors/erp.toml", &SCHEDULED.replace(from, to)),
        ]);
        let errs = errors(dir.path(), &env(&[]));
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert!(errs[0].starts_with(says), "{}", errs[0]);
    }
}

#[test]
fn scheduler_settings_are_checked() {
    let text =
        format!("{SETTINGS}[scheduler]\ntimezone = \"Europe/Berlin\"\nmax_concurrent_runs = 4\n");
    let dir = project(&[(SETTINGS_FILE, &text)]);
    let p = Project::load_with_env(dir.path(), &env(&[])).unwrap();
    let s = &p.settings.scheduler;
    assert_eq!(
        (s.timezone, s.max_concurrent_runs),
        (chrono_tz::Tz::Europe__Berlin, 4)
    );
    let e = env(&[("TRIBUTARY__SCHEDULER__TIMEZONE", "Asia/Tokyo")]);
    let p = Project::load_with_env(dir.path(), &e).unwrap();
    assert_eq!(p.settings.scheduler.timezone, chrono_tz::Tz::Asia__Tokyo);
    for (section, says) in [
        (
            "[scheduler]\ntimezone = \"CET+8\"\n",
            "config/tributary.toml:8: field `timezone`: `CET+8` is not an IANA time zone",
        ),
        (
            "[scheduler]\nmax_concurrent_runs = 0\n",
            "config/tributary.toml:8: field `scheduler.max_concurrent_runs`: must be at least 1",
        ),
    ] {
        let dir = project(&[(SETTINGS_FILE, &format!("{SETTINGS}{section}"))]);
        let err = Project::load_with_env(dir.path(), &env(&[]))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with(says), "{section}: {err}");
    }
}

/// 1-based line of the first `needle` in `text` (for the expectations of tests).
fn line_of(text: &str, needle: &str) -> usize {
    text[..text.find(needle).unwrap()].matches('\n').count() + 1
}

/// A project with one connector file `connectors/c.toml`; its load errors.
fn connector_errors(text: &str) -> Vec<String> {
    let dir = project(&[
        (SETTINGS_FILE, SETTINGS),
        ("mappings/m.toml", MAPPING),
        ("connectors/c.toml", text),
    ]);
    errors(dir.path(), &env(&[]))
}

#[test]
fn a_wrong_value_in_the_third_stream_names_that_streams_line() {
    let stream = |name: &str, size: u32| {
        format!(
            "\n[[streams]]\nname = \"{name}\"\nmapping = \"m\"\n[streams.http]\npath = \"/{name}\"\npagination = {{ type = \"page\", page_size = {size} }}\n"
        )
    };
    let text = format!(
        "kind = \"http\"\n[http]\nbase_url = \"http://erp\"\n{}{}{}",
        stream("a", 10),
        stream("b", 10),
        stream("c", 0)
    );
    assert_eq!(line_of(&text, "page_size = 0"), 24, "the third stream's");
    assert_eq!(
        connector_errors(&text),
        [
            "connectors/c.toml:24: field `streams[2].http.pagination.page_size`: stream `c`: must be at least 1 (records per page)"
        ]
    );
    // The same for a key every stream has: the third `mapping`, not the first.
    let text = text.replace("page_size = 0", "page_size = 5").replace(
        "name = \"c\"\nmapping = \"m\"",
        "name = \"c\"\nmapping = \"nope\"",
    );
    assert_eq!(line_of(&text, "\"nope\""), 21);
    assert_eq!(
        connector_errors(&text),
        ["connectors/c.toml:21: field `streams[2].mapping`: no mapping file mappings/nope.toml"]
    );
}

const FILE_KIND: &str = "kind = \"file\"\n[file]\ndir = \"in\"\n\n[[streams]]\nname = \"s\"\nmapping = \"m\"\nfile = { pattern = \"*.csv\", format = \"csv\", batch_size = 0 }\n";

#[test]
fn page_size_0_is_refused_for_the_file_kind() {
    assert_eq!(
        connector_errors(FILE_KIND),
        [
            "connectors/c.toml:8: field `streams[0].file.page_size`: stream `s`: must be at least 1 (records per page)"
        ]
    );
    let renamed = FILE_KIND.replace("batch_size", "page_size");
    assert_eq!(connector_errors(&renamed).len(), 1);
    let ok = FILE_KIND.replace("batch_size = 0", "page_size = 2");
    let dir = project(&[
        (SETTINGS_FILE, SETTINGS),
        ("mappings/m.toml", MAPPING),
        ("connectors/c.toml", &ok),
    ]);
    let p = Project::load_with_env(dir.path(), &env(&[])).unwrap();
    assert_eq!(
        p.connectors["c"].config.streams[0]
            .file()
            .unwrap()
            .page_size,
        Some(2)
    );
}

#[test]
fn page_size_0_is_refused_for_the_http_kind() {
    for pagination in [
        "{ type = \"page\", size = 0 }",
        "{ type = \"offset\", page_size = 0 }",
        "{ type = \"cursor\", token_path = \"next\", param = \"c\", size = 0 }",
    ] {
        let text = HTTP.replace(
            "http = { path = \"/customers\" }",
            &format!("[streams.http]\npath = \"/customers\"\npagination = {pagination}"),
        );
        let e = connector_errors(&text.replace("${ERP_URL}", "http://x"));
        assert_eq!(e.len(), 2, "{e:?}"); // and the unset ERP_TOKEN
        assert!(e.iter().any(|e| e.starts_with("connectors/c.toml:11: field `streams[0].http.pagination.page_size`: stream `customers`: must be at least 1")), "{pagination}: {e:?}");
    }
}

const JSONRPC_KIND: &str = "kind = \"jsonrpc\"\n[jsonrpc]\ndialect = \"odoo\"\nurl = \"http://odoo\"\ndatabase = \"db\"\nusername = \"u\"\npassword = \"${P}\"\npage_size = 0\n\n[[streams]]\nname = \"partners\"\nmapping = \"m\"\n[streams.jsonrpc]\nmodel = \"res.partner\"\npage_size = 0\n";

#[test]
fn page_size_0_is_refused_for_the_jsonrpc_kind() {
    let errs = connector_errors(
        &JSONRPC_KIND
            .replace("${P}", "${UNSET_BUT_DISABLED}")
            .replace("kind = \"jsonrpc\"", "kind = \"jsonrpc\"\nenabled = false"),
    );
    assert_eq!(
        errs,
        [
            "connectors/c.toml:9: field `jsonrpc.page_size`: must be at least 1 (records per page)",
            "connectors/c.toml:16: field `streams[0].jsonrpc.page_size`: stream `partners`: must be at least 1 (records per page)",
        ]
    );
}

const SQL_KIND: &str = "kind = \"sql\"\n[sql]\nurl = \"postgres://ro@db/erp\"\n\n[[streams]]\nname = \"partners\"\nmapping = \"m\"\n[streams.sql]\nquery = \"SELECT id, write_date FROM res_partner\"\ncursor = \"write_date\"\nkey = \"id\"\nbatch_size = 0\n";

#[test]
fn page_size_0_is_refused_for_the_sql_kind() {
    assert_eq!(
        connector_errors(SQL_KIND),
        [
            "connectors/c.toml:12: field `streams[0].sql.page_size`: stream `partners`: must be at least 1 (records per page)"
        ]
    );
}

#[test]
fn problems_that_only_open_found_are_reported_by_check_with_file_and_line() {
    // An http cursor pagination that names both a body token and a record token, a body
    // template using a parameter the stream does not send, and a bad header.
    let http = HTTP.replace("${ERP_URL}", "http://x").replace("${ERP_TOKEN}", "${T}").replace(
        "http = { path = \"/customers\" }",
        "[streams.http]\npath = \"/customers\"\npagination = { type = \"cursor\", token_path = \"next\", token_field = \"Key\", param = \"c\" }\nbody = \"<since>{{ since }}</since>\"\nheaders = { \"Bad Header\" = \"x\" }",
    );
    let errs = connector_errors(&http);
    for (needle, field) in [
        ("pagination", "streams[0].http.pagination"),
        ("body", "streams[0].http.body"),
        ("headers", "streams[0].http.headers.Bad Header"),
    ] {
        let line = line_of(&http, &format!("\n{needle} =")) + 1;
        let head = format!("connectors/c.toml:{line}: field `{field}`: stream `customers`: ");
        assert!(
            errs.iter().any(|e| e.starts_with(&head)),
            "{head}\n{errs:#?}"
        );
    }
    // A SQL query that is not one plain SELECT, and a time zone that is none.
    let sql = SQL_KIND
        .replace("batch_size = 0", "timezone = \"Mars/Olympus\"")
        .replace(
            "SELECT id, write_date FROM res_partner",
            "SELECT 1; DELETE FROM res_partner",
        );
    let errs = connector_errors(&sql);
    assert!(
        errs.iter().any(|e| e
            .starts_with("connectors/c.toml:9: field `streams[0].sql.query`: stream `partners`: ")),
        "{errs:#?}"
    );
    assert!(
        errs.iter()
            .any(|e| e.starts_with("connectors/c.toml:12: field `streams[0].sql.timezone`: ")),
        "{errs:#?}"
    );
    // A file pattern naming a folder, a delimiter that cannot be one, XML without record_path.
    let file = FILE_KIND.replace(
        "file = { pattern = \"*.csv\", format = \"csv\", batch_size = 0 }",
        "file = { pattern = \"sub/*.csv\", format = \"csv\", delimiter = \"\\\"\" }\n\n[[streams]]\nname = \"x\"\nmapping = \"m\"\nfile = { pattern = \"*.xml\", format = \"xml\" }",
    );
    let errs = connector_errors(&file);
    assert_eq!(errs.len(), 3, "{errs:#?}");
    assert!(errs[0].starts_with("connectors/c.toml:8: field `streams[0].file.pattern`: stream `s`: `sub/*.csv` must be a file name pattern"), "{errs:#?}");
    assert!(
        errs[1].starts_with("connectors/c.toml:8: field `streams[0].file.delimiter`: "),
        "{errs:#?}"
    );
    assert!(errs[2].starts_with("connectors/c.toml:13: field `streams[1].file.record_path`: stream `x`: format \"xml\" needs `record_path`"), "{errs:#?}");
}

#[test]
fn check_and_open_refuse_the_same_stream_for_the_same_reason() {
    let text = FILE_KIND.replace("batch_size = 0", "delimiter = \"\\n\"");
    let check = connector_errors(&text);
    let config: ConnectorConfig = toml::from_str(&text).unwrap();
    let ctx = crate::connector::SourceContext {
        root: std::env::temp_dir(),
    };
    let Err(crate::connector::ConnectorError::Config { reason, .. }) =
        crate::connector::open_stream(&config, "s", None, &ctx)
    else {
        panic!("open must refuse the stream");
    };
    assert_eq!(check.len(), 1, "{check:?}");
    let message = check[0].split("field ").nth(1).unwrap().replace('`', "");
    assert_eq!(reason.replace('`', ""), message, "check says: {}", check[0]);
}
