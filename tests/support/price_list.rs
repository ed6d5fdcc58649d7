//! The AWS Price List API (`pricing:GetProducts`) on loopback, for the EKS scheduler's savings:
//! the emulator has no Price List API. It answers as the real one does (JSON 1.1,
//! `AWSPriceListService.GetProducts`): a `PriceList` of products, each a JSON string, the
//! on-demand price in the nested `terms.OnDemand` document, in the shape recorded from AWS
//! (`tests/testdata/pricing/get-products-m5.large.json`, one real answer). A type it has no
//! price for gets an empty `PriceList`, as AWS answers; `failing` answers every request with
//! an error instead.
//!
//! With `AWS_REQUEST_LOG` set, each request a function made is logged as the emulator logs its
//! own (`scripts/moto_server.py`), for the least-privilege check.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use tokio::net::TcpListener;

use crate::http_listener::{read_head_and_body, write_json};

/// The recorded answer the stand-in's products are made from.
const RECORDED: &str = include_str!("../testdata/pricing/get-products-m5.large.json");

#[derive(Debug, Clone)]
pub struct PriceListApi {
    pub url: String,
    /// The instance types asked for, in order.
    asked: Arc<Mutex<Vec<String>>>,
}

impl PriceListApi {
    /// Serves `prices` (instance type to USD an hour, for the region asked); `failing`: every
    /// request is refused with HTTP 400 `AccessDeniedException`, as AWS answers a role without
    /// `pricing:GetProducts`.
    pub async fn start(prices: &[(&str, &str)], failing: bool) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let prices: Arc<BTreeMap<String, String>> =
            Arc::new(prices.iter().map(|(t, p)| ((*t).to_owned(), (*p).to_owned())).collect());
        let asked = Arc::new(Mutex::new(Vec::new()));
        let log = asked.clone();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let (prices, log) = (prices.clone(), log.clone());
                tokio::spawn(async move {
                    let Some((head, body)) = read_head_and_body(&mut stream).await else { return };
                    let request: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
                    let field = |name: &str| {
                        request["Filters"].as_array().and_then(|filters| {
                            filters.iter().find(|f| f["Field"] == name).and_then(|f| f["Value"].as_str())
                        })
                    };
                    let instance_type = field("instanceType").unwrap_or_default().to_owned();
                    let region = field("regionCode").unwrap_or_default().to_owned();
                    log.lock().map(|mut l| l.push(instance_type.clone())).ok();
                    log_request(&head, &region);
                    let (status, answer) = if failing {
                        (
                            400,
                            json!({"__type": "AccessDeniedException", "Message": "User is not authorized to perform: pricing:GetProducts"}),
                        )
                    } else {
                        let list: Vec<String> = prices
                            .get(&instance_type)
                            .map(|usd| vec![product(&instance_type, &region, usd)])
                            .unwrap_or_default();
                        (200, json!({"FormatVersion": "aws_v1", "PriceList": list}))
                    };
                    write_json(&mut stream, status, "application/x-amz-json-1.1", &answer).await;
                });
            }
        });
        Ok(Self { url, asked })
    }

    /// The instance types asked for so far, in order.
    pub fn asked(&self) -> Vec<String> {
        self.asked.lock().map(|l| l.clone()).unwrap_or_default()
    }
}

/// The recorded product with its type, region and price replaced: a JSON string, as AWS sends each.
fn product(instance_type: &str, region: &str, usd: &str) -> String {
    let recorded: Value = serde_json::from_str(RECORDED).expect("the recorded answer is JSON");
    let entry = recorded["PriceList"][0].as_str().expect("the recorded answer has a product");
    let mut product: Value = serde_json::from_str(entry).expect("a product is JSON");
    product["product"]["attributes"]["instanceType"] = json!(instance_type);
    product["product"]["attributes"]["regionCode"] = json!(region);
    if let Some(offers) = product["terms"]["OnDemand"].as_object_mut() {
        for offer in offers.values_mut() {
            if let Some(dimensions) = offer["priceDimensions"].as_object_mut() {
                for dimension in dimensions.values_mut() {
                    dimension["pricePerUnit"]["USD"] = json!(usd);
                }
            }
        }
    }
    product.to_string()
}

/// Appends the request to `AWS_REQUEST_LOG` in the emulator's form, when a function made it.
fn log_request(head: &str, region: &str) {
    let Ok(path) = std::env::var("AWS_REQUEST_LOG") else { return };
    let header = |name: &str| {
        head.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim().eq_ignore_ascii_case(name).then(|| value.trim().to_owned())
        })
    };
    let agent =
        format!("{} {}", header("x-amz-user-agent").unwrap_or_default(), header("user-agent").unwrap_or_default());
    let Some(function) = ["eks-scheduler"].into_iter().find(|f| agent.contains(&format!("app/{f}"))) else { return };
    let line = json!({
        "function": function,
        "service": "pricing",
        "region": region,
        "account": "",
        "access_key": "AKIA",
        "method": "POST",
        "path": "/",
        "query": "",
        "target": header("x-amz-target").unwrap_or_default(),
        "body": "",
    });
    if let Ok(mut file) = std::fs::OpenOptions::new().create(true).append(true).open(path) {
        // One write of the whole line: with O_APPEND it lands whole beside the emulator's own.
        let _ = file.write_all(format!("{line}\n").as_bytes());
    }
}
