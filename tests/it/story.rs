//! The whole ticket story a TAM lives through, over HTTP.

use serde_json::json;

use crate::on_both_databases;
use crate::support::{Db, TestApp};

on_both_databases!(whole_ticket_story);

async fn whole_ticket_story(db: Db) {
    let app = TestApp::spawn(db).await;

    // An admin sets up a TAM and an engineer, each with their own token.
    let tam = app.staff("Li Na", "tam").await;
    let engineer = app.staff("Zhang Wei", "engineer").await;
    let tam_token = app.token_for(&tam).await;
    let eng_token = app.token_for(&engineer).await;

    // The TAM creates the customer organisation and a customer member.
    let org = app
        .post(
            "/api/v1/orgs",
            &tam_token,
            json!({
                "name": "Acme Manufacturing", "lark_tenant_key": "tk_acme", "support_plan": "enterprise",
                "tam_id": tam["id"]
            }),
        )
        .await
        .expect(201);
    assert_eq!(org["support_plan"], "enterprise");
    let customer = app
        .post(
            "/api/v1/people",
            &tam_token,
            json!({
                "kind": "customer", "org_id": org["id"], "name": "Chen Jing",
                "email": "Chen.Jing@Acme.example", "mobile": "+86 138 0000 0001", "lark_open_id": "ou_chen"
            }),
        )
        .await
        .expect(201);
    assert_eq!(customer["email"], "chen.jing@acme.example");

    // The customer's problem becomes a ticket.
    let ticket = app
        .post("/api/v1/tickets", &tam_token, json!({
            "org_id": org["id"], "requester_id": customer["id"], "title": "Line 3 PLC gateway drops data",
            "description": "Since the 2.4 upgrade, readings stop every hour.", "severity": "P2",
            "external_refs": [{ "system": "zendesk", "external_id": "ZD-881", "url": "https://acme.zendesk.example/881" }]
        }))
        .await
        .expect(201);
    let id = ticket["id"].as_str().unwrap().to_owned();
    assert_eq!(ticket["status"], "open");
    assert_eq!(ticket["severity"], "P2");
    assert_eq!(ticket["allowed_transitions"], json!(["in_progress", "waiting_on_customer"]));
    assert_eq!(ticket["external_refs"][0]["external_id"], "ZD-881");
    assert!(ticket["number"].as_i64().unwrap() >= 1);

    // The TAM assigns it; the engineer starts, asks the customer, gets an answer, resolves.
    let assigned = app
        .post(&format!("/api/v1/tickets/{id}/assign"), &tam_token, json!({ "assignee_id": engineer["id"] }))
        .await
        .expect(200);
    assert_eq!(assigned["assignee_id"], engineer["id"]);
    for (to, reason) in [
        ("in_progress", None),
        ("waiting_on_customer", Some("need the gateway logs")),
        ("in_progress", None),
        ("resolved", Some("firmware 2.4.1 fixes the buffer overflow")),
    ] {
        let moved = app
            .post(&format!("/api/v1/tickets/{id}/transition"), &eng_token, json!({ "to": to, "reason": reason }))
            .await
            .expect(200);
        assert_eq!(moved["status"], to);
    }
    app.post(&format!("/api/v1/tickets/{id}/comments"), &eng_token, json!({ "body": "Logs attached to ZD-881." }))
        .await
        .expect(201);
    app.post(
        &format!("/api/v1/tickets/{id}/comments"),
        &tam_token,
        json!({ "body": "Customer is sensitive about downtime.", "visibility": "internal" }),
    )
    .await
    .expect(201);
    let resolved = app.get(&format!("/api/v1/tickets/{id}"), &tam_token).await.expect(200);
    assert!(resolved["resolved_at"].is_string());
    let closed =
        app.post(&format!("/api/v1/tickets/{id}/transition"), &tam_token, json!({ "to": "closed" })).await.expect(200);
    assert!(closed["closed_at"].is_string());

    // The timeline tells the whole story, in order, with who did each step.
    let timeline = app.get(&format!("/api/v1/tickets/{id}/timeline"), &tam_token).await.expect(200);
    let entries = timeline["items"].as_array().unwrap();
    let kinds: Vec<&str> = entries.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "created",
            "assigned",
            "status_changed",
            "status_changed",
            "status_changed",
            "status_changed",
            "commented",
            "commented",
            "status_changed"
        ]
    );
    assert_eq!(entries[0]["actor"]["name"], "Li Na");
    assert_eq!(entries[1]["data"]["to"], engineer["id"]);
    assert_eq!(entries[1]["data"]["to_name"], "Zhang Wei");
    assert_eq!(entries[2]["actor"]["name"], "Zhang Wei");
    assert_eq!(
        entries[3]["data"],
        json!({ "from": "in_progress", "to": "waiting_on_customer", "reason": "need the gateway logs" })
    );
    assert_eq!(entries[7]["data"]["visibility"], "internal");
    assert_eq!(entries[8]["data"]["to"], "closed");
    assert!(entries.iter().all(|e| e["at"].is_string() && e["actor"]["kind"] == "staff"));

    let comments = app.get(&format!("/api/v1/tickets/{id}/comments"), &tam_token).await.expect(200);
    let bodies: Vec<&str> = comments["items"].as_array().unwrap().iter().map(|c| c["body"].as_str().unwrap()).collect();
    assert_eq!(bodies, ["Logs attached to ZD-881.", "Customer is sensitive about downtime."]);

    // A second, still-open ticket; the Service Desk view shows both and everyone involved.
    let second = app.ticket(&eng_token, &org, "VPN to plant network flaps").await;
    let desk = app.get(&format!("/api/v1/orgs/{}/desk", org["id"].as_str().unwrap()), &eng_token).await.expect(200);
    assert_eq!(desk["org"]["name"], "Acme Manufacturing");
    assert_eq!(
        desk["counts"],
        json!({ "open": 1, "in_progress": 0, "waiting_on_customer": 0, "resolved": 0, "closed": 1 })
    );
    let active: Vec<&str> =
        desk["active_tickets"].as_array().unwrap().iter().map(|t| t["id"].as_str().unwrap()).collect();
    assert_eq!(active, [second["id"].as_str().unwrap()]);
    let colleagues: Vec<&str> =
        desk["participants"]["colleagues"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    let team: Vec<&str> =
        desk["participants"]["service_team"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(colleagues, ["Chen Jing"]);
    assert_eq!(team, ["Li Na", "Zhang Wei"]);

    // Reopening brings the closed ticket back and clears its resolution.
    let reopened = app
        .post(&format!("/api/v1/tickets/{id}/transition"), &tam_token, json!({ "to": "open", "reason": "recurred" }))
        .await
        .expect(200);
    assert_eq!(reopened["status"], "open");
    assert!(reopened["resolved_at"].is_null() && reopened["closed_at"].is_null());

    // Editing severity is recorded too; an edit that changes nothing records nothing.
    app.patch(&format!("/api/v1/tickets/{id}"), &tam_token, json!({ "severity": "P1" })).await.expect(200);
    app.patch(&format!("/api/v1/tickets/{id}"), &tam_token, json!({ "severity": "P1" })).await.expect(200);
    let timeline = app.walk(&format!("/api/v1/tickets/{id}/timeline?limit=3")).await;
    let last: Vec<&str> = timeline.iter().rev().take(2).map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(last, ["severity_changed", "status_changed"]);
    assert_eq!(timeline.len(), 11);
}
