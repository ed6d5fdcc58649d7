//! Instance prices for the savings estimate: the Price List API's on-demand price
//! (`pricing:GetProducts`, through the SDK) and the current spot price
//! (`ec2:DescribeSpotPriceHistory`), under the operator's `PRICE_OVERRIDES`, each asked once
//! per run.
//!
//! The spot price is one signed EC2 Query request made here rather than through
//! `aws-sdk-ec2`: that crate is the SDK's largest by far (every EC2 operation), and compiling
//! it with the release profile's single codegen unit and LTO would add minutes to every
//! build of every function for one read-only call. It is signed by the SDK's own SigV4
//! signer, with the function's credentials, as `kube_token` signs its token.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use aws_credential_types::provider::{ProvideCredentials as _, SharedCredentialsProvider};
use aws_sdk_pricing::types::{Filter, FilterType};
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use shared::error::describe;
use tokio::sync::Mutex;
use tracing::Instrument as _;

use crate::core::{self, Market, PriceBasis, Priced, Quote, StopRecord};

/// The regions the Price List API is served from; others ask the first.
const PRICING_REGIONS: [&str; 3] = ["us-east-1", "eu-central-1", "ap-south-1"];
/// The Price List API's filters for a Linux, shared-tenancy, on-demand instance with no
/// software included and no capacity reservation.
const PRODUCT_FILTERS: [(&str, &str); 5] = [
    ("operatingSystem", "Linux"),
    ("tenancy", "Shared"),
    ("preInstalledSw", "NA"),
    ("capacitystatus", "Used"),
    ("licenseModel", "No License required"),
];
/// How often a throttled or failing spot price request is tried again, and after how long.
const SPOT_RETRIES: [Duration; 2] = [Duration::from_millis(500), Duration::from_secs(1)];

/// The price sources, built once at cold start.
#[derive(Debug, Clone)]
pub struct Prices {
    pricing: aws_sdk_pricing::Client,
    http: reqwest::Client,
    credentials: Option<SharedCredentialsProvider>,
    /// `AWS_ENDPOINT_URL`, where the SDK's clients go too (an emulator); `None`: EC2's own.
    ec2_endpoint: Option<String>,
    user_agent: String,
    overrides: BTreeMap<(String, Market), f64>,
}

impl Prices {
    /// `pricing_endpoint` (`PRICING_ENDPOINT_URL`) sends the Price List API's requests elsewhere (a test's server).
    pub fn new(
        aws: &shared::aws::Aws,
        overrides: BTreeMap<(String, Market), f64>,
        pricing_endpoint: Option<&str>,
    ) -> Self {
        let sdk = aws.sdk_config();
        let own_region = sdk.region().map(|r| r.to_string()).unwrap_or_default();
        let region =
            if PRICING_REGIONS.contains(&own_region.as_str()) { own_region } else { PRICING_REGIONS[0].into() };
        let pricing = shared::aws_client!(aws_sdk_pricing, aws, |builder: aws_sdk_pricing::config::Builder| {
            // Bounded, as the spot request is: a price is worth a few seconds, never the run's
            // deadline (an endpoint that accepts and never answers would otherwise hold it).
            let timeouts = aws_sdk_pricing::config::timeout::TimeoutConfig::builder()
                .operation_attempt_timeout(Duration::from_secs(10))
                .operation_timeout(Duration::from_secs(25))
                .build();
            let builder = builder.region(aws_sdk_pricing::config::Region::new(region.clone())).timeout_config(timeouts);
            match pricing_endpoint {
                Some(url) => builder.endpoint_url(url),
                None => builder,
            }
        });
        Self {
            pricing,
            http: reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap_or_default(),
            credentials: sdk.credentials_provider(),
            ec2_endpoint: sdk.endpoint_url().map(str::to_owned),
            user_agent: format!("app/eks-scheduler eks-scheduler/{}", env!("CARGO_PKG_VERSION")),
            overrides,
        }
    }

