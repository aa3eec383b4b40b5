//! XML response bodies (SOAP and other XML APIs): the whole document as one JSON value, and
//! SOAP faults as errors.
//!
//! The document is converted by the same reader as the `file` kind's XML records (so the same
//! rules and the same defences hold: no DTD, no entity expansion, depth and size limits), with
//! the root element as the one record: `{"Envelope": {"Body": {…}}}`. Namespace prefixes are
//! dropped, so `records = "Envelope.Body.ReadMultiple_Result.ReadMultiple_Result.Customer"`
//! reads the same whatever prefixes the server picks.

use std::collections::HashSet;

use quick_xml::Reader;
use quick_xml::events::Event;
use serde_json::{Map, Value};

use crate::connector::file::xml::records::{XmlItem, XmlOptions, records_of};

/// Largest XML response body converted.
const MAX_DOCUMENT_BYTES: u64 = 64 * 1024 * 1024;

/// How XML bodies are read.
#[derive(Debug, Clone, Default)]
pub(crate) struct XmlBodies {
    /// Element names always converted to arrays.
    pub arrays: HashSet<String>,
}

impl XmlBodies {
    /// The document as `{root: content}`.
    pub(crate) fn document(&self, bytes: &[u8]) -> Result<Value, String> {
        let root = root_name(bytes)?;
        let mut options = XmlOptions::new(&root)?;
        options.arrays = self.arrays.clone();
        options.max_record_bytes = MAX_DOCUMENT_BYTES;
        let items = records_of(bytes, options).map_err(|e| e.to_string())?;
        match items.into_iter().next() {
            Some(XmlItem::Record { value, .. }) => {
                let mut doc = Map::new();
                doc.insert(root, value);
                Ok(Value::Object(doc))
            }
            Some(XmlItem::Rejected { reason, line, .. }) => Err(format!("line {line}: {reason}")),
            None => Err("the body holds no XML element".into()),
        }
    }
}

/// Local name of the document's root element.
fn root_name(bytes: &[u8]) -> Result<String, String> {
    let mut reader = Reader::from_reader(bytes);
    let mut buf = Vec::new();
    loop {
        match reader.read_event_into(&mut buf) {
            Ok(Event::Start(e) | Event::Empty(e)) => {
                return Ok(e.local_name().into_inner().to_string());
            }
            Ok(Event::DocType(_)) => {
                return Err(
                    "DOCTYPE declarations are refused (no DTDs or entity definitions are processed)"
                        .into(),
                );
            }
            Ok(Event::Eof) => return Err("the body holds no XML element".into()),
            Ok(_) => buf.clear(),
            Err(e) => return Err(format!("the body is not XML: {e}")),
        }
    }
}

/// The SOAP fault in a converted document (SOAP 1.1 `faultcode`/`faultstring`, SOAP 1.2
/// `Code/Value` and `Reason/Text`), as one line.
pub(crate) fn soap_fault(doc: &Value) -> Option<String> {
    let fault = doc.get("Envelope")?.get("Body")?.get("Fault")?;
    let code = fault
        .get("faultcode")
        .or_else(|| fault.get("Code").and_then(|c| c.get("Value")))
        .map(text)
        .unwrap_or_default();
    let subcode = fault
        .get("Code")
        .and_then(|c| c.get("Subcode"))
        .and_then(|s| s.get("Value"))
        .map(text);
    let reason = fault
        .get("faultstring")
        .or_else(|| fault.get("Reason").and_then(|r| r.get("Text")))
        .map(text)
        .unwrap_or_default();
    let code = match subcode {
        Some(sub) => format!("{code} ({sub})"),
        None => code,
    };
    Some(format!("SOAP fault {code}: {reason}").trim().to_string())
}

/// The text of a converted element: a string, `#text` of an element with attributes, or the
/// first of several (SOAP 1.2 allows one `Text` per language).
fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.trim().to_string(),
        Value::Array(items) => items.first().map(text).unwrap_or_default(),
        Value::Object(o) => o.get("#text").map(text).unwrap_or_default(),
        other => other.to_string(),
    }
}

