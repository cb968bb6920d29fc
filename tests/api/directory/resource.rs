//! The employee directory: roles, lists, search, detail, admin writes.

use gatehouse::account::Role;
use reqwest::Method;
use serde_json::{Value, json};
use time::Duration;

use crate::support::{Req, TestApp};

async fn app_with_directory() -> TestApp {
    let app = TestApp::spawn().await;
    app.seed_directory().await;
    app
}

fn last_names(list: &Value) -> Vec<&str> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|e| e["lastName"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn anonymous_callers_get_401_on_every_directory_route() {
    let app = app_with_directory().await;
    let mut browser = app.browser();
    for path in [
        "/employees",
        "/employees/1",
        "/employees/1/reports",
        "/employees/search/a",
        "/employees/modifiedsince/0",
    ] {
        let reply = browser.get(path).await;
        assert_eq!(
            (reply.status, reply.code()),
            (401, "unauthenticated"),
            "{path}"
        );
    }
}

#[tokio::test]
async fn the_list_is_an_array_ordered_by_last_then_first_name_with_numbers_as_numbers() {
    let app = app_with_directory().await;
    let mut user = app.logged_in("alice", Role::User).await;
    let reply = user.get("/employees").await;
    assert_eq!(reply.status, 200);
    let names = last_names(&reply.body);
    assert_eq!(names.len(), 13);
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
    let first = &reply.body[0];
    assert!(first["id"].is_i64() && first["reportCount"].is_i64());
    assert_eq!(first.as_object().unwrap().len(), 5, "{first}");
    let head = reply
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["lastName"] == "Okafor")
        .unwrap();
    assert_eq!(head["reportCount"], 4);
}

#[tokio::test]
async fn name_filter_and_search_match_first_last_ignoring_case() {
    let app = app_with_directory().await;
    let mut user = app.logged_in("alice", Role::User).await;
    assert_eq!(
        last_names(&user.get("/employees?name=PRIYA").await.body),
        ["Raman"]
    );
    assert_eq!(
        last_names(&user.get("/employees/search/priya%20ram").await.body),
        ["Raman"]
    );
    assert_eq!(
        last_names(&user.get("/employees/search/AN").await.body),
        ["Brennan", "Castellanos", "Raman"]
    );
    assert_eq!(
        user.get("/employees/search/%25").await.body,
        json!([]),
        "LIKE wildcards are literal"
    );
    assert_eq!(user.get("/employees/search/_").await.body, json!([]));
    assert_eq!(
        user.get("/employees?name=")
            .await
            .body
            .as_array()
            .unwrap()
            .len(),
        13
    );
}

#[tokio::test]
async fn detail_has_every_documented_key_and_unknown_ids_are_404() {
    let app = app_with_directory().await;
    let mut user = app.logged_in("alice", Role::User).await;
    let list = user.get("/employees/search/yuki").await.body;
    let id = list[0]["id"].as_i64().unwrap();
    let reply = user.get(&format!("/employees/{id}")).await;
    assert_eq!(reply.status, 200);
    let keys = [
        "id",
        "firstName",
        "lastName",
        "title",
        "department",
        "officePhone",
        "cellPhone",
        "email",
        "city",
        "managerId",
        "managerFirstName",
        "managerLastName",
        "twitterId",
        "blogURL",
        "reportCount",
        "lastModified",
    ];
    let body = reply.body.as_object().unwrap();
    assert_eq!(body.len(), keys.len());
    for key in keys {
        assert!(body.contains_key(key), "{key}");
    }
    assert_eq!(reply.body["managerLastName"], "Lindqvist");
    assert!(reply.body["managerId"].is_i64());
    for path in [
        "/employees/999",
        "/employees/abc",
        "/employees/-1",
        "/employees/99999999999999999999",
    ] {
        let reply = user.get(path).await;
        assert_eq!((reply.status, reply.code()), (404, "not_found"), "{path}");
    }
}

