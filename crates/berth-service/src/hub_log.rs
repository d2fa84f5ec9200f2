//! Prediction-log segments through a hub: `PUT` of a segment's bytes under
//! its name, the listing, and `GET` of one, checked here against the digest
//! the listing gave before anyone reads it.

use berth_core::{Digest, ModelName};
use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Full};

use crate::hub_client::{HubClient, refusal, url_escape};
use crate::hub_transfer::{answer_json, unreadable};
use crate::log_store::MAX_SEGMENT_BYTES;
use crate::{LogSegment, LogSegmentPut, Result, ServiceError};

fn path(model: &ModelName, name: &str) -> String {
    format!("/api/v1/models/{model}/log-segments/{}", url_escape(name))
}

pub(crate) async fn put(hub: &HubClient, model: &ModelName, name: &str, bytes: Vec<u8>) -> Result<LogSegmentPut> {
    let path = path(model, name);
    let headers = [("content-type", "application/vnd.apache.parquet".to_string())];
    let resp = hub.endpoint.send_streaming("PUT", &path, &headers, Full::new(Bytes::from(bytes))).await?;
    let status = resp.status().as_u16();
    let answer = answer_json(resp, &hub.url, &path).await?;
    if status >= 400 {
        return Err(refusal(status, &answer, &hub.url));
    }
    serde_json::from_value(answer).map_err(|e| unreadable(&hub.url, &path, e))
}

pub(crate) async fn get(hub: &HubClient, s: &LogSegment) -> Result<Vec<u8>> {
    let path = path(&s.model, &s.name);
    let resp = hub.endpoint.send_streaming("GET", &path, &[], Empty::<Bytes>::new()).await?;
    let status = resp.status().as_u16();
    if status != 200 {
        let answer = answer_json(resp, &hub.url, &path).await?;
        return Err(refusal(status, &answer, &hub.url));
    }
    let limited = http_body_util::Limited::new(resp.into_body(), MAX_SEGMENT_BYTES as usize);
    let bytes = limited
        .collect()
        .await
        .map_err(|e| ServiceError::Infra {
            message: format!("{}{path}: the segment broke off: {e}", hub.url),
            hint: Some("run the same command again".into()),
        })?
        .to_bytes();
    let got = Digest::of(&bytes);
    if got != s.digest {
        return Err(ServiceError::Corrupt {
            message: format!("{}{path} sent bytes that hash to {got}; the segment is {}", hub.url, s.digest),
            hint: Some("ask the hub's operator to run `berth fsck` where the registry is".into()),
        });
    }
    Ok(Vec::from(bytes))
}
