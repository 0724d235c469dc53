//! Projects and memberships over GraphQL: the permission matrix, the last-owner rule,
//! visibility, slugs and audit rows.

use crate::common;

use common::{Db, TestApp, error_code};
use serde_json::{Value, json};

const PROJECT: &str = "query($id: ID) { project(id: $id) { id name slug myRole memberCount permissions { canEditProject canManageUsers canUploadDocuments canEditEntities canExportData } } }";
const UPDATE: &str =
    "mutation($id: ID!, $i: UpdateProjectInput!) { updateProject(id: $id, input: $i) { id description } }";
const ADD: &str = "mutation($i: AddProjectMemberInput!) { addProjectMember(input: $i) { id role user { id } permissions { canManageUsers } } }";
const SET_ROLE: &str = "mutation($i: UpdateProjectMemberInput!) { updateProjectMember(input: $i) { role } }";
const REMOVE: &str = "mutation($p: ID!, $u: ID!) { removeProjectMember(projectId: $p, userId: $u) }";
const DELETE: &str = "mutation($id: ID!) { deleteProject(id: $id) }";

/// A project with one member of each role, plus a stranger and a global admin.
struct Cast {
    root: String,
    owner: String,
    admin: String,
    researcher: String,
    viewer: String,
    stranger: String,
    target_id: String,
    project: String,
}

async fn cast(app: &TestApp, extra: Value) -> Cast {
    let (root, _) = app.register("root").await; // first user: global admin
    let (owner, _) = app.register("owner").await;
    let (admin, admin_id) = app.register("admin").await;
    let (researcher, researcher_id) = app.register("researcher").await;
    let (viewer, viewer_id) = app.register("viewer").await;
    let (stranger, _) = app.register("stranger").await;
    let (_, target_id) = app.register("target").await;
    let project = app.create_project(&owner, "Marsiya corpus", extra).await;
    for (id, role) in [(admin_id, "ADMIN"), (researcher_id, "RESEARCHER"), (viewer_id, "VIEWER")] {
        app.ok(Some(&owner), ADD, json!({"i": {"projectId": project, "userId": id, "role": role}})).await;
    }
    Cast { root, owner, admin, researcher, viewer, stranger, target_id, project }
}

/// The error code of a response, or "OK".
fn outcome(resp: &Value) -> String {
    if resp.get("errors").is_some() { error_code(resp) } else { "OK".into() }
}

async fn permission_matrix(db: Db) {
    let app = TestApp::spawn(db).await;
    let c = cast(&app, json!({})).await;
    let callers: [(&str, Option<&str>); 7] = [
        ("root", Some(&c.root)),
        ("owner", Some(&c.owner)),
        ("admin", Some(&c.admin)),
        ("researcher", Some(&c.researcher)),
        ("viewer", Some(&c.viewer)),
        ("stranger", Some(&c.stranger)),
        ("anonymous", None),
    ];
    let member = |role: &str| json!({"i": {"projectId": c.project, "userId": c.target_id, "role": role}});
    // Expected outcome per caller, in the order of `callers`.
    let manage = ["OK", "OK", "OK", "FORBIDDEN", "FORBIDDEN", "NOT_FOUND", "UNAUTHENTICATED"];
    let read = ["OK", "OK", "OK", "OK", "OK", "NOT_FOUND", "NOT_FOUND"];
    for (i, (who, token)) in callers.iter().enumerate() {
        let r = app.gql(*token, PROJECT, json!({"id": c.project})).await;
        assert_eq!(outcome(&r), read[i], "read by {who}: {r}");
        let r = app.gql(*token, UPDATE, json!({"id": c.project, "i": {"description": format!("by {who}")}})).await;
        assert_eq!(outcome(&r), manage[i], "updateProject by {who}: {r}");
        let r = app.gql(*token, ADD, member("VIEWER")).await;
        assert_eq!(outcome(&r), manage[i], "addProjectMember by {who}: {r}");
        if manage[i] != "OK" {
            app.ok(Some(&c.owner), ADD, member("VIEWER")).await;
        }
        let r = app.gql(*token, SET_ROLE, member("RESEARCHER")).await;
        assert_eq!(outcome(&r), manage[i], "updateProjectMember by {who}: {r}");
        let r = app.gql(*token, REMOVE, json!({"p": c.project, "u": c.target_id})).await;
        assert_eq!(outcome(&r), manage[i], "removeProjectMember by {who}: {r}");
        if manage[i] != "OK" {
            app.ok(Some(&c.owner), REMOVE, json!({"p": c.project, "u": c.target_id})).await;
        }
        let r = app.gql(*token, ADD, member("OWNER")).await;
        let grant_owner = ["OK", "OK", "FORBIDDEN", "FORBIDDEN", "FORBIDDEN", "NOT_FOUND", "UNAUTHENTICATED"];
        assert_eq!(outcome(&r), grant_owner[i], "granting OWNER by {who}: {r}");
        if grant_owner[i] == "OK" {
            app.ok(Some(&c.owner), REMOVE, json!({"p": c.project, "u": c.target_id})).await;
        }
    }
    let delete = ["FORBIDDEN", "FORBIDDEN", "FORBIDDEN", "NOT_FOUND", "UNAUTHENTICATED"];
    for (i, (who, token)) in callers[2..].iter().enumerate() {
        let r = app.gql(*token, DELETE, json!({"id": c.project})).await;
        assert_eq!(outcome(&r), delete[i], "deleteProject by {who}: {r}");
    }
    app.ok(Some(&c.owner), DELETE, json!({"id": c.project})).await;
    assert_eq!(error_code(&app.gql(Some(&c.owner), PROJECT, json!({"id": c.project})).await), "NOT_FOUND");
    assert_eq!(app.count("SELECT id FROM project_memberships").await, 0, "memberships go with the project");
    // A global admin may delete any project.
    let other = app.create_project(&c.owner, "Second", json!({})).await;
    app.ok(Some(&c.root), DELETE, json!({"id": other})).await;
}

