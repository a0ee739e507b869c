//! On-call schedules, calendars and escalation policies over REST; who is on call now or
//! at a time; the dry run of escalation.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use reqwest::Method;
use serde_json::{Value, json};

use crate::on_both_databases;
use crate::paging::{crew, put};
use crate::support::lark::LarkDesk;
use crate::support::{Db, TestApp, settings_for};

on_both_databases!(
    a_rotation_hands_off_at_a_time_zone_boundary_to_the_right_person,
    schedules_calendars_and_policies_are_managed_over_rest,
    the_dry_run_says_who_is_told_when_and_what_it_costs,
);

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn id(v: &Value) -> &str {
    v["id"].as_str().unwrap()
}

async fn manual(db: Db) -> TestApp {
    let clock = Arc::new(desk_store::ManualClock::new(at("2026-11-21T09:00:00Z")));
    Box::pin(TestApp::spawn_manual(settings_for(db), clock)).await
}

async fn on_call_at(app: &TestApp, schedule: &Value, when: &str) -> Value {
    app.get(&format!("/api/v1/oncall/schedules/{}/on-call?at={when}", id(schedule)), &app.admin).await.expect(200)
}

fn who(answer: &Value) -> Option<&str> {
    answer["person"]["name"].as_str()
}

/// A daily rotation handing off at 09:00 in Shanghai changes hands at 01:00 UTC, and the
/// local date turning over before that changes nothing; a weekly rotation handing off at
/// 09:00 in London does so at 09:00 UTC in winter and 08:00 UTC in summer; an override
/// wins while it lasts.
async fn a_rotation_hands_off_at_a_time_zone_boundary_to_the_right_person(db: Db) {
    let app = manual(db).await;
    let ann = app.staff("Ann", "engineer").await;
    let bo = app.staff("Bo", "engineer").await;
    let cy = app.staff("Cy", "engineer").await;
    let shanghai = app
        .post(
            "/api/v1/oncall/schedules",
            &app.admin,
            json!({ "name": "Shanghai primary", "rotations": [{ "people": [ann["id"], bo["id"], cy["id"]],
                    "shift": "1d", "handoff": "09:00", "start_date": "2026-11-16", "time_zone": "Asia/Shanghai" }] }),
        )
        .await
        .expect(201);
    assert_eq!(shanghai["rotations"][0]["shift"], "1d");

    let before = on_call_at(&app, &shanghai, "2026-11-17T00:59:59Z").await;
    assert_eq!(who(&before), Some("Ann"), "08:59:59 in Shanghai: still Monday's turn");
    assert_eq!((before["source"].as_str(), before["rotation"].as_u64()), (Some("rotation"), Some(0)));
    assert_eq!(
        (before["since"].as_str(), before["until"].as_str()),
        (Some("2026-11-16T01:00:00Z"), Some("2026-11-17T01:00:00Z"))
    );
    assert_eq!(who(&on_call_at(&app, &shanghai, "2026-11-17T01:00:00Z").await), Some("Bo"), "09:00 in Shanghai");
    // 23:30 UTC on the 17th is 07:30 on the 18th in Shanghai: the date turned, the turn did not.
    assert_eq!(who(&on_call_at(&app, &shanghai, "2026-11-17T23:30:00Z").await), Some("Bo"));
    assert_eq!(who(&on_call_at(&app, &shanghai, "2026-11-18T01:00:00Z").await), Some("Cy"));
    assert!(on_call_at(&app, &shanghai, "2026-11-16T00:00:00Z").await["person"].is_null(), "before the first turn");

    let london = app
        .post(
            "/api/v1/oncall/schedules",
            &app.admin,
            json!({ "name": "London weekly", "rotations": [{ "people": [ann["id"], bo["id"]], "shift": "7d",
                    "handoff": "09:00", "start_date": "2026-03-23", "time_zone": "Europe/London" }] }),
        )
        .await
        .expect(201);
    assert_eq!(who(&on_call_at(&app, &london, "2026-03-23T09:00:00Z").await), Some("Ann"), "09:00 GMT");
    assert_eq!(who(&on_call_at(&app, &london, "2026-03-30T07:59:59Z").await), Some("Ann"));
    assert_eq!(who(&on_call_at(&app, &london, "2026-03-30T08:00:00Z").await), Some("Bo"), "09:00 BST is 08:00 UTC");

    // Cy covers four hours of Bo's turn.
    let cover = app
        .post(
            &format!("/api/v1/oncall/schedules/{}/overrides", id(&shanghai)),
            &app.admin,
            json!({ "person_id": cy["id"], "starts_at": "2026-11-17T02:00:00Z", "ends_at": "2026-11-17T06:00:00Z",
                    "note": "Bo at the dentist" }),
        )
        .await
        .expect(201);
    let covered = on_call_at(&app, &shanghai, "2026-11-17T03:00:00Z").await;
    assert_eq!((who(&covered), covered["source"].as_str()), (Some("Cy"), Some("override")));
    assert_eq!(covered["override_id"], cover["id"]);
    assert_eq!(who(&on_call_at(&app, &shanghai, "2026-11-17T06:00:00Z").await), Some("Bo"), "the override ended");
    let everywhere = app.get("/api/v1/oncall?at=2026-11-17T03:00:00Z", &app.admin).await.expect(200);
    let names: Vec<(&str, Option<&str>)> = everywhere["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["schedule_name"].as_str().unwrap(), who(i)))
        .collect();
    // London: the 35th weekly turn since 23 March, Ann's.
    assert_eq!(names, [("London weekly", Some("Ann")), ("Shanghai primary", Some("Cy"))]);
    let listed = app
        .get(&format!("/api/v1/oncall/schedules/{}/overrides?from=2026-11-17T00:00:00Z", id(&shanghai)), &app.admin)
        .await
        .expect(200);
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    app.call(
        Method::DELETE,
        &format!("/api/v1/oncall/schedules/{}/overrides/{}", id(&shanghai), id(&cover)),
        Some(&app.admin),
        None,
    )
    .await
    .expect(204);
    assert_eq!(who(&on_call_at(&app, &shanghai, "2026-11-17T03:00:00Z").await), Some("Bo"));
    // Now, by the server's clock: Saturday 21 November, 17:00 in Shanghai, the sixth turn.
    let now = app.get(&format!("/api/v1/oncall/schedules/{}/on-call", id(&shanghai)), &app.admin).await.expect(200);
    assert_eq!((now["at"].as_str(), who(&now)), (Some("2026-11-21T09:00:00Z"), Some("Cy")));
}

/// The resources escalation rests on, with their errors.
async fn schedules_calendars_and_policies_are_managed_over_rest(db: Db) {
    let app = manual(db).await;
    let ann = app.staff("Ann", "engineer").await;
    let customer_org = app.org("Acme").await;
    let customer = app.customer(&customer_org, "Chen Jing").await;
    let engineer_token = app.token_for(&ann).await;

    // Schedules: bad input names every field; only staff rotate; engineers read, not write.
    let bad = app
        .post(
            "/api/v1/oncall/schedules",
            &app.admin,
            json!({ "name": "", "rotations": [{ "people": [], "shift": "90m", "handoff": "9am", "start_date": "soon",
                    "time_zone": "Moon/Base" }] }),
        )
        .await
        .expect_problem(422, "validation_failed");
    let fields: Vec<&str> = bad["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(
        fields,
        [
            "name",
            "rotations[0].people",
            "rotations[0].shift",
            "rotations[0].handoff",
            "rotations[0].start_date",
            "rotations[0].time_zone"
        ]
    );
    let rotation = |people: Value| {
        json!({ "name": "Primary", "rotations": [{ "people": people, "shift": "12h", "handoff": "08:00",
                "start_date": "2026-11-16", "time_zone": "UTC" }] })
    };
    let problem = app
        .post("/api/v1/oncall/schedules", &app.admin, rotation(json!([customer["id"]])))
        .await
        .expect_problem(422, "validation_failed");
    assert_eq!(problem["errors"][0]["field"], "rotations[0].people[0]");
    app.post("/api/v1/oncall/schedules", &engineer_token, rotation(json!([ann["id"]])))
        .await
        .expect_problem(403, "forbidden");
    let schedule = app.post("/api/v1/oncall/schedules", &app.admin, rotation(json!([ann["id"]]))).await.expect(201);
    app.post("/api/v1/oncall/schedules", &app.admin, rotation(json!([ann["id"]])))
        .await
        .expect_problem(409, "schedule_name_taken");
    assert_eq!(app.walk("/api/v1/oncall/schedules").await.len(), 1);
    app.get(&format!("/api/v1/oncall/schedules/{}", id(&schedule)), &engineer_token).await.expect(200);
    let renamed = app
        .put(
            &format!("/api/v1/oncall/schedules/{}", id(&schedule)),
            &app.admin,
            json!({ "name": "Primary (APAC)", "rotations": [{ "people": [ann["id"]], "shift": "7d", "handoff": "09:00",
                          "start_date": "2026-11-16", "time_zone": "Asia/Singapore" }] }),
        )
        .await
        .expect(200);
    assert_eq!(
        (renamed["name"].as_str(), renamed["rotations"][0]["shift"].as_str()),
        (Some("Primary (APAC)"), Some("7d"))
    );
    let nil = uuid::Uuid::nil();
    app.get(&format!("/api/v1/oncall/schedules/{nil}"), &app.admin).await.expect_problem(404, "schedule_not_found");
    app.get("/api/v1/oncall?at=tomorrow", &app.admin).await.expect_problem(400, "invalid_query");
    // Engineers may swap shifts; an override ends after it starts.
    let problem = app
        .post(
            &format!("/api/v1/oncall/schedules/{}/overrides", id(&schedule)),
            &engineer_token,
            json!({ "person_id": ann["id"], "starts_at": "2026-11-22T00:00:00Z", "ends_at": "2026-11-21T00:00:00Z" }),
        )
        .await
        .expect_problem(422, "validation_failed");
    assert_eq!(problem["errors"][0]["field"], "ends_at");
    app.call(
        Method::DELETE,
        &format!("/api/v1/oncall/schedules/{}/overrides/{nil}", id(&schedule)),
        Some(&app.admin),
        None,
    )
    .await
    .expect_problem(404, "override_not_found");

    // Calendars.
    let bad = app
        .post(
            "/api/v1/calendars",
            &app.admin,
            json!({ "name": "China", "time_zone": "Asia/Shanghai", "hours": { "mon": [{ "start": "9:00", "end": "18:00" }] },
                    "holidays": ["2026-10-01"], "workdays": ["2026-10-01"] }),
        )
        .await
        .expect_problem(422, "validation_failed");
    let fields: Vec<&str> = bad["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["hours.mon[0]", "workdays[0]"]);
    let week = json!({ "mon": [{ "start": "09:00", "end": "18:00" }], "tue": [{ "start": "09:00", "end": "18:00" }] });
    let calendar = app
        .post(
            "/api/v1/calendars",
            &app.admin,
            json!({ "name": "China", "time_zone": "Asia/Shanghai", "hours": week, "holidays": ["2026-10-01"],
                    "workdays": ["2026-10-10"] }),
        )
        .await
        .expect(201);
    assert_eq!(calendar["hours"]["tue"], json!([{ "start": "09:00", "end": "18:00" }]));
    assert_eq!(
        (calendar["holidays"][0].as_str(), calendar["workdays"][0].as_str()),
        (Some("2026-10-01"), Some("2026-10-10"))
    );
    app.get(&format!("/api/v1/calendars/{nil}"), &app.admin).await.expect_problem(404, "calendar_not_found");

    // Policies: a plan's layer, an organisation's layer on top; what they name must exist.
    let plan = app.get("/api/v1/escalation/policies/premium", &app.admin).await.expect(200);
    assert_eq!(plan["scope"], "plan:premium");
    assert_eq!(plan["layer"], json!({}));
    assert_eq!(plan["effective"]["levels"][2]["name"], "tam_lead");
    assert_eq!(
        plan["effective"]["targets"]["P1"],
        json!({ "first_response": "30m", "update": "1h", "resolution": "8h", "around_the_clock": true })
    );
    app.get("/api/v1/escalation/policies/platinum", &app.admin).await.expect_problem(404, "not_found");
    let changed = put(
        &app,
        "/api/v1/escalation/policies/premium",
        json!({ "warn_at_percent": 75, "calendar_id": calendar["id"] }),
    )
    .await
    .expect(200);
    assert_eq!(changed["effective"]["warn_at_percent"], 75);
    let org_policy =
        app.get(&format!("/api/v1/orgs/{}/escalation-policy", id(&customer_org)), &app.admin).await.expect(200);
    assert_eq!(org_policy["effective"]["calendar_id"], calendar["id"], "the organisation inherits its plan's layer");
    let bad = put(
        &app,
        &format!("/api/v1/orgs/{}/escalation-policy", id(&customer_org)),
        json!({ "levels": [{ "name": "Engineer" }], "targets": { "P2": { "first_response": "soon", "update": "1h", "resolution": "1d" } },
                "paging": { "chain": [{ "role": "boss" }] } }),
    )
    .await
    .expect_problem(422, "validation_failed");
    let fields: Vec<&str> = bad["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["levels[0].name", "targets.P2.first_response", "paging.chain[0].role"]);
    put(&app, &format!("/api/v1/orgs/{}/escalation-policy", id(&customer_org)), json!({ "colour": "red" }))
        .await
        .expect_problem(422, "invalid_body");
    put(&app, &format!("/api/v1/orgs/{}/escalation-policy", id(&customer_org)), json!({ "calendar_id": nil }))
        .await
        .expect_problem(422, "validation_failed");
    put(
        &app,
        &format!("/api/v1/orgs/{}/escalation-policy", id(&customer_org)),
        json!({ "paging": { "chain": [{ "schedule_id": schedule["id"] }, { "role": "tam" }] } }),
    )
    .await
    .expect(200);
    app.put(&format!("/api/v1/orgs/{}/escalation-policy", id(&customer_org)), &engineer_token, json!({}))
        .await
        .expect_problem(403, "forbidden");
    app.get(&format!("/api/v1/orgs/{nil}/escalation-policy"), &app.admin).await.expect_problem(404, "org_not_found");

    // What a policy uses cannot be deleted from under it.
    app.call(Method::DELETE, &format!("/api/v1/calendars/{}", id(&calendar)), Some(&app.admin), None)
        .await
        .expect_problem(409, "calendar_in_use");
    app.call(Method::DELETE, &format!("/api/v1/oncall/schedules/{}", id(&schedule)), Some(&app.admin), None)
        .await
        .expect_problem(409, "schedule_in_use");
    app.call(Method::DELETE, "/api/v1/escalation/policies/premium", Some(&app.admin), None).await.expect(200);
    app.call(Method::DELETE, &format!("/api/v1/orgs/{}/escalation-policy", id(&customer_org)), Some(&app.admin), None)
        .await
        .expect(200);
    app.call(Method::DELETE, &format!("/api/v1/calendars/{}", id(&calendar)), Some(&app.admin), None).await.expect(204);
    app.call(Method::DELETE, &format!("/api/v1/oncall/schedules/{}", id(&schedule)), Some(&app.admin), None)
        .await
        .expect(204);
    assert!(app.walk("/api/v1/calendars").await.is_empty());
}

/// The dry run of a P1 emergency in Acme on Monday morning: the emergency card in the
/// main group, the pages to whoever is on call then the lead, the response targets, and
/// what it all costs; with quiet hours holding a warning (not a page) and nobody on the
/// desk told anything for real.
async fn the_dry_run_says_who_is_told_when_and_what_it_costs(db: Db) {
    let desk = Box::pin(LarkDesk::spawn(db, 4, 10_000)).await;
    let crew = crew(&desk).await;
    let app = &desk.app;
    // The TAM sleeps 00:00–08:00 UTC.
    let tam = app.get(&format!("/api/v1/orgs/{}", id(&crew.org)), &app.admin).await.expect(200)["tam_id"].clone();
    app.patch(
        &format!("/api/v1/people/{}", tam.as_str().unwrap()),
        &app.admin,
        json!({ "quiet_hours": { "start": "00:00", "end": "08:00" } }),
    )
    .await
    .expect(200);
    let counts = app.counts().await;

    let dry = app
        .post(
            "/api/v1/escalation/simulate",
            &app.admin,
            json!({ "org_id": crew.org["id"], "severity": "P1", "emergency": true, "at": "2026-11-23T01:00:00Z", "horizon": "30m" }),
        )
        .await
        .expect(200);
    assert_eq!(
        (dry["severity"].as_str(), dry["level_name"].as_str(), dry["time_zone"].as_str()),
        (Some("P1"), Some("engineer"), Some("Asia/Shanghai"))
    );
    let first = dry["targets"].as_array().unwrap().iter().find(|t| t["target"] == "first_response").unwrap();
    assert_eq!(
        (first["due_at"].as_str(), first["around_the_clock"].as_bool()),
        (Some("2026-11-23T01:30:00Z"), Some(true))
    );
    let events = dry["events"].as_array().unwrap();
    let (engineer, lead, tam_name) = (desk.user(1).name, desk.user(2).name, desk.user(0).name);
    let pages: Vec<(&str, u64, u64, &str)> = events
        .iter()
        .filter(|e| e["kind"] == "page")
        .map(|e| {
            (
                e["at"].as_str().unwrap(),
                e["step"].as_u64().unwrap(),
                e["page"].as_u64().unwrap(),
                e["recipients"][0]["name"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        pages,
        [
            ("2026-11-23T01:00:00Z", 1, 1, engineer.as_str()),
            ("2026-11-23T01:05:00Z", 1, 2, engineer.as_str()),
            ("2026-11-23T01:10:00Z", 1, 3, engineer.as_str()),
            ("2026-11-23T01:15:00Z", 2, 1, lead.as_str()),
            ("2026-11-23T01:20:00Z", 2, 2, lead.as_str()),
            ("2026-11-23T01:25:00Z", 2, 3, lead.as_str()),
            ("2026-11-23T01:30:00Z", 2, 4, lead.as_str()),
        ]
    );
    let card = events.iter().find(|e| e["kind"] == "emergency_card").unwrap();
    let to: Vec<&str> = card["recipients"].as_array().unwrap().iter().map(|r| r["kind"].as_str().unwrap()).collect();
    assert_eq!(to, ["person", "chat"], "the TAM and the main group");
    assert_eq!(card["recipients"][0]["delivered_at"], "2026-11-23T01:00:00Z", "emergencies ignore quiet hours");
    let warning = events.iter().find(|e| e["kind"] == "response_warning" && e["target"] == "first_response").unwrap();
    assert_eq!(warning["at"], "2026-11-23T01:24:00Z");
    assert_eq!(warning["recipients"][0]["name"], tam_name.as_str());
    assert_eq!(warning["recipients"][0]["delivered_at"], "2026-11-23T08:00:00Z", "held by the TAM's quiet hours");
    let total: u64 = events.iter().map(|e| e["lark_calls"].as_u64().unwrap()).sum();
    assert_eq!(dry["lark_calls"]["total"].as_u64(), Some(total));
    assert!(dry["lark_calls"]["emergency"].as_u64().unwrap() >= 9, "{dry:#}");
    assert_eq!(
        (dry["lark_calls"]["integration_id"].as_str(), dry["lark_calls"]["budget"].as_u64()),
        (Some("default"), Some(10_000))
    );
    assert!(dry["warnings"].as_array().unwrap().is_empty(), "{dry:#}");

    // Nothing happened.
    assert_eq!(app.counts().await, counts);
    assert!(desk.notifications().await.is_empty());
    assert!(desk.cards().is_empty());

    // A real ticket: its own clocks; someone Lark cannot reach is named.
    let unbound = app.staff("Dee", "engineer").await;
    let ticket = app
        .post(
            "/api/v1/tickets",
            &app.admin,
            json!({ "org_id": crew.org["id"], "title": "Slow search", "severity": "P3", "assignee_id": unbound["id"] }),
        )
        .await
        .expect(201);
    let dry = app
        .post("/api/v1/escalation/simulate", &app.admin, json!({ "ticket_id": ticket["id"], "horizon": "7d" }))
        .await
        .expect(200);
    assert_eq!(dry["ticket_id"], ticket["id"]);
    let real = app.get(&format!("/api/v1/tickets/{}/escalation", id(&ticket)), &app.admin).await.expect(200);
    let due =
        real["targets"].as_array().unwrap().iter().find(|t| t["target"] == "first_response").unwrap()["due_at"].clone();
    let breach = dry["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "response_breach" && e["target"] == "first_response")
        .unwrap();
    assert_eq!(breach["at"], due);
    let escalation = dry["events"].as_array().unwrap().iter().find(|e| e["kind"] == "escalation").unwrap();
    assert_eq!(escalation["level"], 1);
    assert!(
        dry["warnings"].as_array().unwrap().iter().any(|w| w.as_str().unwrap().starts_with("Dee has no Lark identity")),
        "{dry:#}"
    );

    // Bad requests name what is wrong.
    app.post("/api/v1/escalation/simulate", &app.admin, json!({})).await.expect_problem(422, "validation_failed");
    app.post("/api/v1/escalation/simulate", &app.admin, json!({ "org_id": crew.org["id"], "severity": "P9" }))
        .await
        .expect_problem(422, "validation_failed");
    app.post("/api/v1/escalation/simulate", &app.admin, json!({ "ticket_id": ticket["id"], "horizon": "40d" }))
        .await
        .expect_problem(422, "validation_failed");
    app.post("/api/v1/escalation/simulate", &app.admin, json!({ "org_id": uuid::Uuid::nil(), "severity": "P1" }))
        .await
        .expect_problem(404, "org_not_found");
}
