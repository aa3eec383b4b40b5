use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use super::cursor::{self, Position};
use super::decode::{decode, encode_datetime};
use super::odoo::Odoo;
use super::parse_order;
use super::tryton::Tryton;
use crate::connector::ConnectorConfig;
use crate::connector::{ConnectorError, SourceContext, open_stream};

fn pos(value: &str, id: i64) -> Position {
    Position {
        value: value.into(),
        id,
    }
}

#[test]
fn tryton_values_decode_to_plain_json_exactly() {
    let wire = json!({
        "amount": {"__class__": "Decimal", "decimal": "1234567890.123456789"},
        "day": {"__class__": "date", "year": 2026, "month": 3, "day": 1},
        "at": {"__class__": "datetime", "year": 2026, "month": 11, "day": 23, "hour": 0,
               "minute": 58, "second": 21, "microsecond": 262427},
        "whole": {"__class__": "datetime", "year": 2026, "month": 1, "day": 2, "hour": 3,
                  "minute": 4, "second": 5, "microsecond": 0},
        "time": {"__class__": "time", "hour": 8, "minute": 5, "second": 0, "microsecond": 0},
        "span": {"__class__": "timedelta", "seconds": 3600.0},
        "blob": {"__class__": "bytes", "base64": "aGk="},
        "odd": {"__class__": "set", "values": [1]},
        "nested": [{"x": {"__class__": "Decimal", "decimal": "0.01"}}],
        "n": 1,
    });
    assert_eq!(
        decode(wire),
        json!({
            "amount": "1234567890.123456789",
            "day": "2026-03-01",
            "at": "2026-11-23T00:58:21.262427Z",
            "whole": "2026-01-02T03:04:05Z",
            "time": "08:05:00",
            "span": 3600.0,
            "blob": "aGk=",
            "odd": {"__class__": "set", "values": [1]},
            "nested": [{"x": "0.01"}],
            "n": 1,
        })
    );
    assert_eq!(
        encode_datetime("2026-11-23T00:58:21.262427Z"),
        Some(
            json!({"__class__": "datetime", "year": 2026, "month": 11, "day": 23,
                    "hour": 0, "minute": 58, "second": 21, "microsecond": 262427})
        )
    );
    assert_eq!(encode_datetime("not a date"), None);
}

#[test]
fn cursors_round_trip_and_refuse_another_field_or_version() {
    let c = pos("2026-03-02 08:15:09", 14).checkpoint("write_date");
    assert_eq!(
        c,
        json!({"version": 1, "field": "write_date", "value": "2026-03-02 08:15:09", "id": 14})
    );
    assert_eq!(
        cursor::parse(Some(&c), "write_date").unwrap(),
        Some(pos("2026-03-02 08:15:09", 14))
    );
    assert_eq!(cursor::parse(None, "write_date").unwrap(), None);
    let other = cursor::parse(Some(&c), "create_date").unwrap_err();
    assert!(other.contains("--full"), "{other}");
    assert!(
        cursor::parse(
            Some(&json!({"field": "write_date", "value": "x", "id": 1})),
            "write_date"
        )
        .is_err()
    );
}

#[test]
fn lookback_moves_the_start_back_in_the_values_own_format() {
    assert_eq!(
        cursor::start(Some(pos("2026-03-02 00:00:30", 14)), 60).unwrap(),
        Some(pos("2026-03-01 23:59:30", 0))
    );
    assert_eq!(
        cursor::start(Some(pos("2026-03-02T00:00:30.5Z", 14)), 60).unwrap(),
        Some(pos("2026-03-01T23:59:30.500Z", 0))
    );
    assert_eq!(
        cursor::start(Some(pos("2026-03-02 00:00:30", 14)), 0).unwrap(),
        Some(pos("2026-03-02 00:00:30", 14)),
        "no lookback: the exact cursor"
    );
    assert!(cursor::start(Some(pos("S00042", 1)), 60).is_err());
}

#[test]
fn positions_compare_as_timestamps_then_ids() {
    // As text "…09.5Z" < "…09Z"; as timestamps it is later.
    assert!(
        pos("2026-03-02T08:15:09.5Z", 1)
            .cmp(&pos("2026-03-02T08:15:09Z", 9))
            .is_gt()
    );
    assert!(
        pos("2026-03-02 08:15:09", 3)
            .cmp(&pos("2026-03-02 08:15:09", 4))
            .is_lt()
    );
    let r = json!({"id": 4, "write_date": null, "create_date": "2026-03-01T07:00:00Z"});
    assert_eq!(
        cursor::position_of(&r, "write_date", Some("create_date")),
        Some(pos("2026-03-01T07:00:00Z", 4))
    );
    assert_eq!(cursor::position_of(&r, "write_date", None), None);
    let odoo_empty = json!({"id": 4, "write_date": false});
    assert_eq!(cursor::position_of(&odoo_empty, "write_date", None), None);
}

