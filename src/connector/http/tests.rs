use std::time::{Duration, Instant};

use serde_json::{Value, json};
use wiremock::matchers::{header, method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::connector::{ConnectorConfig, ConnectorError, Page, SourceContext, open_stream};

/// A connector with `[http]` extras and one stream `s` with the given `[streams.http]` body.
pub(super) fn connector(uri: &str, http_extra: &str, stream: &str) -> ConnectorConfig {
    let text = format!(
        "name = \"t\"\nkind = \"http\"\n[http]\nbase_url = \"{uri}\"\nretry_backoff_ms = 10\n{http_extra}\n[[streams]]\nname = \"s\"\nmapping = \"m\"\n[streams.http]\n{stream}\n"
    );
    toml::from_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

pub(super) async fn read_all(
    c: &ConnectorConfig,
    cursor: Option<Value>,
) -> Result<Vec<Page>, ConnectorError> {
    let ctx = SourceContext {
        root: std::env::temp_dir(),
    };
    let mut source = open_stream(c, "s", cursor, &ctx)?;
    let mut pages = vec![];
    while let Some(page) = source.next_page().await? {
        pages.push(page);
    }
    Ok(pages)
}

fn ids(pages: &[Page]) -> Vec<i64> {
    pages
        .iter()
        .flat_map(|p| {
            p.records
                .iter()
                .map(|r| r.payload["id"].as_i64().unwrap_or(-1))
        })
        .collect()
}

fn rows(range: std::ops::RangeInclusive<i64>) -> Vec<Value> {
    range
        .map(|i| json!({"id": i, "ts": format!("2026-11-01T08:{i:02}:00+08:00")}))
        .collect()
}

/// Records the query strings of the requests a server received.
fn queries(requests: &[Request]) -> Vec<String> {
    requests
        .iter()
        .map(|r| r.url.query().unwrap_or("").to_string())
        .collect()
}

/// Serves `rows` with page pagination (`page`, `per_page`) and an inclusive `since` filter.
fn paged(all: Vec<Value>) -> impl Fn(&Request) -> ResponseTemplate + Send + Sync + 'static {
    move |req: &Request| {
        let q: std::collections::HashMap<String, String> =
            req.url.query_pairs().into_owned().collect();
        let page: usize = q.get("page").and_then(|p| p.parse().ok()).unwrap_or(1);
        let size: usize = q
            .get("per_page")
            .and_then(|p| p.parse().ok())
            .unwrap_or(100);
        let data: Vec<Value> = all
            .iter()
            .filter(|r| {
                q.get("since")
                    .is_none_or(|s| r["ts"].as_str().unwrap_or("") >= s.as_str())
            })
            .skip((page - 1) * size)
            .take(size)
            .cloned()
            .collect();
        ResponseTemplate::new(200).set_body_json(json!({"data": data}))
    }
}

#[tokio::test]
async fn without_pagination_the_body_is_the_record_array() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/items"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([{"id": 1}, {"id": 2}])))
        .expect(1)
        .mount(&server)
        .await;
    let pages = read_all(&connector(&server.uri(), "", "path = \"/items\""), None)
        .await
        .unwrap();
    assert_eq!(ids(&pages), [1, 2]);
    assert_eq!(pages[0].records[1].locator, "page 1 #2");
    assert_eq!(pages[0].checkpoint, None, "no incremental: no cursor");
}

#[tokio::test]
async fn records_are_found_at_a_nested_path_and_numbers_pass_through() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_string(
            r#"{"result": {"items": [{"id": 7, "amount": 12345.67, "big": 9007199254740993}]}}"#,
        ))
        .mount(&server)
        .await;
    let c = connector(
        &server.uri(),
        "",
        "path = \"api\"\nrecords = \"result.items\"",
    );
    let pages = read_all(&c, None).await.unwrap();
    let p = &pages[0].records[0].payload;
    assert_eq!(p["amount"].to_string(), "12345.67");
    assert_eq!(p["big"].to_string(), "9007199254740993");
}

