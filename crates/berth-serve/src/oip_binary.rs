//! The binary tensor data extension of the Open Inference Protocol, as
//! Triton defines it: a body that is a JSON header of
//! `Inference-Header-Content-Length` bytes followed by raw tensor data.
//!
//! Each binary input says its size in `"parameters": {"binary_data_size":
//! K}`, and the inputs' bytes follow the JSON in the order the inputs are
//! listed. Values are little-endian, row-major, in the datatype's own size
//! (BOOL one byte, 0 or 1); a BYTES element is a 4-byte little-endian
//! length and that many bytes. An answer carries an output as binary data
//! when the request asks (`"binary_data": true` on the output, or
//! `"binary_data_output": true` for every output not saying otherwise);
//! its JSON then gives the output's `binary_data_size`, and the answer's
//! `Inference-Header-Content-Length` the length of the JSON.
//!
//! Sizes are checked before anything is read: a header longer than the
//! body, sizes that do not add up to the bytes sent, or a size that does
//! not fit the shape are refused (400), naming the input and the numbers.

use axum::http::HeaderMap;
use serde_json::Value;

use crate::input::Tensor;
use crate::oip::{Data, Output};
use crate::refusal::Refusal;

/// The header giving the length of the JSON part of a body.
pub const HEADER_LENGTH: &str = "inference-header-content-length";

/// Splits a body into its JSON header and its binary data (`None` when the
/// request has no `Inference-Header-Content-Length`).
pub fn split<'a>(headers: &HeaderMap, body: &'a [u8]) -> Result<(&'a [u8], Option<&'a [u8]>), Refusal> {
    let Some(value) = headers.get(HEADER_LENGTH) else { return Ok((body, None)) };
    let shown = String::from_utf8_lossy(value.as_bytes()).into_owned();
    let Ok(n) = shown.trim().parse::<usize>() else {
        return Err(Refusal::malformed(format!(
            "Inference-Header-Content-Length is {shown:?}; it must be the length in bytes of the JSON that starts \
             the body"
        )));
    };
    if n > body.len() {
        return Err(Refusal::malformed(format!(
            "Inference-Header-Content-Length is {n} but the body is {} bytes; it must be the length of the JSON \
             that starts the body",
            body.len()
        )));
    }
    Ok((&body[..n], Some(&body[n..])))
}

/// The `binary_data_size` an input declares, if any.
fn declared_size(t: &Tensor) -> Result<Option<usize>, Refusal> {
    let Some(v) = t.parameters.as_ref().and_then(|p| p.get("binary_data_size")) else { return Ok(None) };
    match v.as_u64().and_then(|n| usize::try_from(n).ok()) {
        Some(n) => Ok(Some(n)),
        None => Err(Refusal::malformed(format!(
            "input {:?} has binary_data_size {v}; it must be the number of bytes of its binary data",
            t.name
        ))),
    }
}

/// Fills in the data of every input that came as binary data, in order;
/// refuses sizes that do not add up and inputs with no data at all.
pub fn attach(inputs: &mut [Tensor], binary: Option<&[u8]>) -> Result<(), Refusal> {
    let mut offset = 0usize;
    for t in inputs.iter_mut() {
        let Some(size) = declared_size(t)? else {
            if t.data.is_null() {
                return Err(Refusal::malformed(format!(
                    "input {:?} has no \"data\" and no binary_data_size; send its values in \"data\", or as binary \
                     data after the JSON with binary_data_size and Inference-Header-Content-Length",
                    t.name
                )));
            }
            continue;
        };
        let Some(bytes) = binary else {
            return Err(Refusal::malformed(format!(
                "input {:?} has binary_data_size {size} but the request has no Inference-Header-Content-Length \
                 header; send it with the length of the JSON that starts the body",
                t.name
            )));
        };
        if !t.data.is_null() {
            return Err(Refusal::malformed(format!(
                "input {:?} has both \"data\" and binary_data_size {size}; send its values one way",
                t.name
            )));
        }
        let end = offset.checked_add(size).filter(|e| *e <= bytes.len()).ok_or_else(|| {
            Refusal::malformed(format!(
                "input {:?} has binary_data_size {size} from byte {offset} of the binary data, which is {} bytes; \
                 the sizes must add up to the bytes after the JSON",
                t.name,
                bytes.len()
            ))
        })?;
        t.data = decode(t, &bytes[offset..end])?;
        offset = end;
    }
    let sent = binary.map(<[u8]>::len).unwrap_or(0);
    if offset != sent {
        return Err(Refusal::malformed(format!(
            "{sent} bytes follow the JSON but the inputs' binary_data_size add up to {offset}; the sizes must add \
             up to the bytes after the JSON"
        )));
    }
    Ok(())
}

