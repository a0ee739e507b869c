//! The status machine and the role matrix, as a client meets them.

use reqwest::Method;
use serde_json::{Value, json};

use crate::on_both_databases;
use crate::support::{Db, TestApp};

on_both_databases!(every_forbidden_status_move_is_a_409_naming_the_allowed_moves, every_role_against_every_action);

/// A status, how to get there from open, where it may go, where it may not.
type Row = (&'static str, &'static [&'static str], &'static [&'static str], &'static [&'static str]);

const MACHINE: &[Row] = &[
    ("open", &[], &["in_progress", "waiting_on_customer"], &["open", "resolved", "closed"]),
    ("in_progress", &["in_progress"], &["waiting_on_customer", "resolved"], &["open", "in_progress", "closed"]),
    (
        "waiting_on_customer",
        &["waiting_on_customer"],
        &["in_progress", "resolved"],
        &["open", "waiting_on_customer", "closed"],
    ),
    (
        "resolved",
        &["in_progress", "resolved"],
        &["closed", "open"],
        &["in_progress", "waiting_on_customer", "resolved"],
    ),
    (
        "closed",
        &["in_progress", "resolved", "closed"],
        &["open"],
        &["in_progress", "waiting_on_customer", "resolved", "closed"],
    ),
];

async fn every_forbidden_status_move_is_a_409_naming_the_allowed_moves(db: Db) {
    let app = TestApp::spawn(db).await;
    let org = app.org("Globex").await;
    for (status, path, allowed, forbidden) in MACHINE {
        let ticket = app.ticket(&app.admin, &org, &format!("reach {status}")).await;
        let id = ticket["id"].as_str().unwrap();
        for step in *path {
            app.post(&format!("/api/v1/tickets/{id}/transition"), &app.admin, json!({ "to": step })).await.expect(200);
        }
        let before = app.get(&format!("/api/v1/tickets/{id}"), &app.admin).await.expect(200);
        assert_eq!(before["status"], *status);
        assert_eq!(before["allowed_transitions"], json!(allowed));
        let timeline_before = app.walk(&format!("/api/v1/tickets/{id}/timeline")).await.len();
        for to in *forbidden {
            let problem = app
                .post(&format!("/api/v1/tickets/{id}/transition"), &app.admin, json!({ "to": to }))
                .await
                .expect_problem(409, "forbidden_transition");
            assert_eq!(problem["allowed"], json!(allowed), "{status} -> {to}");
            let detail = problem["detail"].as_str().unwrap();
            assert!(detail.contains(status) && detail.contains(to), "{detail}");
        }
        let after = app.get(&format!("/api/v1/tickets/{id}"), &app.admin).await.expect(200);
        assert_eq!(after, before, "a refused move changed the ticket");
        assert_eq!(app.walk(&format!("/api/v1/tickets/{id}/timeline")).await.len(), timeline_before);
    }
    // An unknown status is a validation error, not a conflict.
    let ticket = app.ticket(&app.admin, &org, "typo").await;
    app.post(
        &format!("/api/v1/tickets/{}/transition", ticket["id"].as_str().unwrap()),
        &app.admin,
        json!({ "to": "done" }),
    )
    .await
    .expect_problem(422, "validation_failed");
}

/// An action, its request, and the roles that may do it.
type Case<'a> = (&'a str, Method, String, Option<Value>, &'a [&'a str]);

struct Fixture {
    org: Value,
    person: Value,
    ticket: Value,
    /// Per role: (token, the person it acts as).
    roles: Vec<(&'static str, String, Value)>,
}

async fn fixture(app: &TestApp) -> Fixture {
    let org = app.org("Initech").await;
    let person = app.customer(&org, "Peter Gibbons").await;
    let ticket = app.ticket(&app.admin, &org, "TPS reports fail to render").await;
    let mut roles = Vec::new();
    for role in ["admin", "tam", "engineer"] {
        let staff = app.staff(&format!("{role} person"), role).await;
        roles.push((role, app.token_for(&staff).await, staff));
    }
    Fixture { org, person, ticket, roles }
}

async fn every_role_against_every_action(db: Db) {
    let app = TestApp::spawn(db).await;
    let f = fixture(&app).await;
    let org = f.org["id"].as_str().unwrap().to_owned();
    let person = f.person["id"].as_str().unwrap().to_owned();
    let ticket = f.ticket["id"].as_str().unwrap().to_owned();
    let other_staff = app.staff("Someone Else", "engineer").await;

    for (role, token, me) in &f.roles {
        let spare_token =
            app.post("/api/v1/tokens", &app.admin, json!({ "name": "spare", "role": "engineer" })).await.expect(201);
        // (action, method, path, body, roles that may)
        let matrix: Vec<Case<'_>> = vec![
            (
                "create org",
                Method::POST,
                "/api/v1/orgs".into(),
                Some(json!({ "name": format!("Org by {role}") })),
                &["admin", "tam"],
            ),
            ("list orgs", Method::GET, "/api/v1/orgs".into(), None, &["admin", "tam", "engineer"]),
            ("read org", Method::GET, format!("/api/v1/orgs/{org}"), None, &["admin", "tam", "engineer"]),
            (
                "change org",
                Method::PATCH,
                format!("/api/v1/orgs/{org}"),
                Some(json!({ "support_plan": "premium" })),
                &["admin", "tam"],
            ),
            ("read desk", Method::GET, format!("/api/v1/orgs/{org}/desk"), None, &["admin", "tam", "engineer"]),
            (
                "create person",
                Method::POST,
                "/api/v1/people".into(),
                Some(json!({ "kind": "customer", "org_id": org, "name": format!("Hire by {role}") })),
                &["admin", "tam"],
            ),
            ("list people", Method::GET, "/api/v1/people".into(), None, &["admin", "tam", "engineer"]),
            ("read person", Method::GET, format!("/api/v1/people/{person}"), None, &["admin", "tam", "engineer"]),
            (
                "change person",
                Method::PATCH,
                format!("/api/v1/people/{person}"),
                Some(json!({ "mobile": "+8613800000009" })),
                &["admin", "tam"],
            ),
            (
                "create token",
                Method::POST,
                "/api/v1/tokens".into(),
                Some(json!({ "name": "ci", "role": "engineer" })),
                &["admin"],
            ),
            ("list tokens", Method::GET, "/api/v1/tokens".into(), None, &["admin"]),
            (
                "revoke token",
                Method::DELETE,
                format!("/api/v1/tokens/{}", spare_token["id"].as_str().unwrap()),
                None,
                &["admin"],
            ),
            (
                "open ticket",
                Method::POST,
                "/api/v1/tickets".into(),
                Some(json!({ "org_id": org, "title": format!("by {role}") })),
                &["admin", "tam", "engineer"],
            ),
            ("list tickets", Method::GET, "/api/v1/tickets".into(), None, &["admin", "tam", "engineer"]),
            ("read ticket", Method::GET, format!("/api/v1/tickets/{ticket}"), None, &["admin", "tam", "engineer"]),
            (
                "change ticket",
                Method::PATCH,
                format!("/api/v1/tickets/{ticket}"),
                Some(json!({ "title": format!("edited by {role}") })),
                &["admin", "tam", "engineer"],
            ),
            (
                "assign to another",
                Method::POST,
                format!("/api/v1/tickets/{ticket}/assign"),
                Some(json!({ "assignee_id": other_staff["id"] })),
                &["admin", "tam"],
            ),
            (
                "take it oneself",
                Method::POST,
                format!("/api/v1/tickets/{ticket}/assign"),
                Some(json!({ "assignee_id": me["id"] })),
                &["admin", "tam", "engineer"],
            ),
            (
                "unassign",
                Method::POST,
                format!("/api/v1/tickets/{ticket}/assign"),
                Some(json!({ "assignee_id": null })),
                &["admin", "tam"],
            ),
            (
                "comment",
                Method::POST,
                format!("/api/v1/tickets/{ticket}/comments"),
                Some(json!({ "body": format!("note from {role}") })),
                &["admin", "tam", "engineer"],
            ),
            (
                "list comments",
                Method::GET,
                format!("/api/v1/tickets/{ticket}/comments"),
                None,
                &["admin", "tam", "engineer"],
            ),
            (
                "read timeline",
                Method::GET,
                format!("/api/v1/tickets/{ticket}/timeline"),
                None,
                &["admin", "tam", "engineer"],
            ),
        ];
        for (action, method, path, body, allowed) in matrix {
            // Nobody gets in without a token, or with a made-up one.
            let anonymous = app.call(method.clone(), &path, None, body.clone()).await;
            assert_eq!(anonymous.status.as_u16(), 401, "{action} without a token: {:#}", anonymous.body);
            assert_eq!(anonymous.body["code"], "unauthorized");
            let forged = app.call(method.clone(), &path, Some("ldk_forged"), body.clone()).await;
            assert_eq!(forged.status.as_u16(), 401, "{action} with a forged token");

            let reply = app.call(method, &path, Some(token), body).await;
            if allowed.contains(role) {
                assert!(
                    reply.status.is_success(),
                    "{role} should be allowed to {action}: {} {:#}",
                    reply.status,
                    reply.body
                );
            } else {
                assert_eq!(reply.status.as_u16(), 403, "{role} must not {action}: {:#}", reply.body);
                assert_eq!(reply.body["code"], "forbidden");
                assert_eq!(reply.content_type, "application/problem+json");
            }
        }
    }

    // Transitions are open to every role; do them once each along the machine.
    for ((_, token, _), to) in f.roles.iter().zip(["in_progress", "waiting_on_customer", "resolved"]) {
        app.post(&format!("/api/v1/tickets/{ticket}/transition"), token, json!({ "to": to })).await.expect(200);
    }

    // A revoked token stops working at once; so does the token of a deactivated person.
    let (_, eng_token, engineer) = &f.roles[2];
    app.patch(&format!("/api/v1/people/{}", engineer["id"].as_str().unwrap()), &app.admin, json!({ "active": false }))
        .await
        .expect(200);
    app.get("/api/v1/tickets", eng_token).await.expect_problem(401, "unauthorized");
    let tokens = app.walk("/api/v1/tokens").await;
    let tam_token_id =
        tokens.iter().find(|t| t["person_id"] == f.roles[1].2["id"]).unwrap()["id"].as_str().unwrap().to_owned();
    app.call(Method::DELETE, &format!("/api/v1/tokens/{tam_token_id}"), Some(&app.admin), None).await.expect(200);
    app.get("/api/v1/tickets", &f.roles[1].1).await.expect_problem(401, "unauthorized");
    // Token listings never show a secret.
    assert!(tokens.iter().all(|t| t.get("token").is_none() && t.get("token_hash").is_none()));
}