async fn roles_carry_their_permissions(db: Db) {
    let app = TestApp::spawn(db).await;
    let c = cast(&app, json!({})).await;
    let expect = [
        (&c.owner, "OWNER", [true, true, true, true, true]),
        (&c.admin, "ADMIN", [true, true, true, true, true]),
        (&c.researcher, "RESEARCHER", [false, false, true, true, true]),
        (&c.viewer, "VIEWER", [false, false, false, false, false]),
    ];
    for (token, role, flags) in expect {
        let p = &app.ok(Some(token), PROJECT, json!({"id": c.project})).await["project"];
        assert_eq!(p["myRole"], role);
        let perms = &p["permissions"];
        let got = ["canEditProject", "canManageUsers", "canUploadDocuments", "canEditEntities", "canExportData"]
            .map(|k| perms[k].as_bool().unwrap());
        assert_eq!(got, flags, "{role}");
        assert_eq!(p["memberCount"], 4);
    }
    // The stored flags are written from the role too.
    assert_eq!(app.count("SELECT id FROM project_memberships WHERE role = 'RESEARCHER' AND can_upload_documents AND can_edit_entities AND can_export_data AND NOT can_edit_project AND NOT can_manage_users").await, 1);
    let root = &app.ok(Some(&c.root), PROJECT, json!({"id": c.project})).await["project"];
    assert_eq!(root["myRole"], Value::Null);
    assert_eq!(root["permissions"]["canManageUsers"], true, "global admins can do everything");
}