/// The size in bytes of one element of a fixed-size datatype.
fn element_size(datatype: &str) -> Option<usize> {
    Some(match datatype {
        "BOOL" | "UINT8" | "INT8" => 1,
        "UINT16" | "INT16" | "FP16" => 2,
        "UINT32" | "INT32" | "FP32" => 4,
        "UINT64" | "INT64" | "FP64" => 8,
        _ => return None,
    })
}

/// The number of elements a shape holds, if every dimension is a size.
fn elements(shape: &[i64]) -> Option<usize> {
    shape.iter().try_fold(1usize, |acc, d| usize::try_from(*d).ok().and_then(|d| acc.checked_mul(d)))
}

/// An IEEE half-precision value as a double.
fn f16_to_f64(bits: u16) -> f64 {
    let sign = if bits & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exponent = i32::from((bits >> 10) & 0x1f);
    let fraction = f64::from(bits & 0x3ff);
    match exponent {
        0 => sign * fraction * 2f64.powi(-24),
        31 if fraction == 0.0 => sign * f64::INFINITY,
        31 => f64::NAN,
        e => sign * (1.0 + fraction / 1024.0) * 2f64.powi(e - 15),
    }
}

/// One input's binary data as JSON values (a number that is not finite
/// becomes null, refused later as not a number).
fn decode(t: &Tensor, bytes: &[u8]) -> Result<Value, Refusal> {
    let Some(count) = elements(&t.shape) else {
        return Err(Refusal::malformed(format!(
            "input {:?} has shape {:?}; a request's dimensions must be zero or more and fit in memory",
            t.name, t.shape
        )));
    };
    if t.datatype == "BYTES" {
        return decode_bytes(t, bytes, count);
    }
    let Some(size) = element_size(&t.datatype) else {
        return Err(Refusal::malformed(format!(
            "input {:?} has datatype {:?}; the protocol's datatypes are {}",
            t.name,
            t.datatype,
            crate::input::DATATYPES.join(", ")
        )));
    };
    let want = count.checked_mul(size);
    if want != Some(bytes.len()) {
        return Err(Refusal::malformed(format!(
            "input {:?} has shape {:?}: {count} values of {} ({} bytes), but binary_data_size is {}",
            t.name,
            t.shape,
            t.datatype,
            want.map(|w| w.to_string()).unwrap_or_else(|| "too many".into()),
            bytes.len()
        )));
    }
    let values = bytes.chunks_exact(size).map(|c| element(&t.datatype, c));
    Ok(Value::Array(values.collect()))
}

