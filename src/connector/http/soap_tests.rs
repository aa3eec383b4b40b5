//! SOAP over the `http` kind: faults, refused documents and template errors. A whole page-service
//! read is tested end to end in tests/example_nav_soap.rs.

use serde_json::Value;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::tests::{connector, read_all};
use crate::connector::ConnectorError;

const ENVELOPE_NS: &str = "http://schemas.xmlsoap.org/soap/envelope/";
const PAGE_NS: &str = "urn:microsoft-dynamics-schemas/page/customer";

/// The stream settings of a NAV page service read, as a user would write them.
fn nav_stream() -> String {
    format!(
        r#"path = "/WS/CRONUS/Page/Customer"
response = "xml"
records = "Envelope.Body.ReadMultiple_Result.ReadMultiple_Result.Customer"
arrays = ["Customer"]
headers = {{ SOAPAction = "urn:microsoft-dynamics-schemas/page/customer:ReadMultiple" }}
pagination = {{ type = "cursor", token_field = "Key", param = "bookmarkKey", size_param = "setSize", size = 2 }}
incremental = {{ field = "Last_Date_Modified", param = "since" }}
body = '''
<soap:Envelope xmlns:soap="{ENVELOPE_NS}">
  <soap:Body>
    <ReadMultiple xmlns="{PAGE_NS}">
      {{% if since %}}<filter><Field>Last_Date_Modified</Field><Criteria>&gt;={{{{ since }}}}</Criteria></filter>{{% endif %}}
      <bookmarkKey>{{{{ bookmarkKey | default('') }}}}</bookmarkKey>
      <setSize>{{{{ setSize }}}}</setSize>
    </ReadMultiple>
  </soap:Body>
</soap:Envelope>
'''"#
    )
}

#[tokio::test]
async fn a_soap_fault_is_reported_with_its_code_and_text_and_not_retried() {
    let server = MockServer::start().await;
    let fault = format!(
        r#"<s:Envelope xmlns:s="{ENVELOPE_NS}"><s:Body><s:Fault><faultcode xmlns:a="urn:microsoft-dynamics-schemas/error">a:Microsoft.Dynamics.Nav.Types.Exceptions.NavPermissionException</faultcode><faultstring xml:lang="en-US">You do not have the following permissions on TableData Customer: Read</faultstring><detail><string xmlns="http://schemas.microsoft.com/2003/10/Serialization/">You do not have the following permissions on TableData Customer: Read</string></detail></s:Fault></s:Body></s:Envelope>"#
    );
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500).set_body_raw(fault, "text/xml; charset=utf-8"))
        .expect(1)
        .mount(&server)
        .await;
    let err = read_all(&connector(&server.uri(), "", &nav_stream()), None)
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, ConnectorError::Http { .. }), "{err:?}");
    assert!(
        text.contains("status 500")
            && text.contains(
                "SOAP fault a:Microsoft.Dynamics.Nav.Types.Exceptions.NavPermissionException"
            )
            && text.contains("permissions on TableData Customer: Read"),
        "{text}"
    );
}

/// The error of a read whose every answer is `xml` with status 200.
async fn error_for(xml: String) -> String {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(xml, "text/xml"))
        .mount(&server)
        .await;
    read_all(&connector(&server.uri(), "", &nav_stream()), None)
        .await
        .unwrap_err()
        .to_string()
}

#[tokio::test]
async fn entity_bombs_and_missing_result_elements_are_refused_clearly() {
    let bomb = r#"<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><r>&b;</r>"#;
    let err = error_for(bomb.to_string()).await;
    assert!(err.contains("DOCTYPE declarations are refused"), "{err}");

    let other = format!(
        r#"<Soap:Envelope xmlns:Soap="{ENVELOPE_NS}"><Soap:Body><Read_Result xmlns="{PAGE_NS}"/></Soap:Body></Soap:Envelope>"#
    );
    let err = error_for(other).await;
    assert!(
        err.contains("no `Envelope.Body.ReadMultiple_Result.ReadMultiple_Result.Customer`"),
        "{err}"
    );
}

#[tokio::test]
async fn a_body_template_naming_an_unknown_parameter_is_a_config_error() {
    let stream = nav_stream().replace("{{ setSize }}", "{{ set_size }}");
    let Err(err) = crate::connector::open_stream(
        &connector("http://127.0.0.1:1", "", &stream),
        "s",
        None::<Value>,
        &crate::connector::SourceContext {
            root: std::env::temp_dir(),
        },
    ) else {
        panic!("accepted");
    };
    let text = err.to_string();
    assert!(
        text.contains("stream `s`")
            && text.contains("`set_size`")
            && text.contains("bookmarkKey, setSize, since"),
        "{text}"
    );
}
