//! Unit tests of the mapping engine: each behaviour of the language, through the public API.

use serde_json::{Value, json};

use super::schema::{self, Kind};
use super::{CompileError, Mapping, MappingError, MappingSpec};
use crate::model::{CanonicalRecord, Entity};

fn spec(text: &str) -> MappingSpec {
    toml::from_str(text).unwrap_or_else(|e| panic!("bad test spec: {e}\n{text}"))
}

fn compile(text: &str) -> Result<Mapping, CompileError> {
    Mapping::compile(&spec(text))
}

/// A customer mapping with `source_key` and `name` plus the given extra fields.
fn customer(extra: &str) -> Mapping {
    let text = format!(
        "entity = \"customer\"\n[fields.source_key]\npath = \"id\"\n[fields.name]\npath = \"name\"\n{extra}"
    );
    compile(&text).unwrap_or_else(|e| panic!("{e}"))
}

/// Applies `m` to `record` and returns the canonical JSON.
fn out(m: &Mapping, record: Value) -> Value {
    m.apply(&record)
        .unwrap_or_else(|e| panic!("{e}"))
        .to_value()
}

fn err(m: &Mapping, record: Value) -> MappingError {
    match m.apply(&record) {
        Ok(r) => panic!("expected an error, got {:?}", r.to_value()),
        Err(e) => e,
    }
}

fn compile_err(text: &str) -> CompileError {
    match compile(text) {
        Ok(_) => panic!("expected a compile error"),
        Err(e) => e,
    }
}

#[test]
fn the_documented_example_maps_and_its_test_passes() {
    let text = r#"
entity = "customer"
[fields.source_key]
path = "id"
required = true
[fields.name]
path = "name"
transforms = ["trim", "collapse_whitespace"]
[fields.credit_limit]
path = "credit.limit"
type = "decimal"
[[tests]]
name = "a plain customer"
input = { id = 7, name = " ACME  Ltd ", credit = { limit = "5000" } }
expect = { source_key = "7", name = "ACME Ltd", credit_limit = "5000.00" }
"#;
    let s = spec(text);
    let m = Mapping::compile(&s).unwrap();
    assert_eq!(m.entity(), Entity::Customer);
    let v = out(
        &m,
        json!({"id": 7, "name": " ACME  Ltd ", "credit": {"limit": "5000"}}),
    );
    assert_eq!(v["source_key"], json!("7"));
    assert_eq!(v["name"], json!("ACME Ltd"));
    assert_eq!(v["credit_limit"], json!("5000"));
    assert_eq!(v["active"], json!(true), "model default applies");
    let outcomes = m.run_tests(&s);
    assert_eq!(outcomes.len(), 1);
    assert_eq!(outcomes[0].failure, None, "{outcomes:?}");
}

#[test]
fn text_transforms() {
    let m = customer(
        r#"
[fields.tax_id]
path = "t"
transforms = ["trim", "upper"]
[fields.email]
path = "e"
transforms = ["lower", "trim"]
[fields.address]
path = "a"
transforms = ["collapse_whitespace"]
[fields.phone]
path = "p"
transforms = ["digits_only"]
[fields.postal_code]
path = "z"
transforms = [{ regex_replace = { pattern = "^(\\d{3})(\\d{3})$", with = "$1-$2" } }]
"#,
    );
    let v = out(
        &m,
        json!({"id": 1, "name": "N", "t": "  de123 ", "e": " Info@ACME.com ",
               "a": " 1  Main\t St \n", "p": "+86 (755) 1234-5678", "z": 518000}),
    );
    assert_eq!(v["tax_id"], json!("DE123"));
    assert_eq!(v["email"], json!("info@acme.com"));
    assert_eq!(v["address"], json!("1 Main St"));
    assert_eq!(v["phone"], json!("8675512345678"));
    assert_eq!(
        v["postal_code"],
        json!("518-000"),
        "numbers become text first"
    );
}

#[test]
fn split_trims_each_part_and_join_skips_empty_ones() {
    let m = customer(
        r#"
[fields.address]
path = "a"
transforms = [{ split = { sep = ";" } }, "trim", "upper", { join = { sep = ", " } }]
[fields.tier]
path = "tags"
transforms = [{ join = { sep = "/" } }]
"#,
    );
    let v = out(
        &m,
        json!({"id": 1, "name": "N", "a": " a ; b;;c ", "tags": ["x", null, "y", false]}),
    );
    assert_eq!(v["address"], json!("A, B, C"));
    assert_eq!(v["tier"], json!("x/y"));
}

#[test]
fn bad_regex_is_a_compile_error_naming_the_field() {
    let e = compile_err(
        r#"
entity = "customer"
[fields.source_key]
path = "id"
[fields.name]
path = "name"
transforms = [{ regex_replace = { pattern = "(", with = "" } }]
"#,
    );
    assert_eq!(e.field, "name");
    assert!(e.reason.contains("regex_replace"), "{e}");
}