/// One little-endian element of a fixed-size datatype.
fn element(datatype: &str, c: &[u8]) -> Value {
    let b = |n: usize| -> [u8; 8] {
        let mut a = [0u8; 8];
        a[..n].copy_from_slice(&c[..n]);
        a
    };
    match datatype {
        "BOOL" => Value::Bool(c[0] != 0),
        "UINT8" => Value::from(c[0]),
        "INT8" => Value::from(c[0] as i8),
        "UINT16" => Value::from(u16::from_le_bytes([c[0], c[1]])),
        "INT16" => Value::from(i16::from_le_bytes([c[0], c[1]])),
        "FP16" => Value::from(f16_to_f64(u16::from_le_bytes([c[0], c[1]]))),
        "UINT32" => Value::from(u32::from_le_bytes([c[0], c[1], c[2], c[3]])),
        "INT32" => Value::from(i32::from_le_bytes([c[0], c[1], c[2], c[3]])),
        "FP32" => Value::from(f64::from(f32::from_le_bytes([c[0], c[1], c[2], c[3]]))),
        "UINT64" => Value::from(u64::from_le_bytes(b(8))),
        "INT64" => Value::from(i64::from_le_bytes(b(8))),
        _ => Value::from(f64::from_le_bytes(b(8))),
    }
}

/// BYTES: each element a 4-byte little-endian length and that many bytes
/// of UTF-8 text.
fn decode_bytes(t: &Tensor, bytes: &[u8], count: usize) -> Result<Value, Refusal> {
    let mut out = Vec::with_capacity(count.min(bytes.len() / 4));
    let mut rest = bytes;
    while !rest.is_empty() {
        let at = bytes.len() - rest.len();
        let (len, tail) = match rest.split_first_chunk::<4>() {
            Some((len, tail)) => (u32::from_le_bytes(*len) as usize, tail),
            None => {
                return Err(Refusal::malformed(format!(
                    "input {:?}: element {} at byte {at} has a {}-byte length prefix; each BYTES element starts \
                     with a 4-byte length",
                    t.name,
                    out.len(),
                    rest.len()
                )));
            }
        };
        if len > tail.len() {
            return Err(Refusal::malformed(format!(
                "input {:?}: element {} at byte {at} says {len} bytes but {} remain",
                t.name,
                out.len(),
                tail.len()
            )));
        }
        let text = std::str::from_utf8(&tail[..len])
            .map_err(|_| Refusal::malformed(format!("input {:?}: element {} is not UTF-8 text", t.name, out.len())))?;
        out.push(Value::from(text));
        rest = &tail[len..];
    }
    if out.len() != count {
        return Err(Refusal::malformed(format!(
            "input {:?} has shape {:?} ({count} values) but its binary data holds {} BYTES elements",
            t.name,
            t.shape,
            out.len()
        )));
    }
    Ok(Value::Array(out))
}