#[tokio::test]
async fn page_pagination_stops_on_a_short_page() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/c"))
        .respond_with(paged(rows(1..=7)))
        .mount(&server)
        .await;
    let c = connector(
        &server.uri(),
        "",
        "path = \"/c\"\nrecords = \"data\"\npagination = { type = \"page\", size = 3 }",
    );
    let pages = read_all(&c, None).await.unwrap();
    assert_eq!(ids(&pages), (1..=7).collect::<Vec<_>>());
    assert_eq!(
        queries(&server.received_requests().await.unwrap()),
        [
            "page=1&per_page=3",
            "page=2&per_page=3",
            "page=3&per_page=3"
        ]
    );
}

#[tokio::test]
async fn page_pagination_stops_on_an_empty_page_and_honours_start_and_names() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(|req: &Request| {
            let q: std::collections::HashMap<String, String> =
                req.url.query_pairs().into_owned().collect();
            let data = match q.get("p").map(String::as_str) {
                Some("0") => json!([{"id": 1}, {"id": 2}]),
                _ => json!([]),
            };
            ResponseTemplate::new(200).set_body_json(data)
        })
        .mount(&server)
        .await;
    let c = connector(
        &server.uri(),
        "",
        "path = \"/c\"\npagination = { type = \"page\", page_param = \"p\", size_param = \"n\", size = 2, start = 0 }",
    );
    let pages = read_all(&c, None).await.unwrap();
    assert_eq!(ids(&pages), [1, 2]);
    assert_eq!(pages.len(), 2);
    assert_eq!(
        queries(&server.received_requests().await.unwrap()),
        ["p=0&n=2", "p=1&n=2"]
    );
}

#[tokio::test]
async fn offset_pagination_moves_by_the_records_received() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(|req: &Request| {
            let q: std::collections::HashMap<String, String> =
                req.url.query_pairs().into_owned().collect();
            let offset: i64 = q["skip"].parse().unwrap();
            let limit: i64 = q["top"].parse().unwrap();
            let data: Vec<Value> = (offset + 1..=(offset + limit).min(5))
                .map(|i| json!({"id": i}))
                .collect();
            ResponseTemplate::new(200).set_body_json(json!({"value": data}))
        })
        .mount(&server)
        .await;
    let c = connector(
        &server.uri(),
        "",
        "path = \"/o\"\nrecords = \"value\"\npagination = { type = \"offset\", offset_param = \"skip\", limit_param = \"top\", size = 2 }",
    );
    let pages = read_all(&c, None).await.unwrap();
    assert_eq!(ids(&pages), [1, 2, 3, 4, 5]);
    assert_eq!(
        queries(&server.received_requests().await.unwrap()),
        ["skip=0&top=2", "skip=2&top=2", "skip=4&top=2"]
    );
}

#[tokio::test]
async fn cursor_pagination_sends_the_token_back_until_it_is_null() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(query_param_is_missing("after"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"items": [{"id": 1}], "meta": {"next": "tok-2"}})),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(query_param("after", "tok-2"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"items": [{"id": 2}], "meta": {"next": null}})),
        )
        .mount(&server)
        .await;
    let c = connector(
        &server.uri(),
        "",
        "path = \"/c\"\nrecords = \"items\"\npagination = { type = \"cursor\", token_path = \"meta.next\", param = \"after\", size_param = \"limit\", size = 1 }",
    );
    let pages = read_all(&c, None).await.unwrap();
    assert_eq!(ids(&pages), [1, 2]);
    assert_eq!(
        queries(&server.received_requests().await.unwrap()),
        ["limit=1", "limit=1&after=tok-2"]
    );
}

#[tokio::test]
async fn a_repeated_cursor_token_is_an_error_not_a_loop() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"items": [{"id": 1}], "next": "same"})),
        )
        .mount(&server)
        .await;
    let c = connector(
        &server.uri(),
        "",
        "path = \"/c\"\nrecords = \"items\"\npagination = { type = \"cursor\", token_path = \"next\", param = \"t\" }",
    );
    let err = read_all(&c, None).await.unwrap_err();
    assert!(err.to_string().contains("twice"), "{err}");
}