#[tokio::test]
async fn reports_are_for_admins_only() {
    let app = app_with_directory().await;
    let mut user = app.logged_in("alice", Role::User).await;
    let head = user.get("/employees/search/okafor").await.body[0]["id"]
        .as_i64()
        .unwrap();
    let reply = user.get(&format!("/employees/{head}/reports")).await;
    assert_eq!((reply.status, reply.code()), (403, "forbidden"));
    let mut admin = app.logged_in("root", Role::Admin).await;
    let reply = admin.get(&format!("/employees/{head}/reports")).await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        last_names(&reply.body),
        ["Achebe", "Castellanos", "Lindqvist", "Raman"]
    );
    assert_eq!(admin.get("/employees/999/reports").await.status, 404);
}

#[tokio::test]
async fn modifiedsince_accepts_unix_seconds_and_rfc3339_and_sees_writes() {
    let app = app_with_directory().await;
    let mut admin = app.logged_in("root", Role::Admin).await;
    let seeded_at = gatehouse::clock::Clock::now(&*app.clock);
    let unix = seeded_at.unix_timestamp();
    assert_eq!(
        admin
            .get(&format!("/employees/modifiedsince/{}", unix - 1))
            .await
            .body
            .as_array()
            .unwrap()
            .len(),
        13
    );
    assert_eq!(
        admin
            .get(&format!("/employees/modifiedsince/{unix}"))
            .await
            .body,
        json!([])
    );
    app.clock.advance(Duration::minutes(5));
    let id = admin.get("/employees/search/arjun").await.body[0]["id"]
        .as_i64()
        .unwrap();
    let mut detail = admin.get(&format!("/employees/{id}")).await.body;
    detail["title"] = json!("Head of Facilities");
    assert_eq!(
        admin
            .send(Req::new(Method::PUT, &format!("/employees/{id}")).json(detail))
            .await
            .status,
        200
    );
    let rfc3339 = gatehouse::clock::rfc3339(seeded_at);
    assert_eq!(
        last_names(
            &admin
                .get(&format!("/employees/modifiedsince/{rfc3339}"))
                .await
                .body
        ),
        ["Delacroix"]
    );
    for bad in ["yesterday", "2026-13-01T00:00:00Z", "1e9"] {
        let reply = admin.get(&format!("/employees/modifiedsince/{bad}")).await;
        assert_eq!(
            (reply.status, reply.code()),
            (422, "validation_failed"),
            "{bad}"
        );
    }
}

#[tokio::test]
async fn admins_create_replace_and_delete_with_validation() {
    let app = app_with_directory().await;
    let mut admin = app.logged_in("root", Role::Admin).await;
    let head = admin.get("/employees/search/okafor").await.body[0]["id"]
        .as_i64()
        .unwrap();
    let reply = admin
        .post("/employees", json!({"firstName": "Zed", "lastName": "Quinn", "managerId": head, "blogURL": "https://zed.example.com", "role": "admin"}))
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let id = reply.body["id"].as_i64().unwrap();
    assert_eq!(reply.body["managerLastName"], "Okafor");
    assert_eq!(reply.body["title"], Value::Null);

    let reply = admin
        .post("/employees", json!({"firstName": "", "email": "nope", "blogURL": "javascript:alert(1)", "twitterId": "not a handle", "officePhone": "call me"}))
        .await;
    assert_eq!((reply.status, reply.code()), (422, "validation_failed"));
    let fields = &reply.body["error"]["fields"];
    for (field, code) in [
        ("firstName", "required"),
        ("lastName", "required"),
        ("email", "invalid_email"),
        ("blogURL", "invalid_url"),
        ("twitterId", "invalid_twitter_id"),
        ("officePhone", "invalid_phone"),
    ] {
        assert_eq!(fields[field], json!([code]), "{field}: {fields}");
    }
    let reply = admin
        .post(
            "/employees",
            json!({"firstName": "A", "lastName": "B", "managerId": 999}),
        )
        .await;
    assert_eq!(
        reply.body["error"]["fields"]["managerId"],
        json!(["unknown_manager"])
    );

    // A manager cannot report to someone below them.
    let reply = admin
        .send(
            Req::new(Method::PUT, &format!("/employees/{head}"))
                .json(json!({"firstName": "M", "lastName": "O", "managerId": id})),
        )
        .await;
    assert_eq!(
        reply.body["error"]["fields"]["managerId"],
        json!(["manager_cycle"])
    );
    let reply = admin
        .send(
            Req::new(Method::PUT, &format!("/employees/{id}"))
                .json(json!({"firstName": "Zed", "lastName": "Quinn", "managerId": id})),
        )
        .await;
    assert_eq!(
        reply.body["error"]["fields"]["managerId"],
        json!(["manager_cycle"])
    );
    let reply = admin
        .send(
            Req::new(Method::PUT, "/employees/999")
                .json(json!({"firstName": "A", "lastName": "B"})),
        )
        .await;
    assert_eq!(reply.status, 404);

    assert_eq!(admin.delete(&format!("/employees/{id}")).await.status, 204);
    assert_eq!(admin.delete(&format!("/employees/{id}")).await.status, 404);
    assert_eq!(admin.get(&format!("/employees/{id}")).await.status, 404);
    assert_eq!(app.count("employees").await, 13);
}