#[test]
fn decimals_are_exact_and_strict() {
    let m = customer("[fields.credit_limit]\npath = \"c\"\n");
    let dec = |c: Value| out(&m, json!({"id": 1, "name": "N", "c": c}))["credit_limit"].clone();
    assert_eq!(dec(json!("5000.00")), json!("5000.00"), "scale is kept");
    assert_eq!(dec(json!(" -12.5 ")), json!("-12.5"));
    assert_eq!(dec(json!(12345.67)), json!("12345.67"), "no float noise");
    assert_eq!(dec(json!(0.1)), json!("0.1"));
    assert_eq!(dec(json!(1130)), json!("1130"));
    assert_eq!(dec(json!("1.5e3")), json!("1500"));
    assert_eq!(dec(json!("+5")), json!("5"));
    assert_eq!(dec(json!(".5")), json!("0.5"));
    assert_eq!(dec(json!(30.0)), json!("30.0"));

    let e = err(&m, json!({"id": 1, "name": "N", "c": "12,5O0.00"}));
    assert_eq!(
        e.to_string(),
        "field `credit_limit`: not a decimal (value: 12,5O0.00)"
    );
    for bad in [
        json!("1,000"),
        json!("1_000"),
        json!("12 EUR"),
        json!("."),
        json!(true),
    ] {
        let e = err(&m, json!({"id": 1, "name": "N", "c": bad}));
        assert_eq!(e.field, "credit_limit");
    }
}