#[tokio::test]
async fn next_link_from_the_body_is_followed_relative_to_the_request() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/list"))
        .and(query_param_is_missing("page"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"data": [{"id": 1}], "links": {"next": "list?page=2"}})),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/list"))
        .and(query_param("page", "2"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"data": [{"id": 2}], "links": {}})),
        )
        .mount(&server)
        .await;
    let c = connector(
        &server.uri(),
        "",
        "path = \"/v1/list\"\nrecords = \"data\"\npagination = { type = \"next_link\", url_path = \"links.next\" }",
    );
    assert_eq!(ids(&read_all(&c, None).await.unwrap()), [1, 2]);
}

#[tokio::test]
async fn next_link_from_the_link_header_is_followed() {
    let server = MockServer::start().await;
    let next = format!("<{}/page2>; rel=\"next\"", server.uri());
    Mock::given(method("GET"))
        .and(path("/page1"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("link", next.as_str())
                .set_body_json(json!([{"id": 1}])),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/page2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([{"id": 2}])))
        .mount(&server)
        .await;
    let c = connector(
        &server.uri(),
        "",
        "path = \"/page1\"\npagination = { type = \"next_link\" }",
    );
    assert_eq!(ids(&read_all(&c, None).await.unwrap()), [1, 2]);
}

async fn auth_server(matcher: impl wiremock::Match + 'static) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(matcher)
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([{"id": 1}])))
        .mount(&server)
        .await;
    // Anything else is refused.
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({"error": "unauthorized"})))
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn bearer_auth_and_extra_headers_are_sent() {
    let server = auth_server(header("authorization", "Bearer s3cret")).await;
    let c = connector(
        &server.uri(),
        "auth = { type = \"bearer\", token = \"s3cret\" }\nheaders = { X-Tenant = \"acme\" }",
        "path = \"/x\"",
    );
    assert_eq!(ids(&read_all(&c, None).await.unwrap()), [1]);
    let req = &server.received_requests().await.unwrap()[0];
    assert_eq!(req.headers.get("x-tenant").unwrap(), "acme");

    let wrong = connector(
        &server.uri(),
        "auth = { type = \"bearer\", token = \"nope\" }",
        "path = \"/x\"",
    );
    let err = read_all(&wrong, None).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Auth { .. }), "{err}");
    assert!(
        err.to_string().contains("401") && err.to_string().contains("unauthorized"),
        "{err}"
    );
}

#[tokio::test]
async fn basic_auth_is_sent() {
    // "user:pa ss" in base64.
    let server = auth_server(header("authorization", "Basic dXNlcjpwYSBzcw==")).await;
    let c = connector(
        &server.uri(),
        "auth = { type = \"basic\", username = \"user\", password = \"pa ss\" }",
        "path = \"/x\"",
    );
    assert_eq!(ids(&read_all(&c, None).await.unwrap()), [1]);
}

#[tokio::test]
async fn api_key_goes_in_the_default_or_a_named_header() {
    let server = auth_server(header("x-api-key", "k1")).await;
    let c = connector(
        &server.uri(),
        "auth = { type = \"api_key\", key = \"k1\" }",
        "path = \"/x\"",
    );
    assert_eq!(ids(&read_all(&c, None).await.unwrap()), [1]);
    let server = auth_server(header("api-token", "k2")).await;
    let c = connector(
        &server.uri(),
        "auth = { type = \"api_key\", key = \"k2\", header = \"Api-Token\" }",
        "path = \"/x\"",
    );
    assert_eq!(ids(&read_all(&c, None).await.unwrap()), [1]);
}

#[tokio::test]
async fn api_key_in_a_query_parameter_is_sent_but_never_shown() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(query_param("apikey", "k3"))
        .and(query_param("status", "active"))
        .respond_with(ResponseTemplate::new(503).set_body_string("busy"))
        .mount(&server)
        .await;
    let c = connector(
        &server.uri(),
        "auth = { type = \"api_key\", key = \"k3\", query_param = \"apikey\" }\nmax_retries = 0",
        "path = \"/x\"\nparams = { status = \"active\" }",
    );
    let err = read_all(&c, None).await.unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("503") && text.contains("status=active"),
        "{text}"
    );
    assert!(!text.contains("k3"), "the key leaked: {text}");
}

