//! GraphQL over HTTP as its specification sets it out: content negotiation, status codes,
//! content types, methods, batches, body size, the execution timeout, alias and directive
//! limits, persisted queries, CORS, production mode and the embedded GraphiQL.

use crate::common;

use common::{Db, TestApp};
use serde_json::{Value, json};

const GQL: &str = "application/graphql-response+json";

/// POSTs a JSON body with an `Accept` header (none when `None`); returns status, content
/// type and body.
async fn post(app: &TestApp, accept: Option<&str>, body: Value) -> (u16, String, Value) {
    let mut req = app.http.post(app.url("/graphql")).header("content-type", "application/json").body(body.to_string());
    if let Some(accept) = accept {
        req = req.header("accept", accept);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let content_type = resp.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    let text = resp.text().await.unwrap();
    (status, content_type, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

fn code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"].as_str().unwrap_or_else(|| panic!("no error code in {body}"))
}

async fn responses_are_negotiated(db: Db) {
    let app = TestApp::spawn(db).await;
    let query = json!({"query": "{ me { id } }"});
    for (accept, expected) in [
        (Some(GQL), GQL),
        (Some("application/json"), "application/json"),
        (None, "application/json"),
        (Some("*/*"), "application/json"),
        (Some("application/graphql-response+json, application/json;q=0.9"), GQL),
    ] {
        let (status, content_type, body) = post(&app, accept, query.clone()).await;
        assert_eq!(status, 200, "{accept:?}");
        assert!(content_type.starts_with(expected), "{accept:?} gave {content_type}");
        assert_eq!(body, json!({"data": {"me": null}}));
    }
    let (status, _, body) = post(&app, Some("text/html"), query.clone()).await;
    assert_eq!(status, 406);
    assert!(body["errors"][0]["message"].as_str().unwrap().contains("application/json"), "{body}");
    let (status, _, _) = post(&app, Some("application/xml"), query).await;
    assert_eq!(status, 406);
}

async fn request_errors_are_4xx_without_data(db: Db) {
    let app = TestApp::spawn(db).await;
    let cases = [
        (json!({"query": "{ me { id "}), "GRAPHQL_PARSE_FAILED"),
        (json!({"query": "{ nothing }"}), "GRAPHQL_VALIDATION_FAILED"),
        (
            json!({"query": "query($n: Int!) { projects(first: $n) { totalCount } }", "variables": {"n": "ten"}}),
            "GRAPHQL_VALIDATION_FAILED",
        ),
        (
            json!({"query": "query A { me { id } } query B { me { id } }", "operationName": "C"}),
            "GRAPHQL_VALIDATION_FAILED",
        ),
    ];
    for (body, expected) in cases {
        let (status, content_type, answer) = post(&app, Some(GQL), body.clone()).await;
        assert_eq!(status, 400, "{body} -> {answer}");
        assert!(content_type.starts_with(GQL));
        assert_eq!(code(&answer), expected, "{answer}");
        assert!(answer.get("data").is_none(), "a request error has no data: {answer}");
        // The legacy type answers 200 for the same request, still without data.
        let (status, _, answer) = post(&app, Some("application/json"), body).await;
        assert_eq!(status, 200);
        assert_eq!(code(&answer), expected);
        assert!(answer.get("data").is_none());
    }
    // An execution error keeps 200 and its data.
    let (status, _, answer) =
        post(&app, Some(GQL), json!({"query": "{ me { id } project(id: \"nope\") { id } }"})).await;
    assert_eq!(status, 200);
    assert_eq!(code(&answer), "BAD_USER_INPUT");
    assert_eq!(answer["data"]["me"], Value::Null);
    assert!(answer.get("data").is_some());
    // A subscription is for the WebSocket.
    let (status, _, answer) = post(&app, Some(GQL), json!({"query": "subscription { heartbeat }"})).await;
    assert_eq!(status, 400);
    assert!(answer["errors"][0]["message"].as_str().unwrap().contains("/graphql/ws"));
}

async fn methods_and_content_types_are_checked(db: Db) {
    let app = TestApp::spawn(db).await;
    for content_type in ["text/plain", "application/x-www-form-urlencoded", "application/json; charset=latin1"] {
        let resp = app
            .http
            .post(app.url("/graphql"))
            .header("content-type", content_type)
            .body(r#"{"query":"{ me { id } }"}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 415, "{content_type}");
    }
    let resp = app.http.post(app.url("/graphql")).body(r#"{"query":"{ me { id } }"}"#).send().await.unwrap();
    assert_eq!(resp.status(), 415, "no content type");
    let resp = app
        .http
        .post(app.url("/graphql"))
        .header("content-type", "application/json; charset=utf-8")
        .body(r#"{"query":"{ me { id } }"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    // A body that is JSON but no GraphQL request.
    let (status, _, answer) = post(&app, Some(GQL), json!({"nothing": 1})).await;
    assert_eq!(status, 400, "{answer}");

    // GET runs queries and refuses mutations with 405 and `Allow: POST`.
    let resp = app
        .http
        .get(app.url("/graphql?query=%7B%20me%20%7B%20id%20%7D%20%7D"))
        .header("accept", GQL)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let resp = app
        .http
        .get(app.url("/graphql?query=mutation%20%7B%20logout%20%7D"))
        .header("accept", GQL)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 405);
    assert_eq!(resp.headers()["allow"], "POST");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(code(&body), "METHOD_NOT_ALLOWED");
    assert!(body.get("data").is_none());
    // Also with the legacy type, and when the mutation is picked by name.
    let resp = app
        .http
        .get(app.url("/graphql?query=query%20Q%20%7B%20me%20%7B%20id%20%7D%20%7D%20mutation%20M%20%7B%20logout%20%7D&operationName=M"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 405);
    let resp = app.http.put(app.url("/graphql")).send().await.unwrap();
    assert_eq!(resp.status(), 405);
}

async fn batches_are_capped(db: Db) {
    let app = TestApp::spawn(db).await;
    let batch =
        |n: usize| Value::Array((0..n).map(|i| json!({"query": format!("query Q{i} {{ me {{ id }} }}")})).collect());
    let (status, _, answer) = post(&app, Some(GQL), batch(10)).await;
    assert_eq!(status, 200);
    assert_eq!(answer.as_array().unwrap().len(), 10);
    assert!(answer.as_array().unwrap().iter().all(|r| r == &json!({"data": {"me": null}})));
    let (status, _, answer) = post(&app, Some(GQL), batch(11)).await;
    assert_eq!(status, 400);
    assert!(answer["errors"][0]["message"].as_str().unwrap().contains("1 to 10"), "{answer}");
    let (status, _, _) = post(&app, Some(GQL), batch(0)).await;
    assert_eq!(status, 400);

    let app = TestApp::spawn_with(db, |s| s.surface.max_batch = 0).await;
    let (status, _, answer) = post(&app, Some(GQL), batch(1)).await;
    assert_eq!(status, 400);
    assert!(answer["errors"][0]["message"].as_str().unwrap().contains("not accepted"));
}

async fn large_bodies_are_refused(db: Db) {
    let app = TestApp::spawn_with(db, |s| s.surface.max_body_bytes = Some(2_000)).await;
    let padding = " ".repeat(3_000);
    let (status, _, _) = post(&app, Some(GQL), json!({"query": format!("{{ me {{ id }} }}{padding}")})).await;
    assert_eq!(status, 413);
    let (status, _, _) = post(&app, Some(GQL), json!({"query": "{ me { id } }"})).await;
    assert_eq!(status, 200);
}

async fn slow_operations_time_out(db: Db) {
    // Hashing a password takes tens of milliseconds: far beyond this limit.
    let app = TestApp::spawn_with(db, |s| s.surface.request_timeout_ms = 1).await;
    let register = json!({
        "query": "mutation($i: RegisterInput!) { register(input: $i) { token } }",
        "variables": {"i": {"username": "slow", "email": "slow@example.org", "password": common::PASSWORD}}
    });
    let (status, _, answer) = post(&app, Some(GQL), register.clone()).await;
    assert_eq!(status, 504, "{answer}");
    assert_eq!(code(&answer), "TIMEOUT");
    assert!(answer["errors"][0]["message"].as_str().unwrap().contains("1 ms"));
    let (status, _, answer) = post(&app, Some("application/json"), register).await;
    assert_eq!(status, 200);
    assert_eq!(code(&answer), "TIMEOUT");
    assert_eq!(app.count("SELECT id FROM users").await, 0, "a stopped mutation leaves nothing behind");
}

async fn aliases_and_directives_are_limited(db: Db) {
    let app = TestApp::spawn_with(db, |s| {
        s.surface.max_aliases = 3;
        s.surface.max_directives = 2;
    })
    .await;
    let (status, _, _) = post(&app, Some(GQL), json!({"query": "{ a: me { id } b: me { id } c: me { id } }"})).await;
    assert_eq!(status, 200);
    let (status, _, answer) =
        post(&app, Some(GQL), json!({"query": "{ a: me { id } b: me { id } c: me { id } d: me { id } }"})).await;
    assert_eq!(status, 400);
    assert_eq!(code(&answer), "GRAPHQL_VALIDATION_FAILED");
    assert!(answer["errors"][0]["message"].as_str().unwrap().contains("aliases"), "{answer}");
    // Aliases hidden in a fragment count too.
    let (status, _, _) = post(
        &app,
        Some(GQL),
        json!({"query": "{ ...F } fragment F on Query { a: me { id } b: me { id } c: me { id } d: me { id } }"}),
    )
    .await;
    assert_eq!(status, 400);
    let (status, _, answer) =
        post(&app, Some(GQL), json!({"query": "{ me @include(if: true) @include(if: true) @skip(if: false) { id } }"}))
            .await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(code(&answer), "GRAPHQL_VALIDATION_FAILED");
}

fn sha256(text: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(text.as_bytes()))
}

async fn persisted_queries_follow_apollo(db: Db) {
    let app = TestApp::spawn(db).await;
    let query = "query Who { me { id } }";
    let hash = sha256(query);
    let ext = json!({"persistedQuery": {"version": 1, "sha256Hash": hash}});
    let (status, _, answer) = post(&app, Some(GQL), json!({"extensions": ext})).await;
    assert_eq!(status, 400);
    assert_eq!(answer["errors"][0]["message"], "PersistedQueryNotFound");
    assert_eq!(code(&answer), "PERSISTED_QUERY_NOT_FOUND");
    // The legacy type gets the same error with 200, as Apollo Client expects.
    let (status, _, answer) = post(&app, None, json!({"extensions": ext})).await;
    assert_eq!(status, 200);
    assert_eq!(answer["errors"][0]["message"], "PersistedQueryNotFound");
    // Sending the document registers it...
    let (status, _, answer) = post(&app, Some(GQL), json!({"query": query, "extensions": ext})).await;
    assert_eq!((status, answer), (200, json!({"data": {"me": null}})));
    // ...and from then on the hash is enough, by POST or by GET.
    let (status, _, answer) = post(&app, Some(GQL), json!({"extensions": ext})).await;
    assert_eq!((status, answer), (200, json!({"data": {"me": null}})));
    let url = format!("/graphql?extensions={}", urlencode(&ext.to_string()));
    let answer: Value = app.http.get(app.url(&url)).send().await.unwrap().json().await.unwrap();
    assert_eq!(answer, json!({"data": {"me": null}}));
    // A hash that does not match its document is refused.
    let wrong = json!({"persistedQuery": {"version": 1, "sha256Hash": sha256("{ other }")}});
    let (status, _, answer) = post(&app, Some(GQL), json!({"query": query, "extensions": wrong})).await;
    assert_eq!(status, 400);
    assert_eq!(code(&answer), "BAD_REQUEST");
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn cors_admits_configured_origins(db: Db) {
    let origin = "https://annotate.example.org";
    let app = TestApp::spawn_with(db, |s| s.surface.cors_origins = vec![origin.into()]).await;
    let preflight = app
        .http
        .request(reqwest::Method::OPTIONS, app.url("/graphql"))
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type,authorization,apollo-require-preflight")
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success(), "{}", preflight.status());
    let h = preflight.headers();
    assert_eq!(h["access-control-allow-origin"], origin);
    assert_eq!(h["access-control-allow-credentials"], "true");
    let allowed = h["access-control-allow-headers"].to_str().unwrap().to_lowercase();
    for header in ["content-type", "authorization", "apollo-require-preflight"] {
        assert!(allowed.contains(header), "{header} not in {allowed}");
    }
    assert!(h["access-control-allow-methods"].to_str().unwrap().contains("POST"));
    let resp = app
        .http
        .post(app.url("/graphql"))
        .header("origin", origin)
        .json(&json!({"query": "{ me { id } }"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["access-control-allow-origin"], origin);
    assert!(resp.headers()["access-control-expose-headers"].to_str().unwrap().contains("x-request-id"));
    // Another origin gets no grant.
    let resp = app
        .http
        .post(app.url("/graphql"))
        .header("origin", "https://evil.example.com")
        .json(&json!({"query": "{ me { id } }"}))
        .send()
        .await
        .unwrap();
    assert!(resp.headers().get("access-control-allow-origin").is_none());
    // Without configured origins, none.
    let plain = TestApp::spawn(db).await;
    let resp = plain
        .http
        .request(reqwest::Method::OPTIONS, plain.url("/graphql"))
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert!(resp.headers().get("access-control-allow-origin").is_none());
}

async fn graphiql_is_served_from_the_binary(db: Db) {
    let app = TestApp::spawn(db).await;
    let resp = app.http.get(app.url("/graphql")).header("accept", "text/html").send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let csp = resp.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(csp.contains("default-src 'self'") && csp.contains("script-src 'self'"), "{csp}");
    let page = resp.text().await.unwrap();
    // The page names no other host: every script and style is a path on this server.
    assert!(!page.contains("http://") && !page.contains("https://") && !page.contains("//cdn"), "{page}");
    let mut assets = Vec::new();
    for attr in ["src=\"", "href=\""] {
        for part in page.split(attr).skip(1) {
            assets.push(part.split('"').next().unwrap().to_owned());
        }
    }
    assert!(assets.len() >= 5, "{assets:?}");
    for asset in assets {
        assert!(asset.starts_with('/') && !asset.starts_with("//"), "{asset} is not a local path");
        let resp = app.http.get(app.url(&asset)).send().await.unwrap();
        assert_eq!(resp.status(), 200, "{asset}");
        let content_type = resp.headers()["content-type"].to_str().unwrap().to_owned();
        let body = resp.text().await.unwrap();
        if asset.ends_with(".css") {
            assert!(content_type.starts_with("text/css"));
            // Fonts and images are inlined: a stylesheet fetches nothing from elsewhere.
            assert!(!body.contains("url(http") && !body.contains("url(\"http") && !body.contains("@import"), "{asset}");
        } else {
            assert!(content_type.starts_with("text/javascript"), "{asset}: {content_type}");
            assert!(!body.contains("sourceMappingURL"), "{asset} points at a source map we do not serve");
        }
    }
    let resp = app.http.get(app.url("/graphiql/assets/nothing.js")).send().await.unwrap();
    assert_eq!(resp.status(), 404);
}

async fn tools_can_introspect_within_their_own_depth_limit(db: Db) {
    let app = TestApp::spawn(db).await;
    // The shape of graphql-js's `getIntrospectionQuery` (GraphiQL's, Apollo's): `ofType` nine
    // levels deep, 15 in all, deeper than the data limit of 12.
    let mut type_ref = String::from("kind name");
    for _ in 0..9 {
        type_ref = format!("kind name ofType {{ {type_ref} }}");
    }
    let query = format!(
        "query IntrospectionQuery {{ __schema {{ queryType {{ name }} types {{ ...FullType }} }} }} \
         fragment FullType on __Type {{ kind name fields(includeDeprecated: true) {{ name \
         args {{ name type {{ ...TypeRef }} }} type {{ ...TypeRef }} }} inputFields {{ name type {{ ...TypeRef }} }} }} \
         fragment TypeRef on __Type {{ {type_ref} }}"
    );
    let (status, _, answer) = post(&app, Some(GQL), json!({"query": query})).await;
    assert_eq!(status, 200, "{answer}");
    assert!(answer["data"]["__schema"]["types"].as_array().unwrap().iter().any(|t| t["name"] == "Project"));
    // Introspection has a bound of its own...
    let mut deep = String::from("name");
    for _ in 0..10 {
        deep = format!("fields {{ type {{ {deep} }} }}");
    }
    let (status, _, answer) =
        post(&app, Some(GQL), json!({"query": format!("{{ __schema {{ types {{ {deep} }} }} }}")})).await;
    assert_eq!(status, 400, "{answer}");
    assert!(answer["errors"][0]["message"].as_str().unwrap().contains("nested too deep"));
    // ...and data queries keep theirs, also beside introspection.
    let data = "{ __typename projects { edges { node { members { edges { node { project { members { edges { node { project { members { totalCount } } } } } } } } } } } } }";
    let (status, _, answer) = post(&app, Some(GQL), json!({"query": data})).await;
    assert_eq!(status, 400, "{answer}");
    assert!(answer["errors"][0]["message"].as_str().unwrap().contains("nested too deep"));
}

async fn production_hides_the_schema(db: Db) {
    let app = TestApp::spawn_with(db, |s| s.surface.production = true).await;
    let (status, _, answer) = post(&app, Some(GQL), json!({"query": "{ __schema { types { name } } }"})).await;
    assert_eq!(status, 200);
    assert!(answer["data"]["__schema"].is_null() || answer["errors"].is_array(), "{answer}");
    assert!(!answer.to_string().contains("\"Project\""), "introspection is off: {answer}");
    let (_, _, answer) = post(&app, Some(GQL), json!({"query": "{ projectz { totalCount } }"})).await;
    assert!(!answer.to_string().contains("Did you mean"), "{answer}");
    // No GraphiQL: a browser's GET is a plain GraphQL GET, which has no query here.
    let resp = app.http.get(app.url("/graphql")).header("accept", "text/html,*/*").send().await.unwrap();
    assert!(!resp.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let resp = app.http.get(app.url("/graphiql/assets/graphiql.min.js")).send().await.unwrap();
    assert_eq!(resp.status(), 404);
    // Outside production, both are there.
    let dev = TestApp::spawn(db).await;
    let (_, _, answer) = post(&dev, Some(GQL), json!({"query": "{ projectz { totalCount } }"})).await;
    assert!(answer.to_string().contains("Did you mean"), "{answer}");
    let (_, _, answer) = post(&dev, Some(GQL), json!({"query": "{ __schema { types { name } } }"})).await;
    assert!(answer.to_string().contains("\"Project\""));
}

/// Response fields come back in the order the query asks for them, aliases included, in
/// single answers, GET answers and batches alike.
async fn response_fields_follow_the_query(db: Db) {
    let app = TestApp::spawn(db).await;
    let (token, _) = app.register("anis").await;
    let create = "mutation { createProject(input: {name: \"Order\"}) { slug id myRole permissions { canExportData canEditProject } name } }";
    let keys = ["createProject", "slug", "id", "myRole", "permissions", "canExportData", "canEditProject", "name"];
    let raw = |resp: reqwest::Response| async move {
        assert_eq!(resp.status(), 200);
        resp.text().await.unwrap()
    };
    let resp = app.http.post(app.url("/graphql")).bearer_auth(&token).json(&json!({"query": create})).send().await;
    common::assert_keys_in_order(&raw(resp.unwrap()).await, &keys);
    let query = "{ zeta: me { username isAdmin id } alpha: me { id username } }";
    let keys = ["zeta", "username", "isAdmin", "id", "alpha", "id", "username"];
    for accept in [GQL, "application/json"] {
        let resp = app
            .http
            .post(app.url("/graphql"))
            .bearer_auth(&token)
            .header("accept", accept)
            .json(&json!({"query": query}));
        common::assert_keys_in_order(&raw(resp.send().await.unwrap()).await, &keys);
    }
    let encoded: String = query.bytes().map(|b| format!("%{b:02X}")).collect();
    let get = app.http.get(app.url(&format!("/graphql?query={encoded}"))).bearer_auth(&token).send().await.unwrap();
    common::assert_keys_in_order(&raw(get).await, &keys);
    let batch = json!([{"query": "{ b: me { username } a: me { id } }"}, {"query": query}]);
    let batch = app.http.post(app.url("/graphql")).bearer_auth(&token).json(&batch).send().await.unwrap();
    common::assert_keys_in_order(
        &raw(batch).await,
        &["b", "username", "a", "id", "zeta", "username", "isAdmin", "alpha"],
    );
}

async fn the_dashboard_is_served_from_the_binary(db: Db) {
    // Served in production too: the page holds no data, the token it is given does.
    for production in [false, true] {
        let app = TestApp::spawn_with(db, |s| s.surface.production = production).await;
        let resp = app.http.get(app.url("/dashboard")).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
        let csp = resp.headers()["content-security-policy"].to_str().unwrap().to_owned();
        for directive in [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "connect-src 'self'",
            "frame-ancestors 'none'",
        ] {
            assert!(csp.split(';').any(|d| d.trim() == directive), "{directive} in {csp}");
        }
        assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"), "{csp}");
        let page = resp.text().await.unwrap();
        assert!(!page.contains("http://") && !page.contains("https://") && !page.contains("//cdn"), "{page}");
        assert!(!page.contains("<script>") && !page.contains("<style") && !page.contains(" style="), "nothing inline");
        let mut assets = Vec::new();
        for attr in ["src=\"", "href=\""] {
            for part in page.split(attr).skip(1) {
                assets.push(part.split('"').next().unwrap().to_owned());
            }
        }
        // An empty inline icon, so that the browser asks for no /favicon.ico.
        assets.retain(|a| a != "data:,");
        assert_eq!(assets.len(), 2, "{assets:?}");
        for asset in assets {
            assert!(asset.starts_with("/dashboard/assets/"), "{asset} is not a local path");
            let resp = app.http.get(app.url(&asset)).send().await.unwrap();
            assert_eq!(resp.status(), 200, "{asset}");
            let content_type = resp.headers()["content-type"].to_str().unwrap().to_owned();
            let body = resp.text().await.unwrap();
            // No other host named anywhere: no URL, no import, no font or image fetched.
            assert!(!body.contains("http://") && !body.contains("https://") && !body.contains("@import"), "{asset}");
            if asset.ends_with(".css") {
                assert!(content_type.starts_with("text/css"), "{asset}: {content_type}");
                assert!(!body.contains("url("), "{asset}");
            } else {
                assert!(content_type.starts_with("text/javascript"), "{asset}: {content_type}");
                // It speaks to this server only, over its GraphQL paths.
                assert!(body.contains("\"/graphql\"") && body.contains("/graphql/ws"), "{asset}");
                assert!(!body.contains("innerHTML") && !body.contains("eval("), "{asset}");
            }
        }
        let resp = app.http.get(app.url("/dashboard/assets/nothing.js")).send().await.unwrap();
        assert_eq!(resp.status(), 404);
    }
}

on_both_databases!(
    response_fields_follow_the_query,
    responses_are_negotiated,
    request_errors_are_4xx_without_data,
    methods_and_content_types_are_checked,
    batches_are_capped,
    large_bodies_are_refused,
    slow_operations_time_out,
    aliases_and_directives_are_limited,
    persisted_queries_follow_apollo,
    cors_admits_configured_origins,
    graphiql_is_served_from_the_binary,
    the_dashboard_is_served_from_the_binary,
    tools_can_introspect_within_their_own_depth_limit,
    production_hides_the_schema,
);
