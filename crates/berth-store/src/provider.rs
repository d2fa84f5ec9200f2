//! What an object store said, as a person would read it: S3-compatible
//! servers answer errors with an XML document, which `object_store` passes
//! on whole; berth shows the provider's code and message instead.

/// The provider's error, parsed from an `object_store` error's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderError {
    /// e.g. `NoSuchBucket`, `AccessDenied`.
    pub code: String,
    pub message: String,
    /// e.g. `404 Not Found`.
    pub status: Option<String>,
    /// e.g. `PUT`.
    pub method: Option<String>,
}

fn between<'a>(s: &'a str, open: &str, close: &str) -> Option<&'a str> {
    let start = s.find(open)? + open.len();
    let len = s[start..].find(close)?;
    Some(s[start..start + len].trim())
}

impl ProviderError {
    /// Finds the provider's `<Code>` and `<Message>` in an error's text.
    pub fn parse(text: &str) -> Option<ProviderError> {
        let code = between(text, "<Code>", "</Code>")?.to_string();
        let message = between(text, "<Message>", "</Message>").unwrap_or("").to_string();
        let head = &text[..text.find('<').unwrap_or(text.len())];
        let status = between(head, "status code: ", ":").map(str::to_string);
        let method = between(head, "Error performing ", " ").map(str::to_string);
        Some(ProviderError { code, message, status, method })
    }

    /// What to do about the commonest codes.
    pub fn hint(&self, location: &str) -> Option<String> {
        let bucket = location.strip_prefix("s3://").and_then(|r| r.split('/').next()).unwrap_or(location);
        match self.code.as_str() {
            "NoSuchBucket" => Some(format!(
                "create the bucket {bucket:?} first, or point store.url (BERTH_STORE_URL) at one that exists"
            )),
            "AccessDenied" | "InvalidAccessKeyId" | "SignatureDoesNotMatch" | "ExpiredToken" | "InvalidToken" => {
                Some(format!(
                    "the credentials were refused for {location}: check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY \
                     (and AWS_SESSION_TOKEN) and the bucket's policy"
                ))
            }
            "PermanentRedirect" | "AuthorizationHeaderMalformed" | "IllegalLocationConstraintException" => {
                Some("the bucket is in another region: set AWS_REGION to the bucket's region".into())
            }
            _ => None,
        }
    }
}

impl std::fmt::Display for ProviderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.code)?;
        if !self.message.is_empty() {
            write!(f, ": {}", self.message)?;
        }
        match (&self.status, &self.method) {
            (Some(s), Some(m)) => write!(f, " (HTTP {s} on {m})"),
            (Some(s), None) => write!(f, " (HTTP {s})"),
            _ => Ok(()),
        }
    }
}

/// An object store error's text with any provider XML replaced by its code
/// and message.
pub fn describe(e: &object_store::Error) -> String {
    let text = e.to_string();
    match ProviderError::parse(&text) {
        Some(p) => p.to_string(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAID: &str = "Object at location models/blobs/sha256/98/ea not found: Error performing PUT \
        http://127.0.0.1:5599/nosuchbucket/models/blobs/sha256/98/ea in 4.398734ms - Server returned non-2xx \
        status code: 404 Not Found: <?xml version=\"1.0\" encoding=\"utf-8\"?>\n<Error><Code>NoSuchBucket</Code>\
        <Message>The specified bucket does not exist</Message><BucketName>nosuchbucket</BucketName>\
        <RequestId>4RBH</RequestId></Error>";

    #[test]
    fn the_providers_code_and_message_replace_its_xml() {
        let p = ProviderError::parse(SAID).unwrap();
        assert_eq!(p.to_string(), "NoSuchBucket: The specified bucket does not exist (HTTP 404 Not Found on PUT)");
        assert!(p.hint("s3://nosuchbucket/models").unwrap().contains("create the bucket \"nosuchbucket\""));
        assert_eq!(ProviderError::parse("connection refused"), None);
    }
}