#[tokio::test]
async fn incremental_sorted_commits_each_page_and_resumes_from_the_cursor() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(paged(rows(1..=5)))
        .mount(&server)
        .await;
    let c = connector(
        &server.uri(),
        "",
        "path = \"/c\"\nrecords = \"data\"\npagination = { type = \"page\", size = 2 }\nincremental = { field = \"ts\", param = \"since\", sorted = true, start = \"2026-11-01T08:02:00+08:00\" }",
    );
    let pages = read_all(&c, None).await.unwrap();
    assert_eq!(ids(&pages), [2, 3, 4, 5]);
    let values: Vec<Value> = pages
        .iter()
        .map(|p| {
            p.checkpoint
                .as_ref()
                .map_or(Value::Null, |c| c["value"].clone())
        })
        .collect();
    // Two full pages, then an empty one that ends the read.
    assert_eq!(
        values,
        [
            json!("2026-11-01T08:03:00+08:00"),
            json!("2026-11-01T08:05:00+08:00"),
            json!("2026-11-01T08:05:00+08:00")
        ]
    );
    assert_eq!(
        pages[1].checkpoint,
        Some(
            json!({"version": 2, "field": "ts", "value": "2026-11-01T08:05:00+08:00", "tiebreak": null, "id": null})
        )
    );
    // Every request of a read sends the same value; the next read starts at the cursor,
    // inclusive.
    let q = queries(&server.received_requests().await.unwrap());
    assert!(
        q.iter()
            .all(|q| q.contains("since=2026-11-01T08%3A02%3A00%2B08%3A00")),
        "{q:?}"
    );
    let again = read_all(&c, pages[1].checkpoint.clone()).await.unwrap();
    assert_eq!(ids(&again), [5]);
}

#[tokio::test]
async fn incremental_unsorted_commits_only_with_the_last_page() {
    let server = MockServer::start().await;
    let all = vec![
        json!({"id": 1, "ts": "2026-11-01T12:00:00+08:00"}),
        json!({"id": 2, "ts": "2026-11-01T05:00:00Z"}), // 13:00 +08:00, the newest
        json!({"id": 3, "ts": "2026-11-01T09:00:00+08:00"}),
    ];
    Mock::given(method("GET"))
        .respond_with(paged(all))
        .mount(&server)
        .await;
    let c = connector(
        &server.uri(),
        "",
        "path = \"/c\"\nrecords = \"data\"\npagination = { type = \"page\", size = 2 }\nincremental = { field = \"ts\", param = \"since\" }",
    );
    let pages = read_all(&c, None).await.unwrap();
    assert_eq!(pages.len(), 2);
    assert_eq!(pages[0].checkpoint, None);
    assert_eq!(
        pages[1].checkpoint.as_ref().unwrap()["value"],
        "2026-11-01T05:00:00Z"
    );
    let q = queries(&server.received_requests().await.unwrap());
    assert!(
        q.iter().all(|q| !q.contains("since")),
        "no start, no cursor: {q:?}"
    );
}

