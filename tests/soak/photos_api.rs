//! The photos API's soak: a user's requests answered in process (the handler with the
//! functions' own SDK settings) while DynamoDB and S3 fail under it, Query more often. Every
//! answer must be right or an honest failure: a gallery read page by page is
//! exactly the fault-free one or stops at a 5xx; no answer ever holds another user's photo;
//! a 202 to a delete means the source is gone; a 5xx tells only the request id.

use anyhow::Result;
use aws_sdk_dynamodb::types::AttributeValue;
use lambda_runtime::{Context, LambdaEvent};
use photos_api::{Config, Deps, handle};
use serde_json::{Value, json};
use std::collections::HashMap;

use crate::{Rng, Row, plan};
use support::TestAccount;
use support::fault_proxy::FaultProxy;
use support::photos::PhotoApp;

const PASSWORD: &str = "Soak-Password-1";
const PAGE: usize = 4;

fn request(method: &str, path: &str, token: &str, query: &[(&str, &str)], body: Option<Value>) -> Value {
    let query: serde_json::Map<String, Value> = query.iter().map(|(k, v)| ((*k).to_owned(), json!(v))).collect();
    json!({
        "version": "2.0", "rawPath": path, "headers": { "authorization": format!("Bearer {token}") },
        "queryStringParameters": query, "requestContext": { "http": { "method": method }, "requestId": "soak" },
        "body": body.map(|body| body.to_string()), "isBase64Encoded": false
    })
}

async fn call(deps: &Deps, event: Value) -> Result<(u16, Value)> {
    let response = handle(deps, LambdaEvent::new(event, Context::default())).await.map_err(anyhow::Error::msg)?;
    Ok((response.status_code, serde_json::from_str(&response.body).unwrap_or(Value::Null)))
}

/// The ids of a whole gallery read page by page, or the status of the page that failed.
async fn gallery(deps: &Deps, token: &str) -> Result<Result<Vec<String>, (u16, Value)>> {
    let (mut ids, mut cursor) = (Vec::new(), None::<String>);
    let limit = PAGE.to_string();
    loop {
        let mut query = vec![("limit", limit.as_str())];
        if let Some(cursor) = cursor.as_deref() {
            query.push(("cursor", cursor));
        }
        let (status, page) = call(deps, request("GET", "/photos", token, &query, None)).await?;
        if status != 200 {
            return Ok(Err((status, page)));
        }
        ids.extend(page["photos"].as_array().into_iter().flatten().filter_map(|p| p["id"].as_str().map(str::to_owned)));
        match page["next"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return Ok(Ok(ids)),
        }
    }
}

/// A failure answer says only what the caller may know.
fn honest_failure(status: u16, body: &Value) -> Option<String> {
    let fine = (500..600).contains(&status)
        && body["request_id"].is_string()
        && body["error"].as_str().is_some_and(|error| error.starts_with("the request failed on our side"));
    (!fine).then(|| format!("answered {status} with {body}"))
}

