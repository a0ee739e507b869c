//! Bad input of every kind gets a clear 4xx naming the field, and changes nothing.

use reqwest::Method;
use serde_json::json;

use crate::on_both_databases;
use crate::support::{Db, TestApp};

on_both_databases!(bad_bodies_are_refused_and_write_nothing, conflicts_and_broken_references_write_nothing);

async fn bad_bodies_are_refused_and_write_nothing(db: Db) {
    let app = TestApp::spawn(db).await;
    let org = app.org("Umbrella").await;
    let ticket = app.ticket(&app.admin, &org, "first").await;
    let tid = ticket["id"].as_str().unwrap();
    let before = app.counts().await;
    let timeline_before = app.walk(&format!("/api/v1/tickets/{tid}/timeline")).await;
    let a = &app.admin;

    // Malformed JSON.
    let p = app.call_raw(Method::POST, "/api/v1/tickets", a, "application/json", br#"{"org_id": "#.to_vec()).await;
    p.expect_problem(400, "malformed_json");
    let p = app
        .call_raw(Method::POST, &format!("/api/v1/tickets/{tid}/comments"), a, "application/json", b"not json".to_vec())
        .await;
    p.expect_problem(400, "malformed_json");

    // Unknown field, wrong type, missing field: each names the field.
    for (body, field) in [
        (json!({ "org_id": org["id"], "title": "x", "colour": "red" }), "colour"),
        (json!({ "org_id": org["id"], "title": 42 }), "title"),
        (json!({ "org_id": "not-a-uuid", "title": "x" }), "org_id"),
        (json!({ "org_id": org["id"] }), "title"),
        (
            json!({ "org_id": org["id"], "title": "x", "external_refs": [{ "system": "jira", "external_id": 7 }] }),
            "external_refs[0].external_id",
        ),
        (json!([1, 2, 3]), ""),
    ] {
        let problem = app.post("/api/v1/tickets", a, body.clone()).await.expect_problem(422, "invalid_body");
        assert_eq!(problem["errors"][0]["field"], field, "{body}: {problem:#}");
    }

    // Well-formed but invalid values: every problem reported at once.
    let problem = app
        .post(
            "/api/v1/tickets",
            a,
            json!({ "org_id": org["id"], "title": "   ", "severity": "P9", "description": "d".repeat(20_001) }),
        )
        .await
        .expect_problem(422, "validation_failed");
    let fields: Vec<&str> =
        problem["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["title", "description", "severity"]);
    app.post("/api/v1/people", a, json!({ "kind": "staff", "role": "janitor", "name": "X", "email": "not-an-email" }))
        .await
        .expect_problem(422, "validation_failed");
    app.patch(&format!("/api/v1/tickets/{tid}"), a, json!({})).await.expect_problem(422, "validation_failed");
    app.post(&format!("/api/v1/tickets/{tid}/comments"), a, json!({ "body": "  " }))
        .await
        .expect_problem(422, "validation_failed");
    app.post(&format!("/api/v1/tickets/{tid}/assign"), a, json!({})).await.expect_problem(422, "validation_failed");

    // Oversize bodies are refused before they are read in full.
    let huge = json!({ "org_id": org["id"], "title": "big", "description": "x".repeat(300 * 1024) });
    app.post("/api/v1/tickets", a, huge).await.expect_problem(413, "payload_too_large");

    // Not JSON at all.
    app.call_raw(Method::POST, "/api/v1/orgs", a, "text/plain", b"name=Evil".to_vec())
        .await
        .expect_problem(415, "unsupported_media_type");

    // Bad query strings and paths.
    app.get("/api/v1/tickets?colour=red", a).await.expect_problem(400, "invalid_query");
    let p = app.get("/api/v1/tickets?limit=0", a).await.expect_problem(400, "invalid_query");
    assert_eq!(p["errors"][0]["field"], "limit");
    app.get("/api/v1/tickets?limit=201", a).await.expect_problem(400, "invalid_query");
    app.get("/api/v1/tickets?limit=ten", a).await.expect_problem(400, "invalid_query");
    app.get("/api/v1/tickets?status=open,finished", a).await.expect_problem(400, "invalid_query");
    app.get("/api/v1/tickets?updated_since=yesterday", a).await.expect_problem(400, "invalid_query");
    app.get("/api/v1/tickets?cursor=garbage", a).await.expect_problem(400, "invalid_query");
    let org_cursor = {
        app.org("Second").await;
        let page = app.get("/api/v1/orgs?limit=1", a).await.expect(200);
        page["next_cursor"].as_str().unwrap().to_owned()
    };
    let p = app.get(&format!("/api/v1/tickets?cursor={org_cursor}"), a).await.expect_problem(400, "invalid_query");
    assert_eq!(p["errors"][0]["field"], "cursor");
    // A well-formed cursor for the `updated` order that lacks its time: forged, so a 400.
    let forged = {
        use base64::Engine as _;
        let json = format!(r#"{{"s":"tickets:updated","id":"{}"}}"#, uuid::Uuid::nil());
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
    };
    let p = app
        .get(&format!("/api/v1/tickets?order=updated&cursor={forged}"), a)
        .await
        .expect_problem(400, "invalid_query");
    assert_eq!(p["errors"][0]["field"], "cursor");
    app.get("/api/v1/tickets/not-a-uuid", a).await.expect_problem(404, "not_found");
    app.get(&format!("/api/v1/tickets/{}", uuid::Uuid::nil()), a).await.expect_problem(404, "ticket_not_found");
    app.post(&format!("/api/v1/tickets/{}/comments", uuid::Uuid::nil()), a, json!({ "body": "hello?" }))
        .await
        .expect_problem(404, "ticket_not_found");
    app.get("/api/v1/nothing-here", a).await.expect_problem(404, "route_not_found");

    let mut after = app.counts().await;
    after["orgs"] = json!(after["orgs"].as_u64().unwrap() - 1); // "Second", made on purpose
    assert_eq!(after, before);
    assert_eq!(app.walk(&format!("/api/v1/tickets/{tid}/timeline")).await, timeline_before);
    assert_eq!(app.get(&format!("/api/v1/tickets/{tid}"), a).await.expect(200), ticket);
}

async fn conflicts_and_broken_references_write_nothing(db: Db) {
    let app = TestApp::spawn(db).await;
    let a = &app.admin;
    let org = app.post("/api/v1/orgs", a, json!({ "name": "Hooli", "lark_tenant_key": "tk_hooli" })).await.expect(201);
    let other_org = app.org("Pied Piper").await;
    let outsider = app.customer(&other_org, "Richard").await;
    let customer = app.customer(&org, "Gavin").await;
    app.post(
        "/api/v1/people",
        a,
        json!({ "kind": "customer", "org_id": org["id"], "name": "Bound", "lark_open_id": "ou_1" }),
    )
    .await
    .expect(201);
    app.post("/api/v1/tickets", a, json!({ "org_id": org["id"], "title": "linked", "external_refs": [{ "system": "jira", "external_id": "HOO-1" }] }))
        .await
        .expect(201);
    let before = app.counts().await;

    app.post("/api/v1/orgs", a, json!({ "name": "Hooli again", "lark_tenant_key": "tk_hooli" }))
        .await
        .expect_problem(409, "lark_tenant_key_taken");
    app.post(
        "/api/v1/people",
        a,
        json!({ "kind": "customer", "org_id": org["id"], "name": "Twin", "lark_open_id": "ou_1" }),
    )
    .await
    .expect_problem(409, "lark_open_id_taken");
    // The ticket insert succeeds inside the transaction, the reference fails: all rolled back.
    app.post(
        "/api/v1/tickets",
        a,
        json!({ "org_id": org["id"], "title": "dup", "external_refs": [{ "system": "jira", "external_id": "HOO-1" }] }),
    )
    .await
    .expect_problem(409, "external_ref_taken");
    let p = app
        .post("/api/v1/tickets", a, json!({ "org_id": org["id"], "title": "x", "requester_id": outsider["id"] }))
        .await
        .expect_problem(422, "validation_failed");
    assert_eq!(p["errors"][0]["field"], "requester_id");
    let p = app
        .post("/api/v1/tickets", a, json!({ "org_id": org["id"], "title": "x", "assignee_id": customer["id"] }))
        .await
        .expect_problem(422, "validation_failed");
    assert_eq!(p["errors"][0]["field"], "assignee_id");
    let p = app
        .post("/api/v1/tickets", a, json!({ "org_id": uuid::Uuid::nil(), "title": "x" }))
        .await
        .expect_problem(422, "validation_failed");
    assert_eq!(p["errors"][0]["field"], "org_id");
    let p = app
        .post("/api/v1/people", a, json!({ "kind": "customer", "org_id": uuid::Uuid::nil(), "name": "Ghost" }))
        .await
        .expect_problem(422, "validation_failed");
    assert_eq!(p["errors"][0]["field"], "org_id");

    assert_eq!(app.counts().await, before);
    // The next ticket still gets the next number: the rolled-back one left no gap.
    let next = app.ticket(a, &org, "after the failures").await;
    assert_eq!(next["number"], 2);
}

on_both_databases!(concurrent_creates_get_gap_free_numbers_and_only_the_bad_one_fails);

async fn concurrent_creates_get_gap_free_numbers_and_only_the_bad_one_fails(db: Db) {
    let app = TestApp::spawn(db).await;
    let org = app.org("Massive Dynamic").await;
    app.post("/api/v1/tickets", &app.admin, json!({ "org_id": org["id"], "title": "first", "external_refs": [{ "system": "jira", "external_id": "MD-1" }] }))
        .await
        .expect(201);
    // Forty creates at once (the writer takes them in batches); one repeats MD-1.
    let replies = futures_util::future::join_all((0..40).map(|i| {
        let refs = if i == 17 { json!([{ "system": "jira", "external_id": "MD-1" }]) } else { json!([]) };
        app.post(
            "/api/v1/tickets",
            &app.admin,
            json!({ "org_id": org["id"], "title": format!("burst {i}"), "external_refs": refs }),
        )
    }))
    .await;
    let mut numbers = Vec::new();
    for (i, reply) in replies.into_iter().enumerate() {
        if i == 17 {
            reply.expect_problem(409, "external_ref_taken");
        } else {
            let ticket = reply.expect(201);
            assert_eq!(ticket["title"], format!("burst {i}"));
            numbers.push(ticket["number"].as_i64().unwrap());
        }
    }
    numbers.sort_unstable();
    assert_eq!(numbers, (2..=40).collect::<Vec<i64>>(), "numbers are unique and leave no gap");
    let stored = app.walk(&format!("/api/v1/tickets?org_id={}", org["id"].as_str().unwrap())).await;
    assert_eq!(stored.len(), 40);
    for ticket in stored.iter().filter(|t| t["title"] != "first") {
        let timeline = app.walk(&format!("/api/v1/tickets/{}/timeline", ticket["id"].as_str().unwrap())).await;
        assert_eq!(timeline.len(), 1, "each ticket has exactly its own created entry");
        assert_eq!(timeline[0]["data"]["title"], ticket["title"]);
    }
}
