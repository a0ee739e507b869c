//! Notification preferences on people: language, time zone and quiet hours are kept, can be
//! changed and cleared, and bad values are refused by name without changing anything.

use serde_json::{Value, json};

use crate::on_both_databases;
use crate::support::{Db, TestApp};

on_both_databases!(
    preferences_are_kept_and_default_sensibly,
    preferences_can_be_changed_and_quiet_hours_cleared,
    bad_preferences_are_named_and_change_nothing,
);

/// The person's path.
fn path(person: &Value) -> String {
    format!("/api/v1/people/{}", person["id"].as_str().unwrap())
}

async fn preferences_are_kept_and_default_sensibly(db: Db) {
    let app = TestApp::spawn(db).await;
    let org = app.org("Initech").await;

    let created = app
        .post(
            "/api/v1/people",
            &app.admin,
            json!({
                "kind": "customer", "org_id": org["id"], "name": "Li Lei",
                "locale": "zh-CN", "time_zone": "Asia/Shanghai",
                "quiet_hours": { "start": "22:00", "end": "07:00" }
            }),
        )
        .await
        .expect(201);
    // A region is read by its language; the stored form is the bare language.
    assert_eq!(created["locale"], "zh");
    assert_eq!(created["time_zone"], "Asia/Shanghai");
    assert_eq!(created["quiet_hours"], json!({ "start": "22:00", "end": "07:00" }));
    assert_eq!(app.get(&path(&created), &app.admin).await.expect(200), created);

    // Someone who said nothing: English, UTC, never held.
    let plain = app.staff("Wang Fang", "tam").await;
    assert_eq!(plain["locale"], "en");
    assert_eq!(plain["time_zone"], "UTC");
    assert_eq!(plain["quiet_hours"], Value::Null);
    let listed = app.walk("/api/v1/people").await;
    assert_eq!(listed, [created, plain]);
}

async fn preferences_can_be_changed_and_quiet_hours_cleared(db: Db) {
    let app = TestApp::spawn(db).await;
    let a = &app.admin;
    let person = app.staff("Han Meimei", "engineer").await;
    let at = path(&person);

    // Preferences alone make a patch; what is not named stays as it was.
    let changed = app.patch(&at, a, json!({ "time_zone": "Europe/London" })).await.expect(200);
    assert_eq!(changed["time_zone"], "Europe/London");
    assert_eq!(changed["locale"], "en");
    assert_eq!(changed["name"], "Han Meimei");

    let changed = app
        .patch(&at, a, json!({ "locale": "zh", "quiet_hours": { "start": "12:30", "end": "13:30" } }))
        .await
        .expect(200);
    assert_eq!(changed["locale"], "zh");
    assert_eq!(changed["time_zone"], "Europe/London");
    assert_eq!(changed["quiet_hours"], json!({ "start": "12:30", "end": "13:30" }));
    assert_eq!(app.get(&at, a).await.expect(200), changed);

    // Leaving quiet_hours out keeps them; null clears them.
    let renamed = app.patch(&at, a, json!({ "name": "Han M." })).await.expect(200);
    assert_eq!(renamed["quiet_hours"], changed["quiet_hours"]);
    let cleared = app.patch(&at, a, json!({ "quiet_hours": null })).await.expect(200);
    assert_eq!(cleared["quiet_hours"], Value::Null);
    assert_eq!(cleared["locale"], "zh");
    assert_eq!(cleared["time_zone"], "Europe/London");
    assert_eq!(app.get(&at, a).await.expect(200), cleared);
}

async fn bad_preferences_are_named_and_change_nothing(db: Db) {
    let app = TestApp::spawn(db).await;
    let a = &app.admin;
    let org = app.org("Globex").await;
    let person = app
        .post(
            "/api/v1/people",
            a,
            json!({
                "kind": "customer", "org_id": org["id"], "name": "Hank",
                "time_zone": "Asia/Shanghai", "quiet_hours": { "start": "22:00", "end": "07:00" }
            }),
        )
        .await
        .expect(201);
    let at = path(&person);
    let before = app.counts().await;

    let quiet = |start: &str, end: &str| json!({ "quiet_hours": { "start": start, "end": end } });
    for (change, code, field) in [
        (json!({ "time_zone": "Mars/Olympus" }), "validation_failed", "time_zone"),
        (json!({ "time_zone": "+08:00" }), "validation_failed", "time_zone"),
        (json!({ "locale": "fr" }), "validation_failed", "locale"),
        (quiet("10pm", "07:00"), "validation_failed", "quiet_hours.start"),
        (quiet("22:00", "24:00"), "validation_failed", "quiet_hours.end"),
        (quiet("08:00", "08:00"), "validation_failed", "quiet_hours"),
        (json!({ "quiet_hours": { "start": "22:00" } }), "invalid_body", "quiet_hours.end"),
    ] {
        // As a change to the person...
        let problem = app.patch(&at, a, change.clone()).await.expect_problem(422, code);
        assert_eq!(problem["errors"][0]["field"], field, "PATCH {change}: {problem:#}");
        // ...and as part of a new one.
        let mut new = json!({ "kind": "customer", "org_id": org["id"], "name": "Twin" });
        new.as_object_mut().unwrap().extend(change.as_object().unwrap().clone());
        let problem = app.post("/api/v1/people", a, new).await.expect_problem(422, code);
        assert_eq!(problem["errors"][0]["field"], field, "POST {change}: {problem:#}");
    }

    // Every bad value is named at once, and a good change beside them is not applied.
    let problem = app
        .patch(
            &at,
            a,
            json!({ "name": "Renamed", "time_zone": "Nowhere", "quiet_hours": { "start": "7", "end": "25:00" } }),
        )
        .await
        .expect_problem(422, "validation_failed");
    let fields: Vec<&str> =
        problem["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["time_zone", "quiet_hours.start", "quiet_hours.end"]);

    assert_eq!(app.get(&at, a).await.expect(200), person);
    assert_eq!(app.counts().await, before);
}