pub async fn soak(moto: &str, seed: u64, rate: f64, requests: usize) -> Result<Row> {
    let account = TestAccount::at(moto).await;
    let s3 = account.aws.s3();
    let PhotoApp { bucket, table, dynamodb, pool } =
        PhotoApp::create(&account, moto, account.bucket("soak-photos-api")).await?;
    pool.add_user("alice", PASSWORD).await?;
    pool.add_user("bob", PASSWORD).await?;
    let alice = pool.sign_in(&pool.client_id, "alice", PASSWORD).await?;
    let bob = pool.sign_in(&pool.client_id, "bob", PASSWORD).await?;

    // Alice's photos, each a record and a source; one of bob's.
    let mut alices = Vec::new();
    for (subject, count, name) in [(&alice.subject, 14, "01KALICE"), (&bob.subject, 1, "01KBOB00")] {
        for n in 0..count {
            let id = format!("{name}{n:018}.jpg");
            let key = format!("uploads/{subject}/{id}");
            s3.put_object().bucket(&bucket).key(&key).body(b"photo".to_vec().into()).send().await?;
            let item = HashMap::from([
                ("photo_id".to_owned(), AttributeValue::S(format!("{bucket}/{key}"))),
                ("owner".to_owned(), AttributeValue::S(format!("{bucket}/uploads/{subject}/"))),
                ("key".to_owned(), AttributeValue::S(key.clone())),
                ("status".to_owned(), AttributeValue::S("ready".to_owned())),
            ]);
            dynamodb.put_item().table_name(&table).set_item(Some(item)).send().await?;
            if subject == &alice.subject {
                alices.push(id);
            }
        }
    }
    let bobs = format!("01KBOB00{:018}.jpg", 0);
    let settings = pool.api_settings(&bucket, &table);
    let config = || Config::from_env(&shared::config::Env::from_pairs(settings.iter().map(|(k, v)| (*k, v.as_str()))));
    let direct = Deps::new(config()?, &account.as_deployed(moto).await).await?;
    let mut expected =
        gallery(&direct, &alice.access).await?.map_err(|(status, body)| anyhow::anyhow!("{status}: {body}"))?;

    let proxy = FaultProxy::start(moto, plan(seed, rate, &[("dynamodb", "Query")])).await;
    let deps = Deps::new(config()?, &account.as_deployed(&proxy.url).await).await?;
    let mut rng = Rng::new(seed);
    let (mut violations, mut failed, mut deleted) = (Vec::new(), 0, 0);
    for n in 0..requests {
        match rng.below(5) {
            0 | 1 => match gallery(&deps, &alice.access).await? {
                Ok(ids) if ids != expected => {
                    violations.push(format!("request {n}: the gallery read {ids:?}, not {expected:?}"))
                }
                Ok(_) => {}
                Err((status, body)) => {
                    failed += 1;
                    violations
                        .extend(honest_failure(status, &body).map(|why| format!("request {n}: a gallery page {why}")));
                }
            },
            2 => {
                let id = &alices[usize::try_from(rng.below(alices.len() as u64))?];
                let (status, body) =
                    call(&deps, request("GET", &format!("/photos/{id}"), &alice.access, &[], None)).await?;
                let listed = expected.contains(id);
                match status {
                    200 if body["id"] == json!(id) && listed => {}
                    404 if !listed => {}
                    500..=599 => {
                        failed += 1;
                        violations
                            .extend(honest_failure(status, &body).map(|why| format!("request {n}: GET {id} {why}")));
                    }
                    _ => violations.push(format!("request {n}: GET {id} (listed: {listed}) answered {status} {body}")),
                }
            }
            3 => {
                // Bob's photo, asked for by alice: never hers to see or delete.
                let method = if rng.below(2) == 0 { "GET" } else { "DELETE" };
                let (status, body) =
                    call(&deps, request(method, &format!("/photos/{bobs}"), &alice.access, &[], None)).await?;
                if status != 404 && honest_failure(status, &body).is_some() {
                    violations.push(format!("request {n}: alice's {method} of bob's photo answered {status} {body}"));
                }
            }
            _ => {
                let Some(id) = expected.last().cloned() else { continue };
                let key = format!("uploads/{}/{id}", alice.subject);
                let (status, body) =
                    call(&deps, request("DELETE", &format!("/photos/{id}"), &alice.access, &[], None)).await?;
                let gone = s3.head_object().bucket(&bucket).key(&key).send().await.is_err();
                match status {
                    202 if gone => {
                        // The thumbnailer's delete path would file the record as deleted.
                        let update = dynamodb
                            .update_item()
                            .table_name(&table)
                            .key("photo_id", AttributeValue::S(format!("{bucket}/{key}")))
                            .update_expression("SET #status = :deleted")
                            .expression_attribute_names("#status", "status")
                            .expression_attribute_values(":deleted", AttributeValue::S("deleted".to_owned()));
                        update.send().await?;
                        expected.pop();
                        deleted += 1;
                    }
                    202 => {
                        violations.push(format!("request {n}: DELETE {id} answered 202, yet the source is still there"))
                    }
                    500..=599 => {
                        failed += 1;
                        violations
                            .extend(honest_failure(status, &body).map(|why| format!("request {n}: DELETE {id} {why}")));
                    }
                    _ => violations.push(format!("request {n}: DELETE {id} answered {status} {body}")),
                }
            }
        }
    }
    let bob_seen =
        gallery(&direct, &bob.access).await?.map_err(|(status, body)| anyhow::anyhow!("{status}: {body}"))?;
    if bob_seen != [bobs.clone()] {
        violations.push(format!("bob's gallery is {bob_seen:?} after the soak, not his one photo"));
    }
    let notes = vec![format!(
        "{} photos, pages of {PAGE}, Query failing 4.5 times as often; {failed} of {requests} requests answered 5xx, {deleted} deletes",
        alices.len()
    )];
    Ok(Row::new("photos-api", &[&proxy], requests, 0, violations, notes))
}
