//! The hub's token as clients that are not berth send it: a bearer token,
//! or the password of Basic credentials (what git's credential helpers and
//! MLflow's `MLFLOW_TRACKING_USERNAME`/`PASSWORD` send; the user name is
//! ignored, and a token given as the user name with no password is taken
//! too). Parsed here once for the Git LFS and MLflow routes.

use axum::extract::Request;
use axum::http::{HeaderMap, StatusCode, header};

use crate::Hub;
use crate::auth::Caller;
use crate::error::ApiError;

/// `req` with the service acting as its caller attached, from a bearer
/// token or Basic credentials; or why not, for the route's own error shape.
pub(crate) async fn attach_caller(hub: &Hub, mut req: Request) -> Result<Request, ApiError> {
    let caller = match credential(req.headers()) {
        Ok(secret) => hub.caller_with(Ok(&secret)).await,
        Err(e) => hub.caller_with(Err(e)).await,
    }?;
    req.extensions_mut().insert(Caller(caller));
    Ok(req)
}

fn unauthenticated(message: &str) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "unauthenticated", message, None)
}

/// The secret of the one `Authorization` header: `Bearer <token>` or
/// `Basic base64(user:token)`.
pub(crate) fn credential(headers: &HeaderMap) -> Result<String, ApiError> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return Err(unauthenticated("the request carries no credentials (or more than one Authorization header)"));
    };
    let value = value.to_str().map_err(|_| unauthenticated("the Authorization header is not text"))?;
    let value = value.trim();
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    let rest = rest.trim();
    let secret = if scheme.eq_ignore_ascii_case("bearer") {
        rest.to_string()
    } else if scheme.eq_ignore_ascii_case("basic") {
        basic_secret(rest)?
    } else {
        return Err(unauthenticated("the Authorization header is neither `Bearer <token>` nor `Basic <credentials>`"));
    };
    if secret.is_empty() {
        return Err(unauthenticated("the Authorization header carries an empty token"));
    }
    Ok(secret)
}

/// The token in Basic credentials: the password, or the user name when
/// the password is empty.
fn basic_secret(encoded: &str) -> Result<String, ApiError> {
    let bytes = base64_decode(encoded)
        .ok_or_else(|| unauthenticated("the Basic credentials are not base64 (RFC 4648, standard alphabet)"))?;
    let text = String::from_utf8(bytes).map_err(|_| unauthenticated("the Basic credentials are not UTF-8 text"))?;
    let (user, password) = text
        .split_once(':')
        .ok_or_else(|| unauthenticated("the Basic credentials are not `user:password` (no colon)"))?;
    Ok(if password.is_empty() { user } else { password }.trim().to_string())
}

/// Decodes standard base64, padded or not; `None` for anything else.
fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let s = s.strip_suffix("==").or_else(|| s.strip_suffix('=')).unwrap_or(s);
    if s.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn with(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(header::AUTHORIZATION, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn base64_is_decoded_padded_or_not() {
        assert_eq!(base64_decode("dXNlcjpwYXNz").unwrap(), b"user:pass");
        assert_eq!(base64_decode("YQ==").unwrap(), b"a");
        assert_eq!(base64_decode("YQ").unwrap(), b"a");
        assert_eq!(base64_decode("YWI=").unwrap(), b"ab");
        assert_eq!(base64_decode("").unwrap(), b"");
        assert_eq!(base64_decode("+/+/").unwrap(), [0xfb, 0xff, 0xbf]);
        assert!(base64_decode("a").is_none());
        assert!(base64_decode("ab!c").is_none());
        assert!(base64_decode("YQ===").is_none());
    }

    #[test]
    fn bearer_and_basic_credentials_give_the_token() {
        assert_eq!(credential(&with(&["Bearer berth_abc"])).unwrap(), "berth_abc");
        assert_eq!(credential(&with(&["bearer  berth_abc "])).unwrap(), "berth_abc");
        // "git:berth_abc" and "berth_abc:" as git's credential helpers send them.
        assert_eq!(credential(&with(&["Basic Z2l0OmJlcnRoX2FiYw=="])).unwrap(), "berth_abc");
        assert_eq!(credential(&with(&["Basic YmVydGhfYWJjOg=="])).unwrap(), "berth_abc");
    }

    #[test]
    fn anything_else_is_refused_with_what_was_wrong() {
        let cases: &[(&[&str], &str)] = &[
            (&[], "no credentials"),
            (&["Bearer a", "Bearer b"], "more than one"),
            (&["Token x"], "neither"),
            (&["Bearer "], "empty token"),
            (&["Basic !!!"], "not base64"),
            (&["Basic dXNlcg=="], "no colon"),
            (&["Basic Og=="], "empty token"),
        ];
        for (values, why) in cases {
            let e = credential(&with(values)).unwrap_err();
            assert_eq!(e.status, StatusCode::UNAUTHORIZED);
            assert!(e.message.contains(why), "{values:?}: {}", e.message);
        }
    }
}