#[test]
fn cursor_conditions_in_each_dialect() {
    let p = pos("2026-03-02 08:15:09", 14);
    assert_eq!(
        Value::Array(Odoo::after("write_date", &p)),
        json!([
            "|",
            ["write_date", ">", "2026-03-02 08:15:09"],
            "&",
            ["write_date", "=", "2026-03-02 08:15:09"],
            ["id", ">", 14]
        ])
    );
    let t = pos("2026-03-02T08:15:09Z", 14);
    let v = json!({"__class__": "datetime", "year": 2026, "month": 3, "day": 2, "hour": 8,
                   "minute": 15, "second": 9, "microsecond": 0});
    assert_eq!(
        Value::Array(Tryton::after("write_date", &t)),
        json!([[
            "OR",
            [["write_date", ">", v]],
            [["write_date", "=", v], ["id", ">", 14]],
            [
                ["write_date", "=", null],
                [
                    "OR",
                    [["create_date", ">", v]],
                    [["create_date", "=", v], ["id", ">", 14]]
                ]
            ]
        ]])
    );
    assert_eq!(Tryton::after("sequence", &pos("7", 1)).len(), 1);
}

#[test]
fn orders_parse_with_directions() {
    assert_eq!(
        parse_order("name, write_date DESC ,id asc").unwrap(),
        vec![
            ("name".to_string(), true),
            ("write_date".to_string(), false),
            ("id".to_string(), true)
        ]
    );
    assert!(parse_order("name sideways").is_err());
}

fn connector(toml_text: &str) -> ConnectorConfig {
    let mut c: ConnectorConfig = toml::from_str(toml_text).unwrap();
    c.name = "odoo".into();
    c
}

const ODOO: &str = r#"
kind = "jsonrpc"
[jsonrpc]
dialect = "odoo"
url = "URL"
database = "db"
username = "u"
password = "pw"
max_retries = 2
retry_backoff_ms = 1
page_size = 2
[[streams]]
name = "partners"
mapping = "m"
[streams.jsonrpc]
model = "res.partner"
fields = ["name"]
incremental = { field = "write_date", lookback_secs = 3600 }
"#;

/// Answers login, fails the first search_read with 503 (retried), then serves two partners.
#[derive(Clone, Default)]
struct Flaky {
    calls: Arc<Mutex<Vec<Value>>>,
}

impl Respond for Flaky {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let body: Value = serde_json::from_slice(&req.body).unwrap();
        let mut calls = self.calls.lock().unwrap();
        calls.push(body["params"].clone());
        let result = match body["params"]["method"].as_str().unwrap() {
            "login" => json!(2),
            _ if calls.len() == 2 => return ResponseTemplate::new(503),
            _ => json!([
                {"id": 3, "name": "A", "write_date": "2026-03-02 08:00:00"},
                {"id": 5, "name": "B", "write_date": "2026-03-02 08:00:00"},
            ]),
        };
        ResponseTemplate::new(200)
            .set_body_json(json!({"jsonrpc": "2.0", "id": body["id"], "result": result}))
    }
}

#[tokio::test]
async fn odoo_pages_retry_503_apply_the_lookback_and_read_the_cursor_fields() {
    let server = MockServer::start().await;
    let flaky = Flaky::default();
    Mock::given(method("POST"))
        .respond_with(flaky.clone())
        .mount(&server)
        .await;
    let c = connector(&ODOO.replace("URL", &server.uri()));
    let ctx = SourceContext { root: ".".into() };
    let stored =
        json!({"version": 1, "field": "write_date", "value": "2026-03-02 09:00:00", "id": 9});
    let mut source = open_stream(&c, "partners", Some(stored), &ctx).unwrap();
    let page = source.next_page().await.unwrap().unwrap();
    assert_eq!(page.records.len(), 2);
    assert_eq!(page.records[1].locator, "page 1 #2 (res.partner 5)");
    assert_eq!(
        page.checkpoint,
        Some(json!({"version": 1, "field": "write_date", "value": "2026-03-02 08:00:00", "id": 5}))
    );
    let calls = flaky.calls.lock().unwrap().clone();
    assert_eq!(calls.len(), 3, "login, 503, retry");
    let args = &calls[2]["args"];
    assert_eq!(
        args[5][0],
        json!([
            "|",
            ["write_date", ">", "2026-03-02 08:00:00"],
            "&",
            ["write_date", "=", "2026-03-02 08:00:00"],
            ["id", ">", 0]
        ]),
        "one hour of lookback before the cursor"
    );
    assert_eq!(args[6]["fields"], json!(["name", "write_date"]));
    assert_eq!(args[6]["limit"], 2);
    assert_eq!(args[6]["offset"], 0);
}

#[test]
fn a_cursor_of_another_field_and_order_on_incremental_streams_are_config_errors() {
    let c = connector(&ODOO.replace("URL", "http://127.0.0.1:9"));
    let ctx = SourceContext { root: ".".into() };
    let wrong =
        json!({"version": 1, "field": "create_date", "value": "2026-03-02 09:00:00", "id": 9});
    let Err(ConnectorError::Config { reason, .. }) = open_stream(&c, "partners", Some(wrong), &ctx)
    else {
        panic!("a cursor on another field must be refused");
    };
    assert!(reason.contains("--full"), "{reason}");
    let ordered = connector(&ODOO.replace("URL", "http://x").replace(
        "fields = [\"name\"]",
        "fields = [\"name\"]\norder = \"name asc\"",
    ));
    assert!(matches!(
        open_stream(&ordered, "partners", None, &ctx),
        Err(ConnectorError::Config { .. })
    ));
}