#[tokio::test]
async fn a_500_on_page_three_fails_without_retry_after_two_pages() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(query_param("page", "3"))
        .respond_with(
            ResponseTemplate::new(500).set_body_json(json!({"error": "internal server error"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(paged(rows(1..=9)))
        .mount(&server)
        .await;
    let c = connector(
        &server.uri(),
        "",
        "path = \"/c\"\nrecords = \"data\"\npagination = { type = \"page\", size = 2 }\nincremental = { field = \"ts\", param = \"since\", sorted = true }",
    );
    let ctx = SourceContext {
        root: std::env::temp_dir(),
    };
    let mut source = open_stream(&c, "s", None, &ctx).unwrap();
    let p1 = source.next_page().await.unwrap().unwrap();
    let p2 = source.next_page().await.unwrap().unwrap();
    assert_eq!(ids(&[p1, p2.clone()]), [1, 2, 3, 4]);
    assert_eq!(p2.checkpoint.unwrap()["value"], "2026-11-01T08:04:00+08:00");
    let err = source.next_page().await.unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("500") && text.contains("internal server error"),
        "{text}"
    );
}

#[tokio::test]
async fn a_429_is_retried_after_the_retry_after_delay() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "1"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([{"id": 1}])))
        .mount(&server)
        .await;
    let c = connector(&server.uri(), "max_retries = 3", "path = \"/x\"");
    let started = Instant::now();
    assert_eq!(ids(&read_all(&c, None).await.unwrap()), [1]);
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
}

#[tokio::test]
async fn a_503_is_retried_up_to_max_retries_then_fails() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(503).set_body_string("maintenance"))
        .mount(&server)
        .await;
    let c = connector(&server.uri(), "max_retries = 2", "path = \"/x\"");
    let err = read_all(&c, None).await.unwrap_err();
    assert!(err.to_string().contains("503") && err.to_string().contains("maintenance"));
    assert_eq!(server.received_requests().await.unwrap().len(), 3);
}

#[tokio::test]
async fn a_404_is_not_retried() {
    let server = MockServer::start().await;
    let c = connector(&server.uri(), "", "path = \"/missing\"");
    let err = read_all(&c, None).await.unwrap_err();
    assert!(err.to_string().contains("404"), "{err}");
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn transport_errors_are_retried_then_reported() {
    // Nothing listens on this port once the server is dropped.
    let uri = {
        let server = MockServer::start().await;
        server.uri()
    };
    let c = connector(&uri, "max_retries = 1", "path = \"/x\"");
    let err = read_all(&c, None).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Http { .. }), "{err}");
}

#[tokio::test]
async fn bodies_that_are_not_json_or_lack_the_records_are_response_errors() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/html"))
        .respond_with(ResponseTemplate::new(200).set_body_string("<html>login</html>"))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/obj"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"items": []})))
        .mount(&server)
        .await;
    let err = read_all(&connector(&server.uri(), "", "path = \"/html\""), None)
        .await
        .unwrap_err();
    assert!(
        matches!(err, ConnectorError::Response { .. }) && err.to_string().contains("<html>"),
        "{err}"
    );
    let err = read_all(
        &connector(&server.uri(), "", "path = \"/obj\"\nrecords = \"data\""),
        None,
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, ConnectorError::Response { .. }) && err.to_string().contains("`data`"),
        "{err}"
    );
    let err = read_all(&connector(&server.uri(), "", "path = \"/obj\""), None)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("expected an array"), "{err}");
}

#[tokio::test]
async fn bad_settings_and_foreign_cursors_are_config_errors() {
    let ctx = SourceContext {
        root: std::env::temp_dir(),
    };
    let cases = [
        connector("not a url", "", "path = \"/x\""),
        connector(
            "http://h",
            "headers = { \"bad header\" = \"x\" }",
            "path = \"/x\"",
        ),
        connector(
            "http://h",
            "auth = { type = \"api_key\", key = \"k\", header = \"H\", query_param = \"q\" }",
            "path = \"/x\"",
        ),
        connector(
            "http://h",
            "",
            "path = \"/x\"\npagination = { type = \"page\", size = 0 }",
        ),
    ];
    for c in &cases {
        assert!(
            matches!(
                open_stream(c, "s", None, &ctx),
                Err(ConnectorError::Config { .. })
            ),
            "{c:?}"
        );
    }
    let inc = connector(
        "http://h",
        "",
        "path = \"/x\"\nincremental = { field = \"ts\", param = \"since\" }",
    );
    let err = open_stream(&inc, "s", Some(json!({"version": 7})), &ctx)
        .err()
        .unwrap();
    assert!(err.to_string().contains("--full"), "{err}");
}