/// An output's values as binary data.
pub fn encode(data: &Data) -> Vec<u8> {
    match data {
        Data::F32(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        Data::F64(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        Data::I64(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        Data::Bytes(v) => {
            let mut out = Vec::with_capacity(v.iter().map(|s| s.len() + 4).sum());
            for s in v {
                out.extend_from_slice(&(s.len() as u32).to_le_bytes());
                out.extend_from_slice(s.as_bytes());
            }
            out
        }
    }
}

/// An answer's body: the JSON of `head` with `outputs` in it, each in JSON
/// or (where `binary` says) as binary data after the JSON; and the JSON's
/// length when any output is binary.
pub fn body(mut head: Value, outputs: &[(Output, bool)]) -> (Vec<u8>, Option<usize>) {
    let mut tail = Vec::new();
    let mut listed = Vec::with_capacity(outputs.len());
    for (o, binary) in outputs {
        if *binary {
            let bytes = encode(&o.data);
            listed.push(o.json(Some(bytes.len())));
            tail.extend_from_slice(&bytes);
        } else {
            listed.push(o.json(None));
        }
    }
    head["outputs"] = Value::Array(listed);
    let mut json = serde_json::to_vec(&head).unwrap_or_default();
    if !outputs.iter().any(|(_, b)| *b) {
        return (json, None);
    }
    let n = json.len();
    json.extend_from_slice(&tail);
    (json, Some(n))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn tensor(v: Value) -> Tensor {
        serde_json::from_value(v).unwrap()
    }

    fn binary(name: &str, shape: &[i64], datatype: &str, size: usize) -> Tensor {
        tensor(json!({"name": name, "shape": shape, "datatype": datatype, "parameters": {"binary_data_size": size}}))
    }

    #[test]
    fn inputs_take_their_bytes_in_order() {
        let mut bytes: Vec<u8> = [1.5f32, -2.0].iter().flat_map(|x| x.to_le_bytes()).collect();
        bytes.extend_from_slice(&7i64.to_le_bytes());
        bytes.extend_from_slice(&[2, 0, 0, 0, b'h', b'i', 0, 0, 0, 0]);
        let mut inputs =
            [binary("a", &[1, 2], "FP32", 8), binary("b", &[1], "INT64", 8), binary("c", &[2], "BYTES", 10)];
        attach(&mut inputs, Some(&bytes)).unwrap();
        assert_eq!(inputs[0].data, json!([1.5, -2.0]));
        assert_eq!(inputs[1].data, json!([7]));
        assert_eq!(inputs[2].data, json!(["hi", ""]));
    }

    #[test]
    fn sizes_that_do_not_add_up_are_refused_with_the_input_and_the_numbers() {
        let e = attach(&mut [binary("x", &[1, 4], "FP32", 12)], Some(&[0u8; 12])).unwrap_err();
        assert_eq!(e.status, axum::http::StatusCode::BAD_REQUEST);
        assert!(e.message.contains("\"x\" has shape [1, 4]: 4 values of FP32 (16 bytes), but binary_data_size is 12"));
        let e = attach(&mut [binary("x", &[1, 4], "FP32", 16)], Some(&[0u8; 12])).unwrap_err();
        assert!(e.message.contains("binary_data_size 16 from byte 0 of the binary data, which is 12 bytes"), "{e:?}");
        let e = attach(&mut [binary("x", &[1], "FP32", 4)], Some(&[0u8; 6])).unwrap_err();
        assert!(e.message.contains("6 bytes follow the JSON but the inputs' binary_data_size add up to 4"));
        let e = attach(&mut [binary("x", &[1], "FP32", 4)], None).unwrap_err();
        assert!(e.message.contains("no Inference-Header-Content-Length"));
        let e = attach(&mut [binary("s", &[2], "BYTES", 6)], Some(&[9, 0, 0, 0, b'a', b'b'])).unwrap_err();
        assert!(e.message.contains("\"s\": element 0 at byte 0 says 9 bytes but 2 remain"), "{e:?}");
        let e = attach(&mut [tensor(json!({"name": "x", "shape": [1], "datatype": "FP32"}))], None).unwrap_err();
        assert!(e.message.contains("\"x\" has no \"data\" and no binary_data_size"));
    }

    #[test]
    fn a_header_length_beyond_the_body_is_refused() {
        let mut h = HeaderMap::new();
        h.insert(HEADER_LENGTH, "10".parse().unwrap());
        let e = split(&h, b"{}").unwrap_err();
        assert!(e.message.contains("Inference-Header-Content-Length is 10 but the body is 2 bytes"));
        h.insert(HEADER_LENGTH, "x".parse().unwrap());
        assert!(split(&h, b"{}").unwrap_err().message.contains("is \"x\""));
        h.insert(HEADER_LENGTH, "2".parse().unwrap());
        assert_eq!(split(&h, b"{}abc").unwrap(), (&b"{}"[..], Some(&b"abc"[..])));
    }

    #[test]
    fn half_floats_are_read() {
        assert_eq!(f16_to_f64(0x3c00), 1.0);
        assert_eq!(f16_to_f64(0xc000), -2.0);
        assert_eq!(f16_to_f64(0x0001), 2f64.powi(-24));
        assert!(f16_to_f64(0x7e00).is_nan());
    }

    #[test]
    fn bytes_outputs_are_length_prefixed() {
        assert_eq!(encode(&Data::Bytes(vec!["ab".into(), "".into()])), vec![2, 0, 0, 0, b'a', b'b', 0, 0, 0, 0]);
        assert_eq!(encode(&Data::I64(vec![1])), 1i64.to_le_bytes().to_vec());
    }
}