#[test]
fn json_numbers_from_a_source_keep_every_digit_and_their_scale() {
    let m = customer("[fields.credit_limit]\npath = \"c\"\n");
    let record: Value =
        serde_json::from_str(r#"{"id": 1, "name": "N", "c": 12345678901234567.89}"#).unwrap();
    assert_eq!(
        out(&m, record)["credit_limit"],
        json!("12345678901234567.89")
    );
    let record: Value = serde_json::from_str(r#"{"id": 1, "name": "N", "c": 493.50}"#).unwrap();
    assert_eq!(out(&m, record)["credit_limit"], json!("493.50"));

    let m = customer("[fields.credit_limit]\nexpr = \".c\"\n");
    let record: Value =
        serde_json::from_str(r#"{"id": 1, "name": "N", "c": 12345678901234567.89}"#).unwrap();
    assert_eq!(
        out(&m, record)["credit_limit"],
        json!("12345678901234567.89"),
        "through jq too"
    );

    // Arithmetic and comparisons on such numbers still work in jq.
    let m = customer("[fields.credit_limit]\nexpr = \"if .c > 100 then .c * 2 else 0 end\"\n");
    let record: Value = serde_json::from_str(r#"{"id": 1, "name": "N", "c": 150.25}"#).unwrap();
    assert_eq!(out(&m, record)["credit_limit"], json!("300.5"));
}

#[test]
fn integers() {
    let m = customer("[fields.payment_terms_days]\npath = \"d\"\n");
    let int =
        |d: Value| out(&m, json!({"id": 1, "name": "N", "d": d}))["payment_terms_days"].clone();
    assert_eq!(int(json!(30)), json!(30));
    assert_eq!(int(json!(" 45 ")), json!(45));
    assert_eq!(int(json!("60.00")), json!(60));
    for bad in [json!("thirty"), json!(30.5), json!("1,0")] {
        let e = err(&m, json!({"id": 1, "name": "N", "d": bad}));
        assert!(e.to_string().contains("not a whole number"), "{e}");
    }
}

#[test]
fn bools_in_many_spellings_and_false_is_a_value() {
    let m = customer("[fields.active]\npath = \"a\"\n");
    let b = |a: Value| out(&m, json!({"id": 1, "name": "N", "a": a}))["active"].clone();
    for yes in [
        json!(true),
        json!(1),
        json!("TRUE"),
        json!("yes"),
        json!("Y"),
        json!("t"),
        json!("1"),
    ] {
        assert_eq!(b(yes.clone()), json!(true), "{yes}");
    }
    for no in [
        json!(false),
        json!(0),
        json!("False"),
        json!("no"),
        json!("n"),
        json!("F"),
        json!("0"),
    ] {
        assert_eq!(b(no.clone()), json!(false), "{no}");
    }
    assert_eq!(b(json!(null)), json!(true), "missing: the model default");
    let e = err(&m, json!({"id": 1, "name": "N", "a": "maybe"}));
    assert!(
        e.to_string().starts_with("field `active`: not a bool"),
        "{e}"
    );
}

#[test]
fn dates_iso_formatted_and_from_datetimes() {
    let text = r#"
entity = "payment"
[fields.source_key]
path = "id"
[fields.customer_key]
path = "c"
[fields.payment_date]
path = "d"
[fields.currency]
value = "EUR"
[fields.amount]
value = "1"
"#;
    let m = compile(text).unwrap();
    let date = |d: &str| out(&m, json!({"id": 1, "c": 2, "d": d}))["payment_date"].clone();
    assert_eq!(date("2026-03-01"), json!("2026-03-01"));
    assert_eq!(date("2026-03-01T23:30:00+08:00"), json!("2026-03-01"));
    assert_eq!(date("2026-03-01 10:00:00"), json!("2026-03-01"));
    let e = err(&m, json!({"id": 1, "c": 2, "d": "01.03.2026"}));
    assert_eq!(e.field, "payment_date");
    assert!(e.reason.contains("not a date"), "{e}");

    let with_format =
        |f: &str| text.replace("path = \"d\"", &format!("path = \"d\"\nformat = \"{f}\""));
    let m = compile(&with_format("%d.%m.%Y")).unwrap();
    assert_eq!(
        out(&m, json!({"id": 1, "c": 2, "d": "01.03.2026"}))["payment_date"],
        json!("2026-03-01")
    );
    let e = err(&m, json!({"id": 1, "c": 2, "d": "2026-03-01"}));
    assert!(e.reason.contains("%d.%m.%Y"), "{e}");
    let m = compile(&with_format("%d/%m/%Y %H:%M")).unwrap();
    assert_eq!(
        out(&m, json!({"id": 1, "c": 2, "d": "01/03/2026 17:45"}))["payment_date"],
        json!("2026-03-01")
    );
    let e = compile_err(&with_format("%d.%Q"));
    assert_eq!(e.field, "payment_date");
    assert!(e.reason.contains("format"), "{e}");
}

#[test]
fn datetimes_with_offsets_zones_and_formats() {
    let m = customer("[fields.updated_at]\npath = \"u\"\n");
    let u = |s: &str| out(&m, json!({"id": 1, "name": "N", "u": s}))["updated_at"].clone();
    assert_eq!(u("2026-01-02T03:04:05Z"), json!("2026-01-02T03:04:05Z"));
    assert_eq!(
        u("2026-01-02T03:04:05+08:00"),
        json!("2026-01-02T03:04:05+08:00")
    );
    let e = err(
        &m,
        json!({"id": 1, "name": "N", "u": "2026-01-02 03:04:05"}),
    );
    assert!(e.reason.contains("set `timezone`"), "{e}");

    let m = customer("[fields.updated_at]\npath = \"u\"\ntimezone = \"Asia/Shanghai\"\n");
    assert_eq!(
        out(
            &m,
            json!({"id": 1, "name": "N", "u": "2026-01-02 03:04:05"})
        )["updated_at"],
        json!("2026-01-02T03:04:05+08:00")
    );
    let m = customer(
        "[fields.updated_at]\npath = \"u\"\ntimezone = \"-05:30\"\nformat = \"%d/%m/%Y %H:%M\"\n",
    );
    assert_eq!(
        out(&m, json!({"id": 1, "name": "N", "u": "02/01/2026 03:04"}))["updated_at"],
        json!("2026-01-02T03:04:00-05:30")
    );
    let e = compile_err(
        "entity = \"customer\"\n[fields.source_key]\npath = \"id\"\n[fields.name]\npath = \"n\"\n\
         [fields.updated_at]\npath = \"u\"\ntimezone = \"Mars/Olympus\"\n",
    );
    assert_eq!(e.field, "updated_at");
}

#[test]
fn odoo_false_is_empty_except_for_bools() {
    let m = customer(
        r#"
[fields.tax_id]
path = "vat"
[fields.parent_key]
path = "parent_id[0]"
[fields.tier]
path = "category"
default = "standard"
[fields.active]
path = "active"
"#,
    );
    let v = out(
        &m,
        json!({"id": 9, "name": "N", "vat": false, "parent_id": false, "category": false, "active": false}),
    );
    assert_eq!(v["tax_id"], Value::Null);
    assert_eq!(v["parent_key"], Value::Null);
    assert_eq!(v["tier"], json!("standard"));
    assert_eq!(v["active"], json!(false));

    let e = err(&m, json!({"id": 9, "name": false}));
    assert_eq!(e.field, "name");
    assert!(e.reason.contains("required"), "{e}");
}

#[test]
fn paths_with_indices_and_many2one_pairs() {
    let m = customer(
        r#"
[fields.parent_key]
path = "parent_id[0]"
[fields.tier]
path = "parent_id[1]"
[fields.city]
path = "addresses[-1].city"
[fields.region]
path = '"odd.key".value'
"#,
    );
    let v = out(
        &m,
        json!({"id": 1, "name": "N", "parent_id": [42, "Head Office"],
               "addresses": [{"city": "Old"}, {"city": "Xiamen"}], "odd.key": {"value": "Fujian"}}),
    );
    assert_eq!(v["parent_key"], json!("42"));
    assert_eq!(v["tier"], json!("Head Office"));
    assert_eq!(v["city"], json!("Xiamen"));
    assert_eq!(v["region"], json!("Fujian"));
}

#[test]
fn a_list_for_a_single_value_is_an_error() {
    let m = customer("[fields.tax_id]\npath = \"ids\"\n");
    let e = err(&m, json!({"id": 1, "name": "N", "ids": [1, 2]}));
    assert_eq!(e.field, "tax_id");
    assert!(e.reason.contains("not a single value"), "{e}");
}

const LOOKUP: &str = r#"
[fields.kind]
path = "k"
lookup = "kinds"
[lookups.kinds]
D = "dealer"
DIST = "distributor"
"#;

#[test]
fn lookups_translate_codes_and_name_unknown_ones() {
    let m = customer(LOOKUP);
    assert_eq!(
        out(&m, json!({"id": 1, "name": "N", "k": "D"}))["kind"],
        json!("dealer")
    );
    let e = err(&m, json!({"id": 1, "name": "N", "k": "X"}));
    assert_eq!(e.field, "kind");
    assert!(
        e.reason.contains("lookup `kinds`") && e.reason.contains("`X`"),
        "{e}"
    );
    assert_eq!(
        out(&m, json!({"id": 1, "name": "N"}))["kind"],
        json!("customer"),
        "empty codes skip the lookup"
    );

    let m = customer(&format!("{LOOKUP}\"*\" = \"customer\"\n"));
    assert_eq!(
        out(&m, json!({"id": 1, "name": "N", "k": "X"}))["kind"],
        json!("customer")
    );
}

#[test]
fn lookup_problems_are_compile_errors() {
    let base =
        "entity = \"customer\"\n[fields.source_key]\npath = \"id\"\n[fields.name]\npath = \"n\"\n";
    let e = compile_err(&format!(
        "{base}[fields.kind]\npath = \"k\"\nlookup = \"nope\"\n"
    ));
    assert_eq!(e.field, "kind");
    assert!(e.reason.contains("`nope`"), "{e}");

    let e = compile_err(&format!("{base}{LOOKUP}X = \"reseller\"\n"));
    assert_eq!(e.field, "kind");
    assert!(
        e.reason.contains("reseller") && e.reason.contains("not one of"),
        "{e}"
    );
}

#[test]
fn enums_and_currencies_are_normalised_and_checked() {
    let m = customer("[fields.kind]\npath = \"k\"\n[fields.currency]\npath = \"c\"\n");
    let v = out(
        &m,
        json!({"id": 1, "name": "N", "k": " Dealer ", "c": "cny"}),
    );
    assert_eq!(v["kind"], json!("dealer"));
    assert_eq!(v["currency"], json!("CNY"));
    let e = err(&m, json!({"id": 1, "name": "N", "k": "vip"}));
    assert!(
        e.to_string().contains("not one of customer, distributor"),
        "{e}"
    );
    let e = err(&m, json!({"id": 1, "name": "N", "c": "RMB1"}));
    assert_eq!(e.field, "currency");
}

#[test]
fn templates_render_and_collapse() {
    let m = customer("[fields.address]\ntemplate = \"{street} {number}, {city} {{HQ}}\"\n");
    assert_eq!(
        out(
            &m,
            json!({"id": 1, "name": "N", "street": "Main St", "number": 5, "city": "Xiamen"})
        )["address"],
        json!("Main St 5, Xiamen {HQ}")
    );
    assert_eq!(
        out(
            &m,
            json!({"id": 1, "name": "N", "street": " Main  St ", "number": false, "city": "X"})
        )["address"],
        json!("Main St , X {HQ}")
    );
    let e = compile_err(
        "entity = \"customer\"\n[fields.source_key]\npath = \"id\"\n[fields.name]\ntemplate = \"{a\"\n",
    );
    assert_eq!(e.field, "name");
}

#[test]
fn expr_runs_jq_and_reports_errors() {
    let m = customer(
        r#"
[fields.address]
expr = '[.street, .city] | map(select(. != null)) | join(", ")'
[fields.credit_limit]
expr = ".limits | map(.amount) | max"
[fields.tier]
expr = "if .vip then \"gold\" else empty end"
default = "none"
[fields.region]
expr = "if .r then (.r | error) else empty end"
"#,
    );
    let v = out(
        &m,
        json!({"id": 1, "name": "N", "street": "Main St", "city": "Xiamen",
               "limits": [{"amount": 100.25}, {"amount": 99}]}),
    );
    assert_eq!(v["address"], json!("Main St, Xiamen"));
    assert_eq!(v["tier"], json!("none"), "no output counts as missing");
    // jq orders strings above numbers: the max is "x", which is not a decimal.
    let e = err(
        &m,
        json!({"id": 1, "name": "N", "limits": [{"amount": 100.25}, {"amount": "x"}]}),
    );
    assert_eq!(
        e.to_string(),
        "field `credit_limit`: not a decimal (value: x)"
    );
    let e = err(
        &m,
        json!({"id": 1, "name": "N", "limits": [{"amount": 100.25}, {"amount": 99}], "r": "boom"}),
    );
    assert_eq!(e.field, "region");
    assert!(
        e.reason.contains("jq error") && e.reason.contains("boom"),
        "{e}"
    );
    let v = out(
        &m,
        json!({"id": 1, "name": "N", "vip": true, "limits": [{"amount": 100.25}, {"amount": 99}]}),
    );
    assert_eq!(v["credit_limit"], json!("100.25"), "exact through jaq");
    assert_eq!(v["tier"], json!("gold"));

    let e = compile_err(
        "entity = \"customer\"\n[fields.source_key]\npath = \"id\"\n[fields.name]\nexpr = \".a | \"\n",
    );
    assert_eq!(e.field, "name");
    assert!(e.reason.contains("jq"), "{e}");
    let e = compile_err(
        "entity = \"customer\"\n[fields.source_key]\npath = \"id\"\n[fields.name]\nexpr = \"nosuchfn(1)\"\n",
    );
    assert!(e.reason.contains("filter `nosuchfn/1`"), "{e}");
    let e = compile_err(
        "entity = \"customer\"\n[fields.source_key]\npath = \"id\"\n[fields.name]\nexpr = \"$nope\"\n",
    );
    assert!(e.reason.contains("variable `$nope`"), "{e}");
    for impure in ["env.HOME", "now", "debug", "halt", "$ENV.HOME"] {
        let e = compile_err(&format!(
            "entity = \"customer\"\n[fields.source_key]\npath = \"id\"\n[fields.name]\nexpr = \"{impure}\"\n"
        ));
        assert_eq!(e.field, "name", "{impure}: {e}");
    }
}

const ORDER: &str = r#"
entity = "sales_order"
[fields.source_key]
path = "id"
[fields.customer_key]
path = "partner_id[0]"
[fields.order_date]
path = "date_order"
[fields.status]
path = "state"
lookup = "states"
[fields.currency]
path = "currency_id[1]"
[fields.total]
path = "amount_total"
[fields.lines]
path = "order_line"
[fields.lines.each.sku]
path = "product"
transforms = ["trim"]
[fields.lines.each.quantity]
path = "qty"
[fields.lines.each.quantity_invoiced]
path = "qty_invoiced"
default = 0
[fields.lines.each.unit_price]
path = "price"
[lookups.states]
sale = "confirmed"
draft = "draft"
"#;

fn order_record(lines: Value) -> Value {
    json!({"id": "SO1", "partner_id": [7, "Acme"], "date_order": "2026-11-02 09:00:00",
           "state": "sale", "currency_id": [1, "usd"], "amount_total": 1130, "order_line": lines})
}

#[test]
fn each_maps_order_lines() {
    let m = compile(ORDER).unwrap();
    let rec = m
        .apply(&order_record(json!([
            {"product": " A ", "qty": 10, "qty_invoiced": 3, "price": 60},
            {"product": "B", "qty": "4", "price": "100.00"}
        ])))
        .unwrap();
    let CanonicalRecord::SalesOrder(order) = &rec else {
        panic!("not an order")
    };
    assert_eq!(order.lines.len(), 2);
    assert_eq!(order.lines[0].sku, "A");
    assert_eq!(order.lines[1].quantity_invoiced.to_string(), "0");
    assert_eq!(order.currency.as_str(), "USD");
    assert_eq!(order.open_amount(), rust_decimal_macros::dec!(926.60));

    let none = m.apply(&order_record(json!(false))).unwrap();
    let CanonicalRecord::SalesOrder(order) = none else {
        panic!("not an order")
    };
    assert!(order.lines.is_empty());
}

#[test]
fn each_errors_name_the_line_and_field() {
    let m = compile(ORDER).unwrap();
    let e = err(
        &m,
        order_record(json!([
            {"product": "A", "qty": 1, "price": 1},
            {"product": "B", "qty": 1, "price": 1},
            {"product": "C", "qty": "two", "price": 1}
        ])),
    );
    assert_eq!(
        e.to_string(),
        "field `lines[2].quantity`: not a decimal (value: two)"
    );
    let e = err(&m, order_record(json!([{"qty": 1, "price": 1}])));
    assert_eq!(e.field, "lines[0].sku");
    let e = err(&m, order_record(json!("lines")));
    assert_eq!(e.field, "lines");
}

#[test]
fn each_sub_fields_are_checked_at_compile_time() {
    let e = compile_err(&ORDER.replace("each.sku", "each.colour"));
    assert_eq!(e.field, "lines.colour");
    let e = compile_err(&ORDER.replace("[fields.lines.each.unit_price]\npath = \"price\"\n", ""));
    assert_eq!(e.field, "lines.unit_price");
    let e = compile_err(
        &format!("{ORDER}[fields.source_key.each.x]\npath = \"y\"\n").replace(
            "[fields.source_key]\npath = \"id\"\n[fields.customer_key]",
            "[fields.customer_key]",
        ),
    );
    assert_eq!(e.field, "source_key");
}

#[test]
fn required_and_default() {
    let m = customer(
        "[fields.tax_id]\npath = \"vat\"\nrequired = true\n[fields.country]\npath = \"c\"\ndefault = \"CN\"\n",
    );
    let v = out(&m, json!({"id": 1, "name": "N", "vat": "X1", "c": "  "}));
    assert_eq!(v["country"], json!("CN"));
    let e = err(&m, json!({"id": 1, "name": "N", "vat": " "}));
    assert_eq!(e.field, "tax_id");
    assert!(e.reason.contains("required"), "{e}");

    let e = compile_err(
        "entity = \"customer\"\n[fields.source_key]\npath = \"id\"\n[fields.name]\npath = \"n\"\n\
         [fields.credit_limit]\npath = \"c\"\ndefault = \"lots\"\n",
    );
    assert_eq!(e.field, "credit_limit");
    assert!(e.reason.contains("default"), "{e}");
}

#[test]
fn target_fields_and_sources_are_checked_at_compile_time() {
    let base =
        "entity = \"customer\"\n[fields.source_key]\npath = \"id\"\n[fields.name]\npath = \"n\"\n";
    let e = compile_err(&format!("{base}[fields.colour]\npath = \"c\"\n"));
    assert_eq!(e.field, "colour");
    assert!(e.reason.contains("not a field of customer"), "{e}");

    let e = compile_err("entity = \"customer\"\n[fields.source_key]\npath = \"id\"\n");
    assert_eq!(e.field, "name");

    let e = compile_err(&format!(
        "{base}[fields.city]\npath = \"c\"\nvalue = \"X\"\n"
    ));
    assert!(e.reason.contains("more than one source"), "{e}");
    let e = compile_err(&format!("{base}[fields.city]\ntransforms = [\"trim\"]\n"));
    assert!(e.reason.contains("no source"), "{e}");
    let e = compile_err(&format!("{base}[fields.city]\npath = \"a..b\"\n"));
    assert_eq!(e.field, "city");
    let e = compile_err(&format!("{base}[fields.kind]\nvalue = \"vip\"\n"));
    assert_eq!(e.field, "kind");
    assert!(
        e.reason.contains("`value`") && e.reason.contains("not one of"),
        "{e}"
    );
    let e = compile_err(&format!(
        "{base}[fields.credit_limit]\npath = \"c\"\ntype = \"bool\"\n"
    ));
    assert!(e.reason.contains("cannot fill"), "{e}");
}

#[test]
fn the_type_defaults_to_the_target_type_and_text_takes_any_type() {
    let m = customer(
        "[fields.payment_terms_days]\npath = \"d\"\n[fields.tax_id]\npath = \"t\"\ntype = \"integer\"\n\
         [fields.kind]\nvalue = \"dealer\"\n",
    );
    let v = out(&m, json!({"id": 1, "name": "N", "d": "30", "t": "007"}));
    assert_eq!(v["payment_terms_days"], json!(30));
    assert_eq!(v["tax_id"], json!("7"));
    assert_eq!(v["kind"], json!("dealer"));
}

#[test]
fn key_of_works_when_the_rest_fails() {
    let m = customer("[fields.credit_limit]\npath = \"c\"\n");
    let bad = json!({"id": 77, "name": "N", "c": "lots"});
    assert!(m.apply(&bad).is_err());
    assert_eq!(m.key_of(&bad), Some("77".to_string()));
    assert_eq!(m.key_of(&json!({"name": "N"})), None);
}

#[test]
fn run_tests_reports_passes_and_failures() {
    let text = format!(
        r#"{ORDER}
[[tests]]
name = "decimals compare by value"
input = {{ id = "SO1", partner_id = [7, "Acme"], date_order = 2026-11-02, state = "sale", currency_id = [1, "USD"], amount_total = 1130.0, order_line = [{{ product = "A", qty = 10, price = "60" }}] }}
expect = {{ total = "1130.00", order_date = 2026-11-02, status = "confirmed", lines = [{{ sku = "A", quantity = 10, unit_price = "60.0" }}] }}

[[tests]]
name = "a wrong expectation"
input = {{ id = "SO1", partner_id = [7, "Acme"], date_order = "2026-11-02", state = "draft", currency_id = [1, "USD"], amount_total = "5" }}
expect = {{ total = "6", status = "draft", colour = "red" }}

[[tests]]
name = "an expected error"
input = {{ id = "SO1", partner_id = [7, "Acme"], date_order = "2026-11-02", state = "void", currency_id = [1, "USD"], amount_total = "5" }}
error = "lookup `states`"

[[tests]]
name = "an error that does not come"
input = {{ id = "SO1", partner_id = [7, "Acme"], date_order = "2026-11-02", state = "draft", currency_id = [1, "USD"], amount_total = "5" }}
error = "status"
"#
    );
    let s = spec(&text);
    let m = Mapping::compile(&s).unwrap();
    let outcomes = m.run_tests(&s);
    assert_eq!(outcomes.len(), 4);
    assert_eq!(outcomes[0].failure, None, "{:?}", outcomes[0]);
    let f = outcomes[1].failure.as_deref().unwrap();
    assert!(
        f.contains("field `total`: expected \"6\", got \"5\""),
        "{f}"
    );
    assert!(f.contains("`colour`"), "{f}");
    assert!(!f.contains("status"), "{f}");
    assert_eq!(outcomes[2].failure, None, "{:?}", outcomes[2]);
    assert!(outcomes[3].failure.as_deref().unwrap().contains("mapped"));
}

#[test]
fn the_schema_table_matches_the_model() {
    fn sample(kind: Kind) -> Value {
        match kind {
            Kind::Text => json!("x"),
            Kind::Enum(names) => json!(names[0]),
            Kind::Currency => json!("EUR"),
            Kind::Decimal => json!("1.5"),
            Kind::Integer => json!(3),
            Kind::Bool => json!(true),
            Kind::Date => json!("2026-01-01"),
            Kind::Datetime => json!("2026-01-01T00:00:00+00:00"),
            Kind::Lines(sub) => json!([Value::Object(
                sub.iter()
                    .map(|f| (f.name.to_string(), sample(f.kind)))
                    .collect()
            )]),
        }
    }
    for entity in Entity::ALL {
        let table = schema::fields(entity);
        let full: serde_json::Map<String, Value> = table
            .iter()
            .map(|f| (f.name.to_string(), sample(f.kind)))
            .collect();
        let rec = CanonicalRecord::from_value(entity, Value::Object(full.clone()))
            .unwrap_or_else(|e| panic!("{entity}: {e}"));
        let back = rec.to_value();
        assert_eq!(
            back.as_object().map(|o| o.len()),
            Some(table.len()),
            "{entity}: the table lists every model field"
        );
        let minimal: serde_json::Map<String, Value> = table
            .iter()
            .filter(|f| f.required)
            .map(|f| (f.name.to_string(), sample(f.kind)))
            .collect();
        CanonicalRecord::from_value(entity, Value::Object(minimal))
            .unwrap_or_else(|e| panic!("{entity}: optional fields have defaults: {e}"));
        for f in table.iter().filter(|f| f.required) {
            let mut partial = full.clone();
            partial.remove(f.name);
            assert!(
                CanonicalRecord::from_value(entity, Value::Object(partial)).is_err(),
                "{entity}.{} is required by the model",
                f.name
            );
        }
    }
}

#[test]
fn a_list_filled_whole_by_expr_is_shape_checked() {
    let text = ORDER.replace(
        "[fields.lines]\npath = \"order_line\"\n[fields.lines.each.sku]\npath = \"product\"\ntransforms = [\"trim\"]\n[fields.lines.each.quantity]\npath = \"qty\"\n[fields.lines.each.quantity_invoiced]\npath = \"qty_invoiced\"\ndefault = 0\n[fields.lines.each.unit_price]\npath = \"price\"\n",
        "[fields.lines]\nexpr = \"[.order_line[] | {sku: .product, quantity: .qty, unit_price: .price}]\"\n",
    );
    let m = compile(&text).unwrap();
    let rec = m
        .apply(&order_record(
            json!([{"product": "A", "qty": 2, "price": 3}]),
        ))
        .unwrap();
    assert_eq!(rec.to_value()["lines"][0]["quantity"], json!("2"));
    let e = err(&m, order_record(json!([{"product": "A", "qty": 2}])));
    assert!(e.reason.contains("does not fit entity sales_order"), "{e}");
}

#[test]
fn mappings_can_be_shared_between_tasks() {
    fn shared<T: Send + Sync + Clone + std::fmt::Debug>() {}
    shared::<Mapping>();
}

#[test]
fn each_sub_fields_read_the_element_with_every_source() {
    let text = ORDER.replace(
        "[fields.lines.each.sku]\npath = \"product\"\ntransforms = [\"trim\"]\n",
        "[fields.lines.each.sku]\nexpr = \".product | ascii_upcase\"\n\
         [fields.lines.each.description]\ntemplate = \"{product} x{qty}\"\n",
    );
    let m = compile(&text).unwrap();
    let v = out(
        &m,
        order_record(json!([{"product": "ab", "qty": 2, "price": "1.50"}])),
    );
    assert_eq!(v["lines"][0]["sku"], json!("AB"));
    assert_eq!(v["lines"][0]["description"], json!("ab x2"));
    assert_eq!(v["lines"][0]["unit_price"], json!("1.50"));
}

#[test]
fn lookups_take_numbers_and_can_empty_a_value() {
    let m = customer(
        r#"
[fields.tier]
path = "tier"
lookup = "tiers"
[fields.region]
path = "r"
lookup = "regions"
[lookups.tiers]
"1" = "gold"
"2" = "silver"
[lookups.regions]
NONE = ""
"*" = "elsewhere"
"#,
    );
    let v = out(&m, json!({"id": 1, "name": "N", "tier": "1", "r": "NONE"}));
    assert_eq!(v["tier"], json!("gold"));
    assert_eq!(v["region"], Value::Null, "a code mapped to \"\" is empty");
    let v = out(&m, json!({"id": 1, "name": "N", "tier": 2, "r": "EU"}));
    assert_eq!(v["tier"], json!("silver"), "a numeric code");
    assert_eq!(v["region"], json!("elsewhere"));
    let e = err(&m, json!({"id": 1, "name": "N", "tier": "3"}));
    assert_eq!(
        e.to_string(),
        "field `tier`: code `3` is not in lookup `tiers` (add it, or a \"*\" fallback) (value: 3)"
    );

    // Transforms run before the lookup, which translates each element of a list; a list
    // left for a text field is an error naming the field.
    let m = customer(
        r#"
[fields.tier]
path = "tags"
transforms = [{ split = { sep = "," } }, "trim"]
lookup = "tiers"
[lookups.tiers]
"1" = "gold"
"2" = "silver"
"#,
    );
    let e = err(&m, json!({"id": 1, "name": "N", "tags": "1, 2"}));
    assert_eq!(e.field, "tier");
    assert!(e.reason.contains("not a single value"), "{e}");
}

#[test]
fn an_odoo_partner_mapping_with_its_own_tests() {
    let text = r#"
entity = "customer"
description = "Odoo res.partner via JSON-RPC search_read"

[fields.source_key]
path = "id"
[fields.name]
path = "name"
transforms = ["collapse_whitespace"]
[fields.kind]
path = "x_channel_role"
lookup = "roles"
[fields.tax_id]
path = "vat"
transforms = ["trim", "upper", { regex_replace = { pattern = "\\s+", with = "" } }]
[fields.country]
path = "country_id[1]"
lookup = "countries"
[fields.city]
path = "city"
[fields.address]
template = "{street} {street2}"
[fields.parent_key]
path = "parent_id[0]"
[fields.credit_limit]
path = "credit_limit"
[fields.currency]
path = "currency_id[1]"
[fields.active]
path = "active"
[fields.updated_at]
path = "write_date"
timezone = "UTC"

[lookups.roles]
dealer = "dealer"
distributor = "distributor"
"*" = "customer"
[lookups.countries]
China = "CN"
Germany = "DE"

[[tests]]
name = "a dealer with unset fields"
input = { id = 41, name = "Feiyue  Tech", x_channel_role = "dealer", vat = " 91350100m000100y43 ", country_id = [48, "China"], city = false, street = "1 Jianshe Rd", street2 = false, parent_id = false, credit_limit = 500000.0, currency_id = [7, "CNY"], active = true, write_date = "2026-11-01 02:03:04" }
expect = { source_key = "41", name = "Feiyue Tech", kind = "dealer", tax_id = "91350100M000100Y43", country = "CN", address = "1 Jianshe Rd", credit_limit = "500000", currency = "CNY", active = true, updated_at = 2026-11-01T02:03:04Z }

[[tests]]
name = "an archived customer of an unknown role"
input = { id = 42, name = "Acme", x_channel_role = false, vat = false, country_id = [57, "Germany"], active = false, write_date = "2026-11-01 10:00:00" }
expect = { kind = "customer", country = "DE", active = false, updated_at = "2026-11-01T11:00:00+01:00" }

[[tests]]
name = "an unknown country is reported"
input = { id = 43, name = "X", country_id = [1, "Atlantis"], write_date = "2026-11-01 10:00:00" }
error = "code `Atlantis` is not in lookup `countries`"
"#;
    let s = spec(text);
    let m = Mapping::compile(&s).unwrap();
    let outcomes = m.run_tests(&s);
    for o in &outcomes {
        assert_eq!(o.failure, None, "{}", o.name);
    }
    assert_eq!(outcomes.len(), 3);
    let rec = m
        .apply(
            &json!({"id": 42, "name": "Acme", "x_channel_role": false, "active": false,
                       "write_date": "2026-11-01 10:00:00", "city": false}),
        )
        .unwrap();
    let CanonicalRecord::Customer(c) = rec else {
        panic!("not a customer")
    };
    assert_eq!(c.kind, crate::model::CustomerKind::Customer);
    assert_eq!(c.city, None);
    assert!(!c.active);
}