#[tokio::test]
async fn deleting_a_manager_moves_their_reports_up() {
    let app = app_with_directory().await;
    let mut admin = app.logged_in("root", Role::Admin).await;
    let vp = admin.get("/employees/search/lindqvist").await.body[0]["id"]
        .as_i64()
        .unwrap();
    let head = admin.get("/employees/search/okafor").await.body[0]["id"]
        .as_i64()
        .unwrap();
    assert_eq!(admin.delete(&format!("/employees/{vp}")).await.status, 204);
    let reports = admin.get(&format!("/employees/{head}/reports")).await.body;
    assert_eq!(reports.as_array().unwrap().len(), 6, "{reports}");
    let yuki = admin.get("/employees/search/yuki").await.body[0]["id"]
        .as_i64()
        .unwrap();
    assert_eq!(
        admin.get(&format!("/employees/{yuki}")).await.body["managerId"],
        head
    );
}

#[tokio::test]
async fn users_cannot_write_and_writes_need_the_csrf_token() {
    let app = app_with_directory().await;
    let mut user = app.logged_in("alice", Role::User).await;
    let reply = user
        .post("/employees", json!({"firstName": "A", "lastName": "B"}))
        .await;
    assert_eq!((reply.status, reply.code()), (403, "forbidden"));
    assert_eq!(user.delete("/employees/1").await.status, 403);
    let mut admin = app.logged_in("root", Role::Admin).await;
    let token = admin.csrf.take();
    for req in [
        Req::new(Method::POST, "/employees").json(json!({"firstName": "A", "lastName": "B"})),
        Req::new(Method::PUT, "/employees/1").json(json!({"firstName": "A", "lastName": "B"})),
        Req::new(Method::DELETE, "/employees/1"),
    ] {
        let reply = admin.send(req).await;
        assert_eq!((reply.status, reply.code()), (403, "csrf_token_missing"));
    }
    admin.csrf = token;
    let reply = admin
        .send(
            Req::new(Method::POST, "/employees")
                .raw("text/plain", "{\"firstName\":\"A\",\"lastName\":\"B\"}"),
        )
        .await;
    assert_eq!(reply.status, 415);
    assert_eq!(app.count("employees").await, 13);
}

#[tokio::test]
async fn a_callback_parameter_never_turns_the_directory_into_jsonp() {
    let app = app_with_directory().await;
    let mut user = app.logged_in("alice", Role::User).await;
    let reply = user.get("/employees?callback=steal").await;
    assert_eq!(reply.header("content-type"), Some("application/json"));
    assert!(reply.body.is_array());
}