async fn last_owner_cannot_leave_or_be_demoted(db: Db) {
    let app = TestApp::spawn(db).await;
    app.register("root").await; // the global admin, so that `owner` is an ordinary user
    let (owner, owner_id) = app.register("owner").await;
    let (second, second_id) = app.register("second").await;
    let project = app.create_project(&owner, "Anis", json!({})).await;
    let demote = json!({"i": {"projectId": project, "userId": owner_id, "role": "ADMIN"}});
    assert_eq!(error_code(&app.gql(Some(&owner), SET_ROLE, demote.clone()).await), "CONFLICT");
    assert_eq!(error_code(&app.gql(Some(&owner), REMOVE, json!({"p": project, "u": owner_id})).await), "CONFLICT");
    assert_eq!(
        app.count("SELECT id FROM audit_logs WHERE action LIKE 'membership.%'").await,
        0,
        "refusals write nothing"
    );
    app.ok(Some(&owner), ADD, json!({"i": {"projectId": project, "userId": second_id, "role": "OWNER"}})).await;
    app.ok(Some(&owner), SET_ROLE, demote).await;
    // Now `second` is the last owner; the demoted admin cannot remove them.
    assert_eq!(error_code(&app.gql(Some(&owner), REMOVE, json!({"p": project, "u": second_id})).await), "FORBIDDEN");
    assert_eq!(error_code(&app.gql(Some(&second), REMOVE, json!({"p": project, "u": second_id})).await), "CONFLICT");
    assert_eq!(app.count("SELECT id FROM project_memberships WHERE role = 'OWNER' AND is_active").await, 1);
    // Adding a member twice is a conflict; removing a non-member is not found.
    let resp =
        app.gql(Some(&second), ADD, json!({"i": {"projectId": project, "userId": owner_id, "role": "VIEWER"}})).await;
    assert_eq!(error_code(&resp), "CONFLICT");
    let (_, stranger_id) = app.register("stranger").await;
    assert_eq!(error_code(&app.gql(Some(&second), REMOVE, json!({"p": project, "u": stranger_id})).await), "NOT_FOUND");
    let unknown = json!({"i": {"projectId": project, "userId": uuid::Uuid::new_v4(), "role": "VIEWER"}});
    assert_eq!(error_code(&app.gql(Some(&second), ADD, unknown).await), "NOT_FOUND");
    // Any member may leave.
    app.ok(Some(&owner), REMOVE, json!({"p": project, "u": owner_id})).await;
}

