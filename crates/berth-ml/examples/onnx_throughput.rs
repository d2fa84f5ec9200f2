//! Times batch scoring of an ONNX model on a raw little-endian f32 matrix:
//! `onnx_throughput MODEL.onnx MATRIX.f32 FEATURES`. Prints one JSON line
//! with the load and the scoring time. Used by bench/onnx_predict.sh.

use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, model, matrix, features] = &args[..] else {
        eprintln!("usage: onnx_throughput MODEL.onnx MATRIX.f32 FEATURES");
        std::process::exit(2);
    };
    let features: usize = features.parse().expect("FEATURES is a number");
    let bytes = std::fs::read(matrix).expect("read the matrix");
    let data: Vec<f32> = bytes.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect();
    let rows = data.len() / features;
    let t = Instant::now();
    let model = berth_ml::OnnxModel::from_bytes(&std::fs::read(model).expect("read the model")).expect("load");
    let load = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let p = model.run(data, rows).expect("score");
    let score = t.elapsed().as_secs_f64();
    let n = p.values.as_ref().map(Vec::len).or(p.labels.as_ref().map(Vec::len)).unwrap_or(0);
    println!("{{\"rows\": {n}, \"load_s\": {load}, \"score_s\": {score}}}");
}