#[test]
fn stream_urls_join_base_and_path() {
    let u = |b: &str, p: &str| super::stream_url(b, p).unwrap().to_string();
    assert_eq!(u("http://h/api/", "/v1/c"), "http://h/api/v1/c");
    assert_eq!(u("http://h/api", "v1/c"), "http://h/api/v1/c");
    assert_eq!(u("http://h", "https://other/x"), "https://other/x");
    assert_eq!(u("http://h/a", ""), "http://h/a");
}

#[tokio::test]
async fn a_next_link_to_another_host_is_not_followed() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("link", "<https://elsewhere.example/p2>; rel=\"next\"")
                .set_body_json(json!([{"id": 1}])),
        )
        .mount(&server)
        .await;
    let c = connector(
        &server.uri(),
        "auth = { type = \"bearer\", token = \"t\" }",
        "path = \"/p1\"\npagination = { type = \"next_link\" }",
    );
    let err = read_all(&c, None).await.unwrap_err();
    assert!(err.to_string().contains("leaves the API's host"), "{err}");
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn frappe_token_auth_is_sent_and_403_is_an_auth_error_not_retried() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/ok"))
        .and(header("authorization", "token k1:s1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([{"id": 1}])))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/denied"))
        .respond_with(ResponseTemplate::new(403).set_body_json(
            json!({"exc_type": "PermissionError", "exception": "frappe.exceptions.PermissionError: Insufficient Permission for Bin"}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    let auth = "auth = { type = \"token\", key = \"k1\", secret = \"s1\" }";
    let ok = connector(&server.uri(), auth, "path = \"/ok\"");
    assert_eq!(ids(&read_all(&ok, None).await.unwrap()), [1]);
    let denied = connector(&server.uri(), auth, "path = \"/denied\"");
    let err = read_all(&denied, None).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Auth { .. }), "{err}");
    assert!(err.to_string().contains("PermissionError"), "{err}");
}

#[tokio::test]
async fn detail_requests_replace_listed_records_in_list_order() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/resource/Sales%20Order"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"data": (1..=9).map(|i| json!({"name": format!("SO {i}")})).collect::<Vec<_>>()}),
        ))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(|req: &Request| {
            let name = req
                .url
                .path_segments()
                .unwrap()
                .next_back()
                .unwrap()
                .replace("%20", " ");
            let n: i64 = name.trim_start_matches("SO ").parse().unwrap();
            ResponseTemplate::new(200)
                .set_body_json(json!({"data": {"id": n, "name": name, "items": [{"idx": 1}]}}))
        })
        .mount(&server)
        .await;
    let c = connector(
        &server.uri(),
        "",
        "path = \"/api/resource/Sales Order\"\nrecords = \"data\"\ndetail = { path = \"/api/resource/Sales Order/{name}\", records = \"data\" }",
    );
    let pages = read_all(&c, None).await.unwrap();
    assert_eq!(ids(&pages), (1..=9).collect::<Vec<_>>());
    assert_eq!(pages[0].records[0].payload["items"][0]["idx"], 1);
    // 1 list + 9 detail requests.
    assert_eq!(server.received_requests().await.unwrap().len(), 10);

    let zero = connector(
        &server.uri(),
        "",
        "path = \"/x\"\ndetail = { path = \"/x/{id}\", concurrency = 0 }",
    );
    assert!(matches!(
        read_all(&zero, None).await,
        Err(ConnectorError::Config { .. })
    ));
}