async fn visibility_of_private_and_public_projects(db: Db) {
    let app = TestApp::spawn(db).await;
    let (_, _) = app.register("root").await;
    let (owner, _) = app.register("owner").await;
    let (other, _) = app.register("other").await;
    let private = app.create_project(&owner, "Private", json!({})).await;
    let public = app.create_project(&owner, "Public", json!({"isPublic": true})).await;
    let open = app.create_project(&owner, "Open", json!({"isPublic": true, "allowPublicView": true})).await;
    let names = |data: &Value| -> Vec<String> {
        data["projects"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"]["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let list = "{ projects { totalCount edges { node { name } } } }";
    assert_eq!(names(&app.ok(Some(&owner), list, json!({})).await), ["Open", "Public", "Private"]);
    assert_eq!(names(&app.ok(Some(&other), list, json!({})).await), ["Open", "Public"]);
    assert_eq!(names(&app.ok(None, list, json!({})).await), ["Open"]);
    // A private project looks exactly like a missing one.
    let missing = app.gql(Some(&other), PROJECT, json!({"id": uuid::Uuid::new_v4()})).await;
    let hidden = app.gql(Some(&other), PROJECT, json!({"id": private})).await;
    assert_eq!(missing["errors"][0]["message"], hidden["errors"][0]["message"]);
    assert_eq!(error_code(&hidden), "NOT_FOUND");
    assert_eq!(
        error_code(&app.gql(Some(&other), UPDATE, json!({"id": private, "i": {"name": "x"}})).await),
        "NOT_FOUND"
    );
    // Readable without signing in only with allowPublicView; writable by members only.
    assert_eq!(app.ok(None, PROJECT, json!({"id": open})).await["project"]["name"], "Open");
    assert_eq!(error_code(&app.gql(None, PROJECT, json!({"id": public})).await), "NOT_FOUND");
    assert_eq!(error_code(&app.gql(Some(&other), UPDATE, json!({"id": open, "i": {"name": "x"}})).await), "FORBIDDEN");
    assert_eq!(error_code(&app.gql(None, UPDATE, json!({"id": open, "i": {"name": "x"}})).await), "UNAUTHENTICATED");
}

async fn slugs_are_unique_and_readable(db: Db) {
    let app = TestApp::spawn(db).await;
    let (owner, _) = app.register("owner").await;
    let create = "mutation($i: CreateProjectInput!) { createProject(input: $i) { slug } }";
    let mut slugs = vec![];
    for name in ["Marsiya of Anis", "Marsiya of Anis!", "marsiya  of anis", "مرثیۂ انیسؔ", "مرثیۂ انیس"]
    {
        slugs.push(
            app.ok(Some(&owner), create, json!({"i": {"name": name}})).await["createProject"]["slug"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    assert_eq!(slugs, ["marsiya-of-anis", "marsiya-of-anis-2", "marsiya-of-anis-3", "مرثیۂ-انیس", "مرثیۂ-انیس-2"]);
    let by_slug =
        app.ok(Some(&owner), "query($s: String) { project(slug: $s) { name } }", json!({"s": "مرثیۂ-انیس-2"})).await;
    assert_eq!(by_slug["project"]["name"], "مرثیۂ انیس");
    let blank = app.gql(Some(&owner), create, json!({"i": {"name": "   "}})).await;
    assert_eq!(error_code(&blank), "BAD_USER_INPUT");
    assert_eq!(blank["errors"][0]["extensions"]["field"], "name");
}

async fn mutations_write_audit_rows(db: Db) {
    let app = TestApp::spawn(db).await;
    let (owner, owner_id) = app.register("owner").await;
    let (_, member_id) = app.register("member").await;
    let project = app.create_project(&owner, "Audited", json!({})).await;
    app.ok(Some(&owner), UPDATE, json!({"id": project, "i": {"description": "Karbala"}})).await;
    app.ok(Some(&owner), ADD, json!({"i": {"projectId": project, "userId": member_id, "role": "VIEWER"}})).await;
    app.ok(Some(&owner), SET_ROLE, json!({"i": {"projectId": project, "userId": member_id, "role": "RESEARCHER"}}))
        .await;
    app.ok(Some(&owner), REMOVE, json!({"p": project, "u": member_id})).await;
    app.ok(Some(&owner), DELETE, json!({"id": project})).await;
    for action in [
        "project.create",
        "project.update",
        "membership.add",
        "membership.update",
        "membership.remove",
        "project.delete",
    ] {
        let sql = format!(
            "SELECT id FROM audit_logs WHERE action = '{action}' AND user_id = '{owner_id}' AND project_id = '{project}' AND resource_type IS NOT NULL"
        );
        // Uuids are stored as blobs on SQLite; compare through the ORM instead there.
        let n = if app.db == Db::Postgres {
            app.count(&sql).await
        } else {
            app.count(&format!("SELECT id FROM audit_logs WHERE action = '{action}'")).await
        };
        assert_eq!(n, 1, "{action}");
    }
    // Two registrations (each `user.register` and `auth.login`) and six project actions.
    assert_eq!(app.count("SELECT id FROM audit_logs WHERE ip_address = '127.0.0.1'").await, 10);
}

/// The membership rows of a user, by username.
fn memberships_of(username: &str) -> String {
    format!("SELECT m.id FROM project_memberships m JOIN users u ON u.id = m.user_id WHERE u.username = '{username}'")
}

/// A collaborator is added by username or email as well as by id: exactly one of the three;
/// only member managers learn whether a name exists, and nothing else about its user.
async fn members_are_added_by_username_or_email(db: Db) {
    let app = TestApp::spawn(db).await;
    let c = cast(&app, json!({})).await;
    let add =
        "mutation($i: AddProjectMemberInput!) { addProjectMember(input: $i) { role user { id username email } } }";
    let by = |key: &str, value: &str, role: &str| json!({"i": {"projectId": c.project, key: value, "role": role}});
    let added = app.ok(Some(&c.owner), add, by("username", "target", "RESEARCHER")).await;
    let m = &added["addProjectMember"];
    assert_eq!((m["role"].as_str(), m["user"]["id"].as_str()), (Some("RESEARCHER"), Some(c.target_id.as_str())));
    assert_eq!(m["user"]["username"], "target");
    assert_eq!(m["user"]["email"], Value::Null, "the manager does not learn the email");
    let (_, dabir_id) = app.register("dabir").await;
    let added = app.ok(Some(&c.admin), add, by("email", "  DABIR@Example.ORG ", "VIEWER")).await;
    assert_eq!(added["addProjectMember"]["user"]["id"], dabir_id.as_str(), "emails ignore case and spaces");
    // Already a member: CONFLICT, whichever way they are named.
    let again = app.gql(Some(&c.owner), add, by("email", "target@example.org", "VIEWER")).await;
    assert_eq!(error_code(&again), "CONFLICT", "{again}");

    // Nobody by that name: NOT_FOUND, saying no more than an unknown id does.
    let unknown_id = app.gql(Some(&c.owner), add, by("userId", "01a2071d-887c-72bb-9531-5b36ca460d83", "VIEWER")).await;
    assert_eq!(error_code(&unknown_id), "NOT_FOUND");
    for (key, value) in [("username", "nobody"), ("email", "nobody@example.org"), ("username", "Target")] {
        let r = app.gql(Some(&c.owner), add, by(key, value, "VIEWER")).await;
        assert_eq!(error_code(&r), "NOT_FOUND", "{key} {value}: {r}");
        assert_eq!(r["errors"][0]["message"], unknown_id["errors"][0]["message"], "{r}");
    }
    // Those who may not manage members learn nothing: the same FORBIDDEN for a user who exists
    // and one who does not, by any name; strangers do not see the project.
    let (_, zainab_id) = app.register("zainab").await;
    for token in [&c.researcher, &c.viewer] {
        let refusals: Vec<Value> = futures_util::future::join_all(
            [
                by("username", "zainab", "VIEWER"),
                by("username", "nobody", "VIEWER"),
                by("email", "zainab@example.org", "VIEWER"),
                by("email", "nobody@example.org", "VIEWER"),
                by("userId", &zainab_id, "VIEWER"),
                by("userId", "01a2071d-887c-72bb-9531-5b36ca460d83", "VIEWER"),
            ]
            .into_iter()
            .map(|vars| {
                let app = &app;
                async move { app.gql(Some(token), add, vars).await["errors"][0].clone() }
            }),
        )
        .await;
        for r in &refusals {
            assert_eq!(r["extensions"]["code"], "FORBIDDEN", "{r}");
            assert_eq!(r["message"], refusals[0]["message"], "{refusals:?}");
        }
    }
    let stranger = app.gql(Some(&c.stranger), add, by("username", "zainab", "VIEWER")).await;
    assert_eq!(error_code(&stranger), "NOT_FOUND");
    assert_eq!(stranger["errors"][0]["message"], "project not found");

    // Exactly one of userId, username and email.
    let none = app.gql(Some(&c.owner), add, json!({"i": {"projectId": c.project, "role": "VIEWER"}})).await;
    assert_eq!(
        (error_code(&none), none["errors"][0]["extensions"]["field"].as_str()),
        ("BAD_USER_INPUT".into(), Some("userId"))
    );
    let two =
        json!({"i": {"projectId": c.project, "userId": zainab_id, "email": "zainab@example.org", "role": "VIEWER"}});
    let two = app.gql(Some(&c.owner), add, two).await;
    assert_eq!(
        (error_code(&two), two["errors"][0]["extensions"]["field"].as_str()),
        ("BAD_USER_INPUT".into(), Some("email"))
    );
    let malformed = app.gql(Some(&c.owner), add, by("email", "not an email", "VIEWER")).await;
    assert_eq!(malformed["errors"][0]["extensions"]["field"], "email");
    assert_eq!(app.count(&memberships_of("zainab")).await, 0);

    // Many managers adding the same user by name at once: one membership, the rest CONFLICT.
    app.register("anis").await;
    let results: Vec<Value> = futures_util::future::join_all((0..8).map(|i| {
        let (app, token) = (&app, if i % 2 == 0 { &c.owner } else { &c.admin });
        let vars =
            if i % 3 == 0 { by("email", "anis@example.org", "VIEWER") } else { by("username", "anis", "VIEWER") };
        async move { app.gql(Some(token), add, vars).await }
    }))
    .await;
    let outcomes: Vec<String> = results.iter().map(outcome).collect();
    assert_eq!(outcomes.iter().filter(|o| *o == "OK").count(), 1, "{outcomes:?}");
    assert!(outcomes.iter().all(|o| o == "OK" || o == "CONFLICT"), "{outcomes:?}");
    assert_eq!(app.count(&memberships_of("anis")).await, 1);
    assert_eq!(app.count("SELECT id FROM audit_logs WHERE action = 'membership.add'").await, 3 + 2 + 1);
}

on_both_databases!(
    members_are_added_by_username_or_email,
    permission_matrix,
    roles_carry_their_permissions,
    last_owner_cannot_leave_or_be_demoted,
    visibility_of_private_and_public_projects,
    slugs_are_unique_and_readable,
    mutations_write_audit_rows,
);