/// The records at `path` of an XML document: an element that occurs once is one record; a
/// missing last element (an empty result) is no record, while a missing parent is an error.
pub(crate) fn records_at(doc: &Value, path: &str) -> Result<Vec<Value>, String> {
    let path = path.trim();
    match super::lookup(doc, path) {
        Some(Value::Array(items)) => Ok(items.clone()),
        Some(item @ Value::Object(_)) => Ok(vec![item.clone()]),
        // An empty element converts to "".
        Some(Value::String(s)) if s.trim().is_empty() => Ok(vec![]),
        Some(other) => Err(format!(
            "expected records at `{path}`, found {}",
            super::short(other)
        )),
        None => {
            let parent = path.rsplit_once('.').map(|(p, _)| p);
            match parent.map(|p| super::lookup(doc, p)) {
                Some(Some(Value::Object(_) | Value::String(_))) => Ok(vec![]),
                _ => Err(format!(
                    "no `{path}` in the response: {}",
                    super::short(doc)
                )),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn doc(xml: &str) -> Value {
        XmlBodies {
            arrays: ["Customer".to_string()].into(),
        }
        .document(xml.as_bytes())
        .unwrap()
    }

    #[test]
    fn a_soap_envelope_becomes_one_document_with_local_names() {
        let d = doc(r#"<?xml version="1.0"?>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">
  <soap:Body>
    <m:ReadMultiple_Result xmlns:m="urn:x">
      <m:ReadMultiple_Result>
        <m:Customer><m:Key>12;ABC;</m:Key><m:No>10000</m:No><m:Name>A &amp; B</m:Name></m:Customer>
      </m:ReadMultiple_Result>
    </m:ReadMultiple_Result>
  </soap:Body>
</soap:Envelope>"#);
        let records = records_at(
            &d,
            "Envelope.Body.ReadMultiple_Result.ReadMultiple_Result.Customer",
        )
        .unwrap();
        assert_eq!(
            records,
            vec![json!({"Key": "12;ABC;", "No": "10000", "Name": "A & B"})]
        );
    }

    #[test]
    fn an_empty_result_is_no_records_but_a_wrong_path_is_an_error() {
        let d = doc(
            r#"<Envelope><Body><ReadMultiple_Result><ReadMultiple_Result/></ReadMultiple_Result></Body></Envelope>"#,
        );
        assert_eq!(
            records_at(
                &d,
                "Envelope.Body.ReadMultiple_Result.ReadMultiple_Result.Customer"
            )
            .unwrap(),
            Vec::<Value>::new()
        );
        let err = records_at(&d, "Envelope.Body.Nope.Customer").unwrap_err();
        assert!(err.contains("no `Envelope.Body.Nope.Customer`"), "{err}");
        let err = records_at(
            &doc("<r><Customer>text only</Customer><Customer>x</Customer></r>"),
            "r.Customer",
        )
        .unwrap();
        assert_eq!(err, vec![json!("text only"), json!("x")]);
    }

    #[test]
    fn soap_faults_of_both_versions_are_read() {
        let v11 = doc(
            r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><s:Fault><faultcode>a:Microsoft.Dynamics.Nav.Types.Exceptions.NavPermissionException</faultcode><faultstring xml:lang="en-US">You do not have permission to read Customer.</faultstring></s:Fault></s:Body></s:Envelope>"#,
        );
        assert_eq!(
            soap_fault(&v11).unwrap(),
            "SOAP fault a:Microsoft.Dynamics.Nav.Types.Exceptions.NavPermissionException: You do not have permission to read Customer."
        );
        let v12 = doc(
            r#"<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"><env:Body><env:Fault><env:Code><env:Value>env:Sender</env:Value><env:Subcode><env:Value>m:BadFilter</env:Value></env:Subcode></env:Code><env:Reason><env:Text xml:lang="en">Unknown field</env:Text><env:Text xml:lang="de">Unbekanntes Feld</env:Text></env:Reason></env:Fault></env:Body></env:Envelope>"#,
        );
        assert_eq!(
            soap_fault(&v12).unwrap(),
            "SOAP fault env:Sender (m:BadFilter): Unknown field"
        );
        assert_eq!(soap_fault(&doc("<Envelope><Body/></Envelope>")), None);
    }

    #[test]
    fn doctypes_and_garbage_are_refused() {
        let bodies = XmlBodies::default();
        let bomb = r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]><lolz>&lol2;</lolz>"#;
        let err = bodies.document(bomb.as_bytes()).unwrap_err();
        assert!(err.contains("DOCTYPE"), "{err}");
        assert!(
            bodies
                .document(b"   ")
                .unwrap_err()
                .contains("no XML element")
        );
        assert!(bodies.document(b"<a><b></a>").is_err());
    }
}