#[tokio::test]
async fn linked_documents_are_added_once_per_page_and_a_missing_one_is_left_out() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/resource/Customer"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": [
            {"id": 1, "address": "A 1", "contact": "C 1"},
            {"id": 2, "address": "A 1", "contact": null},
            {"id": 3, "address": "", "contact": false},
            {"id": 4, "address": "Gone"},
            {"id": 5},
        ]})))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/resource/Address/A%201"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"data": {"name": "A 1", "city": "Hamburg", "country": "Germany"}}),
        ))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/resource/Country/Germany"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"data": {"name": "Germany", "code": "de"}})),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/resource/Contact/C%201"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"data": {"phone": "+49 40 1"}})),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/resource/Address/Gone"))
        .respond_with(
            ResponseTemplate::new(404).set_body_json(json!({"exc_type": "DoesNotExistError"})),
        )
        .mount(&server)
        .await;
    let c = connector(
        &server.uri(),
        "",
        r#"path = "/api/resource/Customer"
records = "data"
links = [
  { field = "address", path = "/api/resource/Address/{address}", records = "data", as = "address_doc" },
  { field = "address_doc.country", path = "/api/resource/Country/{address_doc.country}", records = "data", as = "country_doc", concurrency = 1 },
  { field = "contact", path = "/api/resource/Contact/{contact}", records = "data", as = "contact_doc" },
]"#,
    );
    let pages = read_all(&c, None).await.unwrap();
    let records: Vec<&Value> = pages[0].records.iter().map(|r| &r.payload).collect();
    assert_eq!(records[0]["address_doc"]["city"], "Hamburg");
    assert_eq!(
        records[0]["country_doc"]["code"], "de",
        "a link into an earlier link"
    );
    assert_eq!(records[0]["contact_doc"]["phone"], "+49 40 1");
    assert_eq!(records[1]["address_doc"], records[0]["address_doc"]);
    assert!(records[1].get("contact_doc").is_none());
    for r in &records[2..] {
        assert!(
            r.get("address_doc").is_none() && r.get("country_doc").is_none(),
            "{r}"
        );
    }
    assert_eq!(records.len(), 5, "a 404 leaves the key out, not the record");
    // 1 list + the address, its country and the contact once each + the 404.
    let requests = server.received_requests().await.unwrap();
    assert_eq!(
        requests.len(),
        5,
        "{:?}",
        requests.iter().map(|r| r.url.path()).collect::<Vec<_>>()
    );

    // Any other failure fails the page.
    let broken = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/list"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([{"id": 1, "a": "x"}])))
        .mount(&broken)
        .await;
    Mock::given(method("GET"))
        .and(path("/doc/x"))
        .respond_with(ResponseTemplate::new(500))
        .mount(&broken)
        .await;
    let c = connector(
        &broken.uri(),
        "",
        r#"path = "/list"
links = [{ field = "a", path = "/doc/{a}", as = "doc" }]"#,
    );
    let err = read_all(&c, None).await.unwrap_err();
    assert!(
        matches!(err, ConnectorError::Http { .. }) && err.to_string().contains("500"),
        "{err}"
    );
    let no_placeholder = connector(
        &broken.uri(),
        "",
        r#"path = "/list"
links = [{ field = "a", path = "/doc/x", as = "doc" }]"#,
    );
    assert!(matches!(
        read_all(&no_placeholder, None).await,
        Err(ConnectorError::Config { .. })
    ));
}

#[tokio::test]
async fn rate_limits_are_checked_and_odata_next_links_followed() {
    let server = MockServer::start().await;
    let next = format!("{}/odata?$skiptoken=2", server.uri());
    Mock::given(method("GET"))
        .and(path("/odata"))
        .and(query_param_is_missing("$skiptoken"))
        .and(header("prefer", "odata.maxpagesize=2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"@odata.context": "x", "value": [{"id": 1}, {"id": 2}], "@odata.nextLink": next}),
        ))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/odata"))
        .and(query_param("$skiptoken", "2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"value": [{"id": 3}]})))
        .mount(&server)
        .await;
    let c = connector(
        &server.uri(),
        "headers = { Prefer = \"odata.maxpagesize=2\" }\nrate_limit = { requests = 100, per_secs = 1 }",
        "path = \"/odata\"\nrecords = \"value\"\npagination = { type = \"next_link\", url_path = \"@odata.nextLink\" }",
    );
    assert_eq!(ids(&read_all(&c, None).await.unwrap()), [1, 2, 3]);

    let zero = connector(
        &server.uri(),
        "rate_limit = { requests = 0 }",
        "path = \"/odata\"",
    );
    assert!(matches!(
        read_all(&zero, None).await,
        Err(ConnectorError::Config { .. })
    ));
}