    /// A run's prices: each (region, type, market) asked once.
    pub fn for_run(&self) -> RunPrices<'_> {
        RunPrices { prices: self, quotes: Mutex::new(BTreeMap::new()) }
    }

    async fn on_demand(&self, region: &str, instance_type: &str) -> Result<f64, String> {
        let filter = |field: &str, value: &str| {
            Filter::builder().r#type(FilterType::TermMatch).field(field).value(value).build().map_err(|e| e.to_string())
        };
        let mut filters = vec![filter("instanceType", instance_type)?, filter("regionCode", region)?];
        for (field, value) in PRODUCT_FILTERS {
            filters.push(filter(field, value)?);
        }
        let output = self
            .pricing
            .get_products()
            .service_code("AmazonEC2")
            .set_filters(Some(filters))
            .format_version("aws_v1")
            .max_results(10)
            .send()
            .await
            .map_err(|err| format!("pricing:GetProducts failed: {}", describe(&err)))?;
        core::on_demand_price(output.price_list(), instance_type)
    }

    async fn spot(&self, region: &str, instance_type: &str) -> Result<f64, String> {
        let body = format!(
            "Action=DescribeSpotPriceHistory&Version=2016-11-15&InstanceType.1={instance_type}\
             &ProductDescription.1=Linux%2FUNIX&StartTime={}",
            jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ")
        );
        let mut attempt = 0;
        loop {
            // Its own span: the SDK's calls are traced by the SDK, this one is not.
            let span = tracing::info_span!("EC2 DescribeSpotPriceHistory", instance_type);
            match self.spot_request(region, &body).instrument(span).await {
                Ok(xml) => {
                    let prices = spot_prices(&xml)?;
                    return core::mean_spot_price(&prices)
                        .ok_or_else(|| format!("EC2 has no spot price for {instance_type} in {region}"));
                }
                Err((retry, why)) if retry && attempt < SPOT_RETRIES.len() => {
                    tokio::time::sleep(SPOT_RETRIES[attempt]).await;
                    attempt += 1;
                    let _ = why;
                }
                Err((_, why)) => return Err(format!("ec2:DescribeSpotPriceHistory failed: {why}")),
            }
        }
    }

    /// One signed request; `Err((worth retrying, why))`.
    async fn spot_request(&self, region: &str, body: &str) -> Result<String, (bool, String)> {
        let url = self.ec2_endpoint.clone().unwrap_or_else(|| format!("https://ec2.{region}.amazonaws.com/"));
        let provider = self.credentials.as_ref().ok_or((false, "the function has no AWS credentials".to_owned()))?;
        let credentials = provider.provide_credentials().await.map_err(|err| (true, err.to_string()))?;
        let identity: Identity = credentials.into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(region)
            .name("ec2")
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .map_err(|err| (false, err.to_string()))?
            .into();
        let headers = [("content-type", "application/x-www-form-urlencoded; charset=utf-8")];
        let signable = SignableRequest::new("POST", &url, headers.into_iter(), SignableBody::Bytes(body.as_bytes()))
            .map_err(|err| (false, err.to_string()))?;
        let (instructions, _) = sign(signable, &params).map_err(|err| (false, err.to_string()))?.into_parts();
        let mut request = http::Request::builder()
            .method("POST")
            .uri(&url)
            .header("content-type", headers[0].1)
            .header("user-agent", &self.user_agent)
            .body(body.to_owned())
            .map_err(|err| (false, err.to_string()))?;
        instructions.apply_to_request_http1x(&mut request);
        let request = reqwest::Request::try_from(request).map_err(|err| (false, err.to_string()))?;
        let response = self.http.execute(request).await.map_err(|err| (true, err.to_string()))?;
        let status = response.status();
        let text = response.text().await.map_err(|err| (true, err.to_string()))?;
        if status.is_success() {
            return Ok(text);
        }
        let code = element_texts(&text, "Code").into_iter().next().unwrap_or_default();
        let message = element_texts(&text, "Message").into_iter().next().unwrap_or_default();
        let retry = status.is_server_error()
            || status.as_u16() == 429
            || code.contains("Throttl")
            || code == "RequestLimitExceeded";
        Err((retry, format!("HTTP {status} {code}: {message}")))
    }
}

