//! What an anonymous caller may do, walked over the whole schema: every mutation but
//! `register` and `login` (and the multipart `uploadDocument`) answers `UNAUTHENTICATED` to a
//! caller without a token, whatever its arguments, and changes nothing.

use crate::common;

use common::{Db, TestApp, error_code};
use serde_json::{Value, json};

const INTROSPECTION: &str = "{ __schema { mutationType { fields { name args { name type { ...T } } type { ...T } } }
  types { name kind enumValues { name } inputFields { name type { ...T } } fields { name } } } }
  fragment T on __Type { kind name ofType { kind name ofType { kind name ofType { kind name } } } }";

/// A literal of type `ty` (the introspected `__Type`), filled with placeholders.
fn placeholder(ty: &Value, types: &[Value], depth: usize) -> String {
    match ty["kind"].as_str().unwrap() {
        "NON_NULL" => placeholder(&ty["ofType"], types, depth),
        "LIST" => format!("[{}]", placeholder(&ty["ofType"], types, depth)),
        _ => {
            let name = ty["name"].as_str().unwrap();
            let def = types.iter().find(|t| t["name"] == name).unwrap();
            match (def["kind"].as_str().unwrap(), name) {
                (_, "ID") => format!("\"{}\"", uuid::Uuid::new_v4()),
                (_, "String") => "\"x\"".into(),
                (_, "Int") => "1".into(),
                (_, "Float") => "0.5".into(),
                (_, "Boolean") => "false".into(),
                (_, "DateTime") => "\"2026-01-01T00:00:00Z\"".into(),
                (_, "JSON") => "{}".into(),
                ("ENUM", _) => def["enumValues"][0]["name"].as_str().unwrap().to_owned(),
                ("INPUT_OBJECT", _) if depth < 4 => {
                    let fields: Vec<String> = def["inputFields"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .filter(|f| f["type"]["kind"] == "NON_NULL")
                        .map(|f| {
                            format!("{}: {}", f["name"].as_str().unwrap(), placeholder(&f["type"], types, depth + 1))
                        })
                        .collect();
                    format!("{{{}}}", fields.join(", "))
                }
                _ => "null".into(),
            }
        }
    }
}

/// A selection for a field of type `ty`: `__typename` for objects, nothing for scalars.
fn selection(ty: &Value) -> &'static str {
    let mut t = ty;
    while t["kind"] == "NON_NULL" || t["kind"] == "LIST" {
        t = &t["ofType"];
    }
    if matches!(t["kind"].as_str(), Some("OBJECT" | "INTERFACE" | "UNION")) { " { __typename }" } else { "" }
}

async fn anonymous_callers_may_only_register_and_sign_in(db: Db) {
    let app = TestApp::spawn(db).await;
    let (token, _) = app.register("anis").await;
    app.create_project(&token, "Somebody's", json!({"isPublic": true, "allowPublicView": true})).await;
    let schema = app.ok(None, INTROSPECTION, json!({})).await;
    let types = schema["__schema"]["types"].as_array().unwrap().clone();
    let before = app.count("SELECT id FROM audit_logs").await;
    let mut walked = 0;
    for field in schema["__schema"]["mutationType"]["fields"].as_array().unwrap() {
        let name = field["name"].as_str().unwrap();
        if matches!(name, "register" | "login") {
            continue;
        }
        let args: Vec<&Value> = field["args"].as_array().unwrap().iter().collect();
        // An upload needs a multipart request (`uploadDocument`): not walked here.
        if args.iter().any(|a| placeholder_name(&a["type"]) == "Upload") {
            continue;
        }
        let args: Vec<String> = args
            .iter()
            .filter(|a| a["type"]["kind"] == "NON_NULL")
            .map(|a| format!("{}: {}", a["name"].as_str().unwrap(), placeholder(&a["type"], &types, 0)))
            .collect();
        let args = if args.is_empty() { String::new() } else { format!("({})", args.join(", ")) };
        let query = format!("mutation {{ {name}{args}{} }}", selection(&field["type"]));
        let resp = app.gql(None, &query, json!({})).await;
        assert_eq!(error_code(&resp), "UNAUTHENTICATED", "{query}: {resp}");
        walked += 1;
    }
    assert!(walked > 30, "{walked} mutations walked");
    assert_eq!(app.count("SELECT id FROM audit_logs").await, before, "nothing happened");
}

fn placeholder_name(ty: &Value) -> &str {
    let mut t = ty;
    while t["kind"] == "NON_NULL" || t["kind"] == "LIST" {
        t = &t["ofType"];
    }
    t["name"].as_str().unwrap_or_default()
}

on_both_databases!(anonymous_callers_may_only_register_and_sign_in);
