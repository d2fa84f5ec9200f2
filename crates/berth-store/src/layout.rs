use berth_core::Digest;

/// The key of a blob relative to the store root: `blobs/sha256/<2 hex>/<62 hex>`.
/// Fanning out on the first byte keeps directories small.
pub fn blob_key(d: &Digest) -> String {
    let hex = d.hex();
    format!("blobs/sha256/{}/{}", &hex[..2], &hex[2..])
}

/// The inverse of [`blob_key`] for the last two components.
pub(crate) fn digest_from_parts(dir: &str, rest: &str) -> Option<Digest> {
    if dir.len() != 2 || rest.len() != 62 {
        return None;
    }
    Digest::parse(&format!("sha256:{dir}{rest}")).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blob_keys_fan_out_on_the_first_byte() {
        let d = Digest::of(b"");
        assert_eq!(blob_key(&d), "blobs/sha256/e3/b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        let k = blob_key(&d);
        let parts: Vec<&str> = k.split('/').collect();
        assert_eq!(digest_from_parts(parts[2], parts[3]), Some(d));
    }
}