/// The `spotPrice` of each zone in a `DescribeSpotPriceHistory` answer.
fn spot_prices(xml: &str) -> Result<Vec<f64>, String> {
    element_texts(xml, "spotPrice")
        .iter()
        .map(|text| text.trim().parse::<f64>().map_err(|_| format!("a spot price that is not a number: {text:?}")))
        .collect()
}

/// The text of every element named `name` in an XML document.
fn element_texts(xml: &str, name: &str) -> Vec<String> {
    let mut document = aws_smithy_xml::decode::Document::new(xml);
    let mut texts = Vec::new();
    while let Some(element) = document.next_start_element() {
        if element.local() == name {
            let mut scoped = document.scoped_to(element);
            if let Ok(text) = aws_smithy_xml::decode::try_data(&mut scoped) {
                texts.push(text.into_owned());
            }
        }
    }
    texts
}

/// One run's prices, each asked once.
#[derive(Debug)]
pub struct RunPrices<'a> {
    prices: &'a Prices,
    quotes: Mutex<BTreeMap<(String, String, Market), Quote>>,
}

impl RunPrices<'_> {
    /// An instance type's hourly price in `region`: the override if there is one, else the
    /// API's; "unknown" (with why) when neither can be had.
    pub async fn quote(&self, region: &str, instance_type: &str, market: Market) -> Quote {
        if let Some(usd) = self.prices.overrides.get(&(instance_type.to_owned(), market)) {
            return Ok((*usd, PriceBasis::Override));
        }
        if instance_type == core::UNKNOWN_TYPE {
            return Err(
                "the instance type is not known (a NodeClaim not launched yet, or a launch template EKS does not describe)"
                    .to_owned(),
            );
        }
        let key = (region.to_owned(), instance_type.to_owned(), market);
        if let Some(quote) = self.quotes.lock().await.get(&key) {
            return quote.clone();
        }
        let quote = match market {
            Market::OnDemand => {
                self.prices.on_demand(region, instance_type).await.map(|usd| (usd, PriceBasis::ListPrice))
            }
            Market::Spot => self.prices.spot(region, instance_type).await.map(|usd| (usd, PriceBasis::SpotPrice)),
        };
        self.quotes.lock().await.insert(key, quote.clone());
        quote
    }

    /// A stop record's machines priced in its region.
    pub async fn price(&self, record: &StopRecord) -> Priced {
        let mut quotes: BTreeMap<(String, Market), Quote> = BTreeMap::new();
        for machine in record.pieces.iter().flat_map(|p| &p.machines) {
            let key = (machine.instance_type.clone(), machine.market);
            if let std::collections::btree_map::Entry::Vacant(entry) = quotes.entry(key) {
                entry.insert(self.quote(&record.region, &machine.instance_type, machine.market).await);
            }
        }
        core::price_record(record, &|instance_type, market| {
            quotes.get(&(instance_type.to_owned(), market)).cloned().unwrap_or_else(|| Err("not asked".to_owned()))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spot_prices_are_read_from_ec2s_answer() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<DescribeSpotPriceHistoryResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
    <requestId>59dbff89-35bd-4eac-99ed-be587EXAMPLE</requestId>
    <spotPriceHistorySet>
        <item><instanceType>m5.large</instanceType><productDescription>Linux/UNIX</productDescription>
            <spotPrice>0.038300</spotPrice><timestamp>2026-12-05T20:00:00.000Z</timestamp><availabilityZone>eu-west-1a</availabilityZone></item>
        <item><instanceType>m5.large</instanceType><productDescription>Linux/UNIX</productDescription>
            <spotPrice>0.041700</spotPrice><timestamp>2026-12-05T20:00:00.000Z</timestamp><availabilityZone>eu-west-1b</availabilityZone></item>
    </spotPriceHistorySet>
    <nextToken/>
</DescribeSpotPriceHistoryResponse>"#;
        assert_eq!(spot_prices(xml).unwrap(), vec![0.0383, 0.0417]);
        let error = "<Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>Request limit exceeded.</Message></Error></Errors></Response>";
        assert_eq!(element_texts(error, "Code"), vec!["RequestLimitExceeded"]);
        assert!(spot_prices("<a><spotPrice>cheap</spotPrice></a>").unwrap_err().contains("cheap"));
    }
}
