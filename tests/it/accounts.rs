//! Accounts over GraphQL: registration, validation, login, sessions, throttling, profile.

use crate::common;

use common::{Db, PASSWORD, TestApp, error_code};
use serde_json::json;

const REGISTER: &str =
    "mutation($i: RegisterInput!) { register(input: $i) { token user { id username email isAdmin } } }";
const LOGIN: &str = "mutation($i: LoginInput!) { login(input: $i) { token user { id username } } }";
const ME: &str = "{ me { id username email } }";

fn registration(username: &str, email: &str, password: &str) -> serde_json::Value {
    json!({"i": {"username": username, "email": email, "password": password}})
}

async fn first_user_is_admin_and_later_ones_are_not(db: Db) {
    let app = TestApp::spawn(db).await;
    let first = app.ok(None, REGISTER, registration("anis", "Anis@Example.org", PASSWORD)).await;
    assert_eq!(first["register"]["user"]["isAdmin"], true);
    assert_eq!(first["register"]["user"]["email"], "anis@example.org");
    let second = app.ok(None, REGISTER, registration("dabir", "dabir@example.org", PASSWORD)).await;
    assert_eq!(second["register"]["user"]["isAdmin"], false);
    let token = second["register"]["token"].as_str().unwrap();
    assert!(token.len() >= 64, "a 256-bit token: {token}");
    let me = app.ok(Some(token), ME, json!({})).await;
    assert_eq!(me["me"]["username"], "dabir");
    // Only the token's digest is stored.
    assert_eq!(app.count(&format!("SELECT id FROM user_sessions WHERE token_hash = '{token}'")).await, 0);
    assert_eq!(app.count("SELECT id FROM user_sessions").await, 2);
    // Argon2id at OWASP cost.
    assert_eq!(app.count("SELECT id FROM users WHERE password_hash LIKE '$argon2id$v=19$m=19456,t=2,p=1$%'").await, 2);
}

async fn duplicates_are_conflicts_and_leave_nothing_behind(db: Db) {
    let app = TestApp::spawn(db).await;
    app.register("anis").await;
    let before = (app.count("SELECT id FROM users").await, app.count("SELECT id FROM audit_logs").await);
    let resp = app.gql(None, REGISTER, registration("anis", "other@example.org", PASSWORD)).await;
    assert_eq!(error_code(&resp), "CONFLICT");
    assert!(resp["errors"][0]["message"].as_str().unwrap().contains("username"));
    let resp = app.gql(None, REGISTER, registration("other", "ANIS@example.org", PASSWORD)).await;
    assert_eq!(error_code(&resp), "CONFLICT");
    assert!(resp["errors"][0]["message"].as_str().unwrap().contains("email"));
    let after = (app.count("SELECT id FROM users").await, app.count("SELECT id FROM audit_logs").await);
    assert_eq!(before, after);
    assert_eq!(app.count("SELECT id FROM user_profiles").await, 1);
}

async fn invalid_input_names_the_field(db: Db) {
    let app = TestApp::spawn(db).await;
    for (vars, field) in [
        (registration("ab", "a@example.org", PASSWORD), "username"),
        (registration("has space", "a@example.org", PASSWORD), "username"),
        (registration(&"x".repeat(51), "a@example.org", PASSWORD), "username"),
        (registration("valid", "not-an-email", PASSWORD), "email"),
        (registration("valid", "a@example.org", "short"), "password"),
        (registration("valid", "a@example.org", &"p".repeat(1025)), "password"),
    ] {
        let resp = app.gql(None, REGISTER, vars.clone()).await;
        assert_eq!(error_code(&resp), "BAD_USER_INPUT", "{vars}");
        assert_eq!(resp["errors"][0]["extensions"]["field"], field, "{vars}");
    }
    assert_eq!(app.count("SELECT id FROM users").await, 0);
}

async fn login_failures_say_only_invalid_credentials(db: Db) {
    let app = TestApp::spawn(db).await;
    app.register("anis").await;
    for login in ["anis", "nobody"] {
        let resp = app.gql(None, LOGIN, json!({"i": {"usernameOrEmail": login, "password": "wrong-password"}})).await;
        assert_eq!(error_code(&resp), "UNAUTHENTICATED");
        assert_eq!(resp["errors"][0]["message"], "invalid credentials");
    }
    let by_email =
        app.ok(None, LOGIN, json!({"i": {"usernameOrEmail": "ANIS@example.org", "password": PASSWORD}})).await;
    assert_eq!(by_email["login"]["user"]["username"], "anis");
    assert_eq!(app.count("SELECT id FROM audit_logs WHERE action = 'auth.login_failed'").await, 2);
    assert_eq!(app.count("SELECT id FROM audit_logs WHERE action = 'auth.login'").await, 2);
}

async fn repeated_failures_are_throttled_for_a_while(db: Db) {
    let clock = nishan_api::clock::Clock::manual(chrono::Utc::now());
    let app = TestApp::spawn_with_clock(
        db,
        |s| {
            s.login_max_failures = 3;
            s.login_cooldown_secs = 120;
        },
        clock.clone(),
    )
    .await;
    app.register("anis").await;
    let attempt = |password: &'static str| {
        let app = &app;
        async move { app.gql(None, LOGIN, json!({"i": {"usernameOrEmail": "anis", "password": password}})).await }
    };
    for _ in 0..3 {
        assert_eq!(error_code(&attempt("wrong-password").await), "UNAUTHENTICATED");
    }
    let limited = attempt(PASSWORD).await;
    assert_eq!(error_code(&limited), "RATE_LIMITED", "even the right password waits: {limited}");
    assert_eq!(limited["errors"][0]["extensions"]["retryAfter"], 120, "{limited}");
    // The lock is temporary: a second before the cooldown ends it still holds, then the real
    // user gets in.
    clock.advance(chrono::Duration::seconds(119));
    let limited = attempt(PASSWORD).await;
    assert_eq!(error_code(&limited), "RATE_LIMITED", "{limited}");
    assert_eq!(limited["errors"][0]["extensions"]["retryAfter"], 1, "{limited}");
    clock.advance(chrono::Duration::seconds(1));
    let resp = attempt(PASSWORD).await;
    assert!(resp.get("errors").is_none(), "{resp}");
}

