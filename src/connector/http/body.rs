//! Request body templates (`body`): a SOAP envelope or a JSON query into which each request's
//! pagination and incremental parameters are rendered (MiniJinja syntax).
//!
//! Values are escaped for the body's content type: XML-escaped in an XML body, written as JSON
//! (numbers bare, strings quoted) in a JSON body. A parameter with no value yet (the incremental
//! value of a first, full read) is undefined: `{% if since %}…{% endif %}` tests for it, and
//! printing it is an error.

use std::collections::{BTreeMap, HashSet};

use minijinja::{AutoEscape, Environment, UndefinedBehavior, Value};

/// A checked body template.
#[derive(Debug)]
pub(super) struct BodyTemplate {
    env: Environment<'static>,
    text: String,
    /// Content type sent with the body.
    pub content_type: String,
    /// Parameter names the template refers to.
    uses: HashSet<String>,
}

impl BodyTemplate {
    /// Parses `text`; every variable it uses must be one of `known`.
    pub(super) fn new(text: &str, content_type: String, known: &[String]) -> Result<Self, String> {
        let json = content_type.to_ascii_lowercase().contains("json");
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::SemiStrict);
        env.set_auto_escape_callback(move |_| {
            if json {
                AutoEscape::Json
            } else {
                AutoEscape::Html
            }
        });
        let uses = env
            .template_from_str(text)
            .map_err(|e| format!("body template: {e}"))?
            .undeclared_variables(false);
        let mut unknown: Vec<&String> = uses.iter().filter(|u| !known.contains(u)).collect();
        unknown.sort();
        if let Some(name) = unknown.first() {
            return Err(format!(
                "body template uses `{name}`, which is none of this stream's parameters ({})",
                if known.is_empty() {
                    "it has none".to_string()
                } else {
                    known.join(", ")
                }
            ));
        }
        Ok(BodyTemplate {
            env,
            text: text.to_string(),
            content_type,
            uses,
        })
    }

    /// True when the template renders the parameter `name` (so it is not also sent in the query).
    pub(super) fn uses(&self, name: &str) -> bool {
        self.uses.contains(name)
    }

    /// The body for one request; whole numbers are passed as numbers, the rest as text.
    pub(super) fn render(&self, params: &[(String, String)]) -> Result<String, String> {
        let context: BTreeMap<&str, Value> = params
            .iter()
            .map(|(k, v)| {
                let value = match v.parse::<i64>() {
                    Ok(n) => Value::from(n),
                    Err(_) => Value::from(v.clone()),
                };
                (k.as_str(), value)
            })
            .collect();
        self.env
            .render_str(&self.text, context)
            .map_err(|e| format!("body template: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known() -> Vec<String> {
        vec!["bookmarkKey".into(), "setSize".into(), "since".into()]
    }

    #[test]
    fn an_xml_body_escapes_values_and_leaves_out_undefined_parts() {
        let t = BodyTemplate::new(
            "<ReadMultiple>{% if since %}<filter><Criteria>&gt;{{ since }}</Criteria></filter>{% endif %}<bookmarkKey>{{ bookmarkKey | default('') }}</bookmarkKey><setSize>{{ setSize }}</setSize></ReadMultiple>",
            "text/xml; charset=utf-8".into(),
            &known(),
        )
        .unwrap();
        assert!(t.uses("since") && t.uses("setSize") && !t.uses("other"));
        assert_eq!(
            t.render(&[("setSize".into(), "50".into())]).unwrap(),
            "<ReadMultiple><bookmarkKey></bookmarkKey><setSize>50</setSize></ReadMultiple>"
        );
        assert_eq!(
            t.render(&[
                ("setSize".into(), "50".into()),
                ("since".into(), "2026-01-01".into()),
                ("bookmarkKey".into(), "12;<A&B>;".into()),
            ])
            .unwrap(),
            "<ReadMultiple><filter><Criteria>&gt;2026-01-01</Criteria></filter><bookmarkKey>12;&lt;A&amp;B&gt;;</bookmarkKey><setSize>50</setSize></ReadMultiple>"
        );
    }

    #[test]
    fn a_json_body_writes_numbers_bare_and_strings_quoted() {
        let t = BodyTemplate::new(
            r#"{"offset": {{ setSize }}, "since": {{ since }}}"#,
            "application/json".into(),
            &known(),
        )
        .unwrap();
        assert_eq!(
            t.render(&[
                ("setSize".into(), "100".into()),
                ("since".into(), "a \"quoted\" value".into())
            ])
            .unwrap(),
            r#"{"offset": 100, "since": "a \"quoted\" value"}"#
        );
    }

    #[test]
    fn unknown_and_unset_parameters_are_errors() {
        let err = BodyTemplate::new("<x>{{ pgae }}</x>", "text/xml".into(), &known()).unwrap_err();
        assert!(
            err.contains("`pgae`") && err.contains("bookmarkKey, setSize, since"),
            "{err}"
        );
        let t = BodyTemplate::new("<x>{{ since }}</x>", "text/xml".into(), &known()).unwrap();
        assert!(t.render(&[]).is_err());
        assert!(BodyTemplate::new("<x>{% if %}</x>", "text/xml".into(), &known()).is_err());
    }
}