async fn logout_revokes_and_expired_tokens_are_refused(db: Db) {
    let app = TestApp::spawn(db).await;
    let (token, _) = app.register("anis").await;
    assert!(app.ok(Some(&token), "mutation { logout }", json!({})).await["logout"].as_bool().unwrap());
    let resp = app.gql(Some(&token), ME, json!({})).await;
    assert_eq!(error_code(&resp), "UNAUTHENTICATED");
    assert_eq!(app.count("SELECT id FROM audit_logs WHERE action = 'auth.logout'").await, 1);

    let login = app.ok(None, LOGIN, json!({"i": {"usernameOrEmail": "anis", "password": PASSWORD}})).await;
    let token = login["login"]["token"].as_str().unwrap().to_owned();
    assert!(app.gql(Some(&token), ME, json!({})).await.get("errors").is_none());
    app.execute("UPDATE user_sessions SET expires_at = created_at WHERE revoked_at IS NULL").await;
    assert_eq!(error_code(&app.gql(Some(&token), ME, json!({})).await), "UNAUTHENTICATED");
    assert_eq!(error_code(&app.gql(Some("nsn_forged"), ME, json!({})).await), "UNAUTHENTICATED");
    // No token at all is not an error: `me` is simply null.
    assert_eq!(app.ok(None, ME, json!({})).await["me"], serde_json::Value::Null);
}

async fn change_password_revokes_other_sessions(db: Db) {
    let app = TestApp::spawn(db).await;
    let (first, _) = app.register("anis").await;
    let second =
        app.ok(None, LOGIN, json!({"i": {"usernameOrEmail": "anis", "password": PASSWORD}})).await["login"]["token"]
            .as_str()
            .unwrap()
            .to_owned();
    let change = "mutation($i: ChangePasswordInput!) { changePassword(input: $i) }";
    let wrong = app
        .gql(
            Some(&first),
            change,
            json!({"i": {"currentPassword": "not-it-at-all", "newPassword": "a-new-passphrase"}}),
        )
        .await;
    assert_eq!(error_code(&wrong), "BAD_USER_INPUT");
    assert_eq!(wrong["errors"][0]["extensions"]["field"], "currentPassword");
    let short =
        app.gql(Some(&first), change, json!({"i": {"currentPassword": PASSWORD, "newPassword": "short"}})).await;
    assert_eq!(short["errors"][0]["extensions"]["field"], "newPassword");
    app.ok(Some(&first), change, json!({"i": {"currentPassword": PASSWORD, "newPassword": "a-new-passphrase"}})).await;
    assert!(app.gql(Some(&first), ME, json!({})).await.get("errors").is_none(), "the current session stays");
    assert_eq!(error_code(&app.gql(Some(&second), ME, json!({})).await), "UNAUTHENTICATED");
    let old = app.gql(None, LOGIN, json!({"i": {"usernameOrEmail": "anis", "password": PASSWORD}})).await;
    assert_eq!(error_code(&old), "UNAUTHENTICATED");
    app.ok(None, LOGIN, json!({"i": {"usernameOrEmail": "anis", "password": "a-new-passphrase"}})).await;
}

async fn update_me_recomputes_profile_completion(db: Db) {
    let app = TestApp::spawn(db).await;
    let (token, _) = app.register("anis").await;
    let update = "mutation($i: UpdateMeInput!) { updateMe(input: $i) { firstName bio researchInterests profile { orcid languages profileCompletion } } }";
    let data = app
        .ok(
            Some(&token),
            update,
            json!({"i": {"firstName": "Mir", "lastName": "Anis", "bio": "مرثیہ گو", "researchInterests": ["marsiya"],
                          "orcid": "0000-0002-1825-0097", "languages": ["ur", "fa"]}}),
        )
        .await;
    assert_eq!(data["updateMe"]["firstName"], "Mir");
    assert_eq!(data["updateMe"]["profile"]["profileCompletion"], 60);
    let cleared = app.ok(Some(&token), update, json!({"i": {"bio": null}})).await;
    assert_eq!(cleared["updateMe"]["bio"], serde_json::Value::Null);
    assert_eq!(cleared["updateMe"]["profile"]["profileCompletion"], 50);
    let bad = app.gql(Some(&token), update, json!({"i": {"orcid": "12-34"}})).await;
    assert_eq!(bad["errors"][0]["extensions"]["field"], "orcid");
    let anon = app.gql(None, update, json!({"i": {"bio": "x"}})).await;
    assert_eq!(error_code(&anon), "UNAUTHENTICATED");
    assert_eq!(app.count("SELECT id FROM audit_logs WHERE action = 'user.update'").await, 2);
}

on_both_databases!(
    first_user_is_admin_and_later_ones_are_not,
    duplicates_are_conflicts_and_leave_nothing_behind,
    invalid_input_names_the_field,
    login_failures_say_only_invalid_credentials,
    repeated_failures_are_throttled_for_a_while,
    logout_revokes_and_expired_tokens_are_refused,
    change_password_revokes_other_sessions,
    update_me_recomputes_profile_completion,
);
